package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/flowtable"
)

// Blame is the two-point part of a report: correlate's verdict, the clock
// relation and when each capture ran (seconds since Data.T0, in the client
// side's clock).
type Blame struct {
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	// ClockOffsetS is the server capture's clock minus the client side's;
	// ClockUncertaintyMs bounds its error (-1: nothing bounds it).
	ClockOffsetS       float64  `json:"clock_offset_s"`
	ClockUncertaintyMs float64  `json:"clock_uncertainty_ms"`
	ClockDriftPPM      float64  `json:"clock_drift_ppm"`
	ClockSource        string   `json:"clock_source"`
	ClientSide         Span     `json:"client_side"`
	ServerSide         Span     `json:"server_side"`
	Common             Span     `json:"common"`
	OnlyClientSide     int      `json:"only_client_side"`
	OnlyServerSide     int      `json:"only_server_side"`
	Warnings           []string `json:"warnings,omitempty"`
}

// Span is a stretch of time: a capture's first to last packet.
type Span struct {
	File  string  `json:"file,omitempty"`
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
}

// AddBlame adds a two-point correlation to a report built from the
// client-side capture's pass: the verdict, the clock, both capture
// windows (server is the server-side capture, for its first and last
// packet times), and for each connection correlate followed its verdict
// in the flow table and, in its section, the one-way transit delay each
// way (rep must come from correlate.Options.KeepTransit) with every piece
// of evidence marked (frames in both files).
func AddBlame(d *Data, rep *correlate.Report, server *correlate.Capture) {
	d.Mode = "two_point"
	x := func(t int64) float64 { return round6(float64(t-d.t0) / 1e9) }
	unc := -1.0
	if rep.ClockUncertainty >= 0 {
		unc = round3(float64(rep.ClockUncertainty) / 1e6)
	}
	b := &Blame{Verdict: string(rep.Verdict), Reason: rep.Reason,
		ClockOffsetS: round6(rep.ClockOffset.Seconds()), ClockUncertaintyMs: unc,
		ClockDriftPPM: math.Round(rep.ClockDriftPPM*10) / 10, ClockSource: rep.ClockSource,
		ClientSide:     Span{File: rep.ClientSide.File, FromS: 0, ToS: d.Totals.DurationS},
		Common:         Span{FromS: x(int64(rep.CommonWindow.Start)), ToS: x(int64(rep.CommonWindow.End))},
		OnlyClientSide: len(rep.OnlyClientSide), OnlyServerSide: len(rep.OnlyServerSide),
		Warnings: rep.Warnings}
	if server != nil {
		b.ServerSide = Span{File: rep.ServerSide.File, FromS: x(toClient(&rep.Clock, server.First)), ToS: x(toClient(&rep.Clock, server.Last))}
	}
	d.Blame = b
	if len(d.Files) < 2 && server != nil {
		d.Files = append(d.Files, rep.ServerSide.File)
	}

	for i := range rep.Flows {
		fr := &rep.Flows[i]
		start := flowStart(fr)
		row := -1
		for j := range d.Flows {
			r := &d.Flows[j]
			if r.Client != fr.Client.String() || r.Server != fr.Server.String() {
				continue
			}
			if row < 0 || abs(r.first-start) < abs(d.Flows[row].first-start) {
				row = j
			}
		}
		if row < 0 {
			continue
		}
		r := &d.Flows[row]
		r.Verdict = string(fr.Verdict)
		r.Lost = &[2]int{fr.LostBetween.C2S, fr.LostBetween.S2C}
		for k := range d.Sections {
			s := &d.Sections[k]
			if s.Index != r.Index {
				continue
			}
			s.Verdict, s.Reason = r.Verdict, fr.Reason
			markLosses(d, s, fr)
			s.Plots = append(s.Plots, transitPlot(fr, d.t0, d.Width, s.Anchor+"-transit"))
		}
	}
}

// TransitPlot is the two-point delay plot of one connection correlate
// followed (its report made with Options.KeepTransit): the one-way transit
// each way over time in seconds since t0 (the client side's first packet,
// in its clock), reduced to width min/max buckets, with every piece of
// evidence marked on the time axis. It is the plot a report's section
// shows, for WritePlot.
func TransitPlot(fr *correlate.FlowReport, t0 int64, width int) *Plot {
	p := transitPlot(fr, t0, width, "transit")
	return &p
}

