package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/netblame/netblame/flowtable"
)

// Data is everything a report shows, as embedded in the page (JSON). It is
// what the golden tests pin.
type Data struct {
	Version int `json:"version"`
	// Mode is "capture" (one file) or "two_point".
	Mode  string   `json:"mode"`
	Width int      `json:"width"`
	Files []string `json:"files"`
	// T0 is the time every x value counts from: the (client-side)
	// capture's first packet, in seconds since the epoch, as a decimal
	// string that loses nothing.
	T0     string `json:"t0"`
	Totals Totals `json:"totals"`
	Blame  *Blame `json:"blame,omitempty"`
	// Flows is the flow table, most troubled first; MoreFlows counts the
	// flows left out of it (Options.MaxRows).
	Flows     []Row `json:"flows"`
	MoreFlows int   `json:"more_flows,omitempty"`
	// Sections: one per plotted flow, most troubled first.
	Sections []Section `json:"sections"`
	// ShedFlows counts flows whose series were dropped to keep within
	// Options.Budget (none of them could be plotted).
	ShedFlows int `json:"shed_flows,omitempty"`
	// Kinds describes every marker kind: its label and colour.
	Kinds map[string]Kind `json:"kinds"`

	t0 int64
}

// Kind is how a marker kind is shown.
type Kind struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

// Totals are the capture's totals. Events counts packets as `analyze
// --stats` does (retransmission includes fast and spurious ones).
type Totals struct {
	Packets     uint64            `json:"packets"`
	TCPFlows    uint64            `json:"tcp_flows"`
	UDPFlows    uint64            `json:"udp_flows"`
	DurationS   float64           `json:"duration_s"`
	Events      map[string]uint64 `json:"events"`
	SACKPackets uint64            `json:"sack_packets"`
}

// Row is one flow of the report's flow table.
type Row struct {
	Index     uint64    `json:"index"`
	Proto     string    `json:"proto"`
	Client    string    `json:"client"`
	Server    string    `json:"server"`
	StartS    float64   `json:"start_s"`
	DurationS float64   `json:"duration_s"`
	Packets   [2]uint64 `json:"packets"` // client to server, server to client
	Bytes     [2]uint64 `json:"bytes"`
	RTTMs     float64   `json:"rtt_ms,omitempty"` // median
	Retrans   uint32    `json:"retransmissions"`
	OutOfOrd  uint32    `json:"out_of_order"`
	DupAck    uint32    `json:"duplicate_ack"`
	ZeroWin   uint32    `json:"zero_window"`
	Shrink    uint32    `json:"window_shrink"`
	ResetBy   string    `json:"reset_by,omitempty"`
	Trouble   int       `json:"trouble"`
	Section   string    `json:"section,omitempty"` // anchor of its section, when plotted
	Verdict   string    `json:"verdict,omitempty"` // two points
	Lost      *[2]int   `json:"lost_between,omitempty"`
	first     int64     // for matching with correlate
}

// Section is one flow's plots.
type Section struct {
	Index  uint64 `json:"index"`
	Anchor string `json:"anchor"`
	Title  string `json:"title"`
	// Verdict and Reason: two points, correlate's finding on the flow.
	Verdict string `json:"verdict,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Plots   []Plot `json:"plots"`
	// MoreEvents counts events beyond Options.MaxEvents, not marked.
	MoreEvents int `json:"more_events,omitempty"`
}

// Plot is one graph: series drawn as lines, steps, dots or segments, and
// markers that each name their frame.
type Plot struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"` // tseq, window, rtt, throughput, transit
	Title   string   `json:"title"`
	XLabel  string   `json:"x_label"`
	YLabel  string   `json:"y_label"`
	Series  []Series `json:"series"`
	Markers []Marker `json:"markers"`
}

// Series is one reduced series. X is seconds since Data.T0; Y the value,
// or a segment's start with Y2 its end (Style "segments").
type Series struct {
	Name  string    `json:"name"`
	Style string    `json:"style"` // line, step, dots, segments
	Color string    `json:"color"`
	X     []float64 `json:"x"`
	Y     []float64 `json:"y"`
	Y2    []float64 `json:"y2,omitempty"`
}

// Marker is one marked point: an analysis event, a packet with SACK
// blocks, or a loss or retransmission correlate placed.
type Marker struct {
	X           float64 `json:"x"`
	Y           float64 `json:"y"`
	Kind        string  `json:"kind"`
	Frame       uint64  `json:"frame,omitempty"`
	ServerFrame uint64  `json:"server_frame,omitempty"`
	Dir         string  `json:"dir,omitempty"`
	Text        string  `json:"text"`
}

// markerKinds are the kinds a report can mark, with their labels and
// colours.
var markerKinds = map[string]Kind{
	"retransmission":          {"retransmission", "#d62728"},
	"fast_retransmission":     {"fast retransmission", "#ff7f0e"},
	"spurious_retransmission": {"spurious retransmission", "#bcbd22"},
	"out_of_order":            {"out of order", "#9467bd"},
	"lost_segment":            {"previous segment not captured", "#8c564b"},
	"ack_lost_segment":        {"ACKed unseen segment", "#c49c94"},
	"duplicate_ack":           {"duplicate ACK", "#e377c2"},
	"zero_window":             {"zero window", "#000000"},
	"zero_window_probe":       {"zero-window probe", "#7f7f7f"},
	"zero_window_probe_ack":   {"zero-window probe ACK", "#aaaaaa"},
	"window_full":             {"window full", "#17becf"},
	"window_update":           {"window update", "#9edae5"},
	"keep_alive":              {"keep-alive", "#c7c7c7"},
	"keep_alive_ack":          {"keep-alive ACK", "#dbdb8d"},
	"reused_ports":            {"ports reused", "#f7b6d2"},
	"window_shrink":           {"window shrink", "#1f77b4"},
	"syn_retransmission":      {"SYN retransmission", "#ff9896"},
	"reset":                   {"reset", "#e41a1c"},
	"sack":                    {"SACK blocks", "#2ca02c"},
	// Two points (correlate's evidence kinds).
	"lost_c2s":                        {"lost between the points (c2s)", "#d62728"},
	"lost_s2c":                        {"lost between the points (s2c)", "#d62728"},
	"lost_syn":                        {"SYN lost between the points", "#d62728"},
	"lost_synack":                     {"SYN-ACK lost between the points", "#d62728"},
	"capture_drop":                    {"capture drop", "#7f7f7f"},
	"loss_beyond_far_point":           {"lost beyond the far point", "#ff7f0e"},
	"lost_before_client_side":         {"lost before the client side", "#8c564b"},
	"retransmission_after_ack_loss":   {"retransmission after ACK loss", "#e377c2"},
	"premature_retransmission":        {"premature retransmission", "#bcbd22"},
	"reordered_between":               {"reordered between the points", "#9467bd"},
	"duplicated_between":              {"duplicated between the points", "#17becf"},
	"retransmission_after_reordering": {"retransmission after reordering", "#c5b0d5"},
	"zero_window_client":              {"zero window (client)", "#000000"},
	"zero_window_server":              {"zero window (server)", "#000000"},
	"server_think":                    {"server think time", "#1f77b4"},
	"slow_synack":                     {"slow SYN-ACK", "#1f77b4"},
	"reset_by_client":                 {"reset by the client", "#e41a1c"},
	"reset_by_server":                 {"reset by the server", "#e41a1c"},
}

// Series colours.
const (
	colorSeg    = "#1f77b4"
	colorAck    = "#2ca02c"
	colorEdge   = "#ff7f0e"
	colorSACK   = "#98df8a"
	colorClient = "#1f77b4"
	colorServer = "#d62728"
)

// ackSide reports whether an event is about the ACK a packet carries (its
// place is in the other direction's sequence space), not its data.
func ackSide(k flowtable.Event) bool {
	switch k {
	case flowtable.AckLostSegment, flowtable.DuplicateAck, flowtable.ZeroWindow, flowtable.ZeroWindowProbeAck,
		flowtable.WindowUpdate, flowtable.KeepAliveAck, flowtable.WindowShrink, sackKind:
		return true
	}
	return false
}