func transitPlot(fr *correlate.FlowReport, t0 int64, width int, id string) Plot {
	x := func(t int64) float64 { return round6(float64(t-t0) / 1e9) }
	p := Plot{ID: id, Kind: "transit",
		Title:  "one-way transit between the capture points, and where each loss happened",
		XLabel: "time since capture start (s), client side's clock", YLabel: "transit (ms)", Markers: []Marker{}}
	var pts [2][]Point
	for _, s := range fr.TransitSamples {
		dir := 1
		if s.ToServer {
			dir = 0
		}
		ms := float64(s.Delay) / 1e6
		pts[dir] = append(pts[dir], Point{T: int64(s.Time), Lo: ms, Hi: ms})
	}
	names := [2]string{"client to server", "server to client"}
	colors := [2]string{colorClient, colorServer}
	for dir := range 2 {
		if len(pts[dir]) == 0 {
			continue
		}
		red := Reduce(pts[dir], pts[dir][0].T, pts[dir][len(pts[dir])-1].T, width)
		sr := Series{Name: names[dir], Style: "dots", Color: colors[dir], X: make([]float64, len(red)), Y: make([]float64, len(red))}
		for i, q := range red {
			sr.X[i], sr.Y[i] = x(q.T), round3(q.Lo)
		}
		p.Series = append(p.Series, sr)
	}
	for _, e := range fr.Evidence {
		text := e.Detail
		if e.RefFrame != 0 {
			text += fmt.Sprintf(" (ref: frame %d at the %s)", e.RefFrame, e.RefIn)
		}
		if e.Delay > 0 {
			text += fmt.Sprintf("; cost %v", e.Delay.Round(time.Microsecond))
		}
		p.Markers = append(p.Markers, Marker{X: x(int64(e.Time)), Y: 0, Kind: e.Kind.String(),
			Frame: uint64(e.SpanFrame), ServerFrame: uint64(e.ServerFrame), Text: text})
	}
	return p
}

// markLosses marks, on the time-sequence graph of their direction, the
// packets lost between the points whose retransmission the client side
// saw: at the time the lost copy passed the upstream point and at the
// sequence number of that retransmission (correlate names it as the
// evidence's related frame; the client side's event at that frame gives
// its sequence number). A loss whose retransmission is not marked there is
// on the transit plot only.
func markLosses(d *Data, s *Section, fr *correlate.FlowReport) {
	spanOf := map[correlate.Frame]correlate.Frame{} // server-side frame -> client-side frame
	for _, ts := range fr.TransitSamples {
		spanOf[ts.ServerFrame] = ts.SpanFrame
	}
	x := func(t int64) float64 { return round6(float64(t-d.t0) / 1e9) }
	for _, e := range fr.Evidence {
		var dir string
		switch e.Kind {
		case correlate.LostC2S:
			dir = "c2s"
		case correlate.LostS2C:
			dir = "s2c"
		default:
			continue
		}
		ref := e.RefFrame
		if e.RefIn == correlate.ServerSide {
			ref = spanOf[ref]
		}
		if ref == 0 {
			continue
		}
		for i := range s.Plots {
			p := &s.Plots[i]
			if p.Kind != "tseq" || !strings.HasSuffix(p.ID, "-"+dir) {
				continue
			}
			for _, m := range p.Markers {
				if m.Frame != uint64(ref) || m.Dir != dir || ackSideName(m.Kind) {
					continue
				}
				p.Markers = append(p.Markers, Marker{X: x(int64(e.Time)), Y: m.Y, Kind: e.Kind.String(),
					Frame: uint64(e.SpanFrame), ServerFrame: uint64(e.ServerFrame), Dir: dir,
					Text: fmt.Sprintf("%s; retransmitted in client-side frame %d", e.Detail, ref)})
				break
			}
		}
	}
}

// ackSideName reports whether a marker kind is placed at an ACK number.
func ackSideName(kind string) bool {
	if kind == "sack" {
		return true
	}
	if k, ok := flowtable.ParseEvent(kind); ok {
		return ackSide(k)
	}
	return false
}

// flowStart is the earliest time correlate names for a flow, to tell
// apart connections that reused the same ports.
func flowStart(fr *correlate.FlowReport) int64 {
	t := int64(math.MaxInt64)
	if len(fr.TransitSamples) > 0 {
		t = int64(fr.TransitSamples[0].Time)
	}
	for _, e := range fr.Evidence {
		t = min(t, int64(e.Time))
	}
	return t
}

// toClient converts a server-side time to the client side's clock.
func toClient(c *correlate.Clock, t int64) int64 {
	// server = client + Offset + Drift*(client - Ref), solved for client.
	return int64(math.Round((float64(t) - c.Offset + c.Drift*float64(c.Ref)) / (1 + c.Drift)))
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