func kindName(k flowtable.Event) string {
	if k == sackKind {
		return "sack"
	}
	return k.String()
}

var dirNames = [2]string{"c2s", "s2c"}

// Data returns the report's data. Call it once, after the table was
// flushed (every flow handed to Flow).
func (c *Collector) Data(files ...string) *Data {
	d := &Data{Version: 1, Mode: "capture", Width: c.opt.Width, Files: append([]string{}, files...), t0: c.first,
		T0: decimalSeconds(c.first), Kinds: markerKinds, ShedFlows: c.shed, MoreFlows: c.moreRows,
		Flows: []Row{}, Sections: []Section{}}
	d.Totals = Totals{Packets: c.packets, TCPFlows: c.tcp, UDPFlows: c.udp, DurationS: round6(float64(c.last-c.first) / 1e9),
		Events: map[string]uint64{}, SACKPackets: c.sackPackets}
	for k, n := range c.events {
		e := flowtable.Event(k)
		if n == 0 {
			continue
		}
		d.Totals.Events[e.String()] += n
		if e == flowtable.FastRetransmission || e == flowtable.SpuriousRetransmission {
			d.Totals.Events[flowtable.Retransmission.String()] += n
		}
	}
	// Flows still live (the caller did not flush) cannot be plotted.
	var kept []*flowSeries
	for _, fs := range c.kept {
		if fs.done {
			kept = append(kept, fs)
		}
	}
	slices.SortStableFunc(kept, moreTroubled) // scores may have grown since chosen
	for _, fs := range kept {
		d.Sections = append(d.Sections, c.section(d, fs))
	}
	rows := slices.Clone(c.rows)
	slices.SortStableFunc(rows, func(a, b Row) int {
		if a.Trouble != b.Trouble {
			return b.Trouble - a.Trouble
		}
		if x, y := a.Bytes[0]+a.Bytes[1], b.Bytes[0]+b.Bytes[1]; x != y {
			if x > y {
				return -1
			}
			return 1
		}
		if a.Index < b.Index {
			return -1
		}
		return 1
	})
	if len(rows) > c.opt.MaxRows {
		d.MoreFlows += len(rows) - c.opt.MaxRows
		rows = rows[:c.opt.MaxRows]
	}
	for i := range rows {
		rows[i].StartS = round6(float64(rows[i].first-c.first) / 1e9)
		for _, s := range d.Sections {
			if s.Index == rows[i].Index {
				rows[i].Section = s.Anchor
			}
		}
	}
	d.Flows = append(d.Flows, rows...)
	return d
}

func (c *Collector) addRow(r *flowtable.FlowRecord) {
	row := Row{Index: r.Index, Proto: r.Proto.String(), Client: r.Client.String(), Server: r.Server.String(),
		DurationS: round6(r.Duration().Seconds()), Packets: r.Packets, Bytes: r.Bytes,
		Retrans:  r.FilterCount(flowtable.Retransmission),
		OutOfOrd: r.Events[flowtable.OutOfOrder], DupAck: r.Events[flowtable.DuplicateAck],
		ZeroWin: r.Events[flowtable.ZeroWindow], Shrink: r.Events[flowtable.WindowShrink],
		ResetBy: r.FirstResetBy.String(), Trouble: Trouble(r), first: r.First}
	if r.RTTSamples > 0 {
		row.RTTMs = round3(float64(r.RTTMedian) / 1e6)
	}
	c.rows = append(c.rows, row)
	if len(c.rows) >= 2*c.opt.MaxRows {
		// Keep the most troubled half: the rows left out are counted.
		slices.SortStableFunc(c.rows, func(a, b Row) int { return b.Trouble - a.Trouble })
		c.moreRows += len(c.rows) - c.opt.MaxRows
		c.rows = c.rows[:c.opt.MaxRows]
	}
}

// section builds the plots of one flow.
func (c *Collector) section(d *Data, fs *flowSeries) Section {
	r := &fs.rec
	s := Section{Index: fs.index, Anchor: fmt.Sprintf("flow-%d", fs.index),
		Title:      fmt.Sprintf("flow %d: %s → %s", fs.index, r.Client, r.Server),
		MoreEvents: fs.more}
	w := c.opt.Width
	t0, t1 := r.First, r.Last
	x := func(t int64) float64 { return round6(float64(t-d.t0) / 1e9) }
	reduce := func(s *series, runs bool) []Point {
		p := Reduce(s.points(), t0, t1, w)
		if runs {
			p = DropRuns(p)
		}
		return p
	}
	conv := func(name, style, color string, pts []Point, scale float64, round func(float64) float64) Series {
		out := Series{Name: name, Style: style, Color: color, X: make([]float64, len(pts)), Y: make([]float64, len(pts))}
		if style == "segments" {
			out.Y2 = make([]float64, len(pts))
		}
		for i, p := range pts {
			out.X[i], out.Y[i] = x(p.T), round(p.Lo*scale)
			if out.Y2 != nil {
				out.Y2[i] = round(p.Hi * scale)
			}
		}
		return out
	}
	ident := func(v float64) float64 { return v }
	who := [2]string{"client", "server"}

	// Time-sequence, one plot per direction that sent anything or has
	// marks.
	for dir := range 2 {
		o := 1 - dir
		var marks []Marker
		for _, e := range fs.events {
			data := !ackSide(e.kind) && int(e.dir) == dir
			acks := ackSide(e.kind) && int(e.dir) == o
			if !data && !acks {
				continue
			}
			y := float64(e.seq)
			if acks {
				y = float64(e.ack)
			}
			if e.kind == sackKind {
				y = float64(e.right)
			}
			marks = append(marks, Marker{X: x(e.ts), Y: y, Kind: kindName(e.kind), Frame: e.frame,
				Dir: dirNames[e.dir], Text: eventText(&e)})
		}
		if fs.seg[dir].n == 0 && len(marks) == 0 {
			continue
		}
		if marks == nil {
			marks = []Marker{}
		}
		p := Plot{ID: fmt.Sprintf("%s-tseq-%s", s.Anchor, dirNames[dir]), Kind: "tseq",
			Title:  fmt.Sprintf("time-sequence, %s to %s (%s → %s)", who[dir], who[o], endpoint(r, dir), endpoint(r, o)),
			XLabel: "time since capture start (s)", YLabel: "relative sequence number (bytes)", Markers: marks}
		p.Series = append(p.Series, conv("segments sent", "segments", colorSeg, reduce(&fs.seg[dir], false), 1, ident))
		if fs.ack[dir].n > 0 {
			p.Series = append(p.Series, conv("ACK from the "+who[o], "step", colorAck, reduce(&fs.ack[dir], true), 1, ident))
		}
		if fs.edge[dir].n > 0 {
			p.Series = append(p.Series, conv("receive window right edge ("+who[o]+")", "step", colorEdge, reduce(&fs.edge[dir], true), 1, ident))
		}
		if fs.sack[dir].n > 0 {
			p.Series = append(p.Series, conv("SACK blocks from the "+who[o], "segments", colorSACK, reduce(&fs.sack[dir], false), 1, ident))
		}
		s.Plots = append(s.Plots, p)
	}

	// Receive window each end advertised.
	{
		p := Plot{ID: s.Anchor + "-window", Kind: "window", Title: "receive window advertised (scaled)",
			XLabel: "time since capture start (s)", YLabel: "window (bytes)", Markers: []Marker{}}
		colors := [2]string{colorClient, colorServer}
		for dir := range 2 {
			if fs.win[dir].n == 0 {
				continue
			}
			name := "by the " + who[dir] + " (" + endpoint(r, dir) + ")"
			if fs.raw[dir] {
				name += ", unscaled: handshake not seen"
			}
			p.Series = append(p.Series, conv(name, "step", colors[dir], reduce(&fs.win[dir], true), 1, ident))
		}
		for _, e := range fs.events {
			if e.kind != flowtable.ZeroWindow && e.kind != flowtable.WindowShrink {
				continue
			}
			y := float64(e.win)
			if e.kind == flowtable.WindowShrink {
				y = float64(e.newW)
			}
			p.Markers = append(p.Markers, Marker{X: x(e.ts), Y: max(y, 0), Kind: kindName(e.kind), Frame: e.frame,
				Dir: dirNames[e.dir], Text: eventText(&e)})
		}
		if len(p.Series) > 0 {
			s.Plots = append(s.Plots, p)
		}
	}

	// RTT samples.
	{
		p := Plot{ID: s.Anchor + "-rtt", Kind: "rtt", Title: "round-trip time samples (data to the ACK covering it; never retransmitted data)",
			XLabel: "time since capture start (s)", YLabel: "RTT (ms)", Markers: []Marker{}}
		colors := [2]string{colorClient, colorServer}
		for dir := range 2 {
			if fs.rtt[dir].n == 0 {
				continue
			}
			p.Series = append(p.Series, conv("data from the "+who[dir], "dots", colors[dir], reduce(&fs.rtt[dir], false), 1, round3))
		}
		if len(p.Series) > 0 {
			s.Plots = append(s.Plots, p)
		}
	}

	// Throughput each way.
	{
		win := throughputWindow(t1 - t0)
		p := Plot{ID: s.Anchor + "-throughput", Kind: "throughput",
			Title:  fmt.Sprintf("throughput, payload bits/s over a sliding %v (retransmissions included)", win),
			XLabel: "time since capture start (s)", YLabel: "throughput (bit/s)", Markers: []Marker{}}
		colors := [2]string{colorClient, colorServer}
		for dir := range 2 {
			if fs.bytes[dir].n == 0 {
				continue
			}
			cum := reduce(&fs.bytes[dir], false)
			p.Series = append(p.Series, conv("from the "+who[dir], "line", colors[dir], throughput(cum, int64(win)), 1, math.Round))
		}
		if len(p.Series) > 0 {
			s.Plots = append(s.Plots, p)
		}
	}
	return s
}

// throughputWindow picks the sliding window for a flow lasting span ns: a
// fiftieth of it, rounded to 1, 2 or 5 times a power of ten, from 1 ms to
// 1 s.
func throughputWindow(span int64) time.Duration {
	target := time.Duration(span / 50)
	w := time.Millisecond
	for _, m := range []time.Duration{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000} {
		if c := m * time.Millisecond; c <= target {
			w = c
		}
	}
	return w
}

// throughput turns a cumulative byte count (its points in time order) into
// bits per second over the window win ending at each point.
func throughput(cum []Point, win int64) []Point {
	out := make([]Point, len(cum))
	j := -1 // last point at or before t - win
	for i, p := range cum {
		for j+1 < i && cum[j+1].T <= p.T-win {
			j++
		}
		before := 0.0
		if j >= 0 {
			before = cum[j].Hi
		}
		v := (p.Hi - before) * 8 / (float64(win) / 1e9)
		out[i] = Point{T: p.T, Lo: v, Hi: v}
	}
	return out
}

func endpoint(r *flowtable.FlowRecord, dir int) string {
	if dir == 0 {
		return r.Client.String()
	}
	return r.Server.String()
}

// eventText describes a marked event for its tooltip.
func eventText(e *event) string {
	switch {
	case e.kind == sackKind:
		return fmt.Sprintf("%d SACK block(s), highest right edge %d, ack %d", e.blocks, e.right, e.ack)
	case e.kind == flowtable.WindowShrink:
		return fmt.Sprintf("window shrink: %d → %d, ack %d", e.oldW, e.newW, e.ack)
	case e.kind == flowtable.ZeroWindow:
		return fmt.Sprintf("zero window, ack %d", e.ack)
	case ackSide(e.kind):
		return fmt.Sprintf("%s: ack %d, window %d", e.kind.InfoTag(), e.ack, e.win)
	}
	tag := e.kind.InfoTag()
	if tag == "" {
		tag = e.kind.String()
	}
	return fmt.Sprintf("%s: seq %d, len %d", tag, e.seq, e.len)
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }

// decimalSeconds writes ns as seconds with nine decimals.
func decimalSeconds(ns int64) string {
	neg := ns < 0
	if neg {
		ns = -ns
	}
	s := strconv.FormatInt(ns/1e9, 10) + "." + fmt.Sprintf("%09d", ns%1e9)
	if neg {
		s = "-" + s
	}
	return s
}
