package report

import (
	"cmp"
	"slices"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

// Options tune a Collector. Zero fields take the defaults.
type Options struct {
	// Top is how many flows get a section with plots: the most troubled
	// (default 20).
	Top int
	// Flow, when set, restricts the series to the flows it selects (every
	// flow between two endpoints, when it names endpoints).
	Flow *flowtable.Selector
	// Width is the plots' width in pixels: series are reduced to this
	// many min/max buckets (default 1000).
	Width int
	// MaxPoints caps each series of a flow while it is collected; at the
	// cap it is reduced to MaxPoints/4 buckets (default 8*Width).
	MaxPoints int
	// Budget caps the points held by the flows not (yet) chosen for a
	// section (default 2M, 48 MB).
	Budget int
	// MaxEvents caps the events kept per flow (default 65536).
	MaxEvents int
	// MaxRows caps the rows of the report's flow table, the most troubled
	// flows (default 1000).
	MaxRows int
}

func (o *Options) defaults() {
	if o.Top <= 0 {
		o.Top = 20
	}
	if o.Width <= 0 {
		o.Width = 1000
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 8 * o.Width
	}
	o.MaxPoints = max(o.MaxPoints, 16)
	if o.Budget <= 0 {
		o.Budget = 2 << 20
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 1 << 16
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 1000
	}
}

// A Collector gathers a report's data during the analysis pass. Feed it
// every packet the tracker yields (Packet) and every flow the table
// hands out (Flow, hooked with Hook), then call Data. It is for one
// goroutine and one capture.
type Collector struct {
	opt Options

	live map[uint64]*flowSeries // flows in the table, by index
	// kept holds ended flows with series, most troubled first, at most
	// opt.Top.
	kept []*flowSeries
	// points counts the points held by live flows.
	points int
	// shed counts flows whose series were dropped to keep to the budget.
	shed int

	pool pool // chunks of freed series

	rows     []Row
	moreRows int // flows left out of rows

	started     bool
	first, last int64
	packets     uint64
	tcp, udp    uint64
	events      [flowtable.NumEvents]uint64
	sackPackets uint64
}

// NewCollector returns a Collector with the options' defaults applied.
func NewCollector(opt Options) *Collector {
	opt.defaults()
	return &Collector{opt: opt, live: map[uint64]*flowSeries{}}
}

// Hook makes cfg hand every finished flow to the collector as well as to
// whatever cfg.OnExpire already did.
func (c *Collector) Hook(cfg *flowtable.Config) {
	prev := cfg.OnExpire
	if prev == nil {
		cfg.OnExpire = c.Flow
		return
	}
	cfg.OnExpire = func(r *flowtable.FlowRecord) {
		prev(r)
		c.Flow(r)
	}
}

// flowSeries is what is collected of one TCP flow. Direction d's series
// are about the data d sends: seg its segments, ack the ACKs the other
// end returns for them, edge that end's window right edge (ack plus
// window), rtt the RTT samples, bytes its cumulative payload; win[d] is
// the window endpoint d advertised, sack[d] the SACK blocks the other end
// reported of d's data.
type flowSeries struct {
	index   uint64
	seg     [2]series
	ack     [2]series
	edge    [2]series
	win     [2]series
	bytes   [2]series
	rtt     [2]series
	sack    [2]series
	events  []event
	more    int  // events beyond MaxEvents, not kept
	dropped bool // series dropped to keep to the budget
	score   int
	npoints int
	// raw: the window of that direction was given unscaled (no handshake).
	raw [2]bool
	// high is each direction's highest sequence number seen, to unwrap
	// relative numbers past 4 GB.
	high [2]int64
	cum  [2]float64
	pend [2]pendList
	rec  flowtable.FlowRecord // set when the flow ended
	done bool
	// fin: each direction sent a FIN; closed: both did, or a RST came,
	// and the flow was judged for a section (choose).
	fin    [2]bool
	closed bool
	kept   bool // in Collector.kept
}

// event is one marked point: a flowtable event or a packet with SACK
// blocks (kind sackKind).
type event struct {
	ts         int64
	frame      uint64
	kind       flowtable.Event
	dir        flowtable.Direction
	seq, ack   int64 // unwrapped relative numbers
	len        uint32
	win        int64
	oldW, newW int64
	blocks     uint8 // SACK blocks
	right      int64 // SACK: the highest right edge
}

// sackKind marks a packet carrying SACK blocks; it is no flowtable event.
const sackKind = flowtable.NumEvents

// pend is data sent and not yet acknowledged, for RTT samples.
type pend struct {
	end int64
	t   int64
}

// pendList is a queue of pend, bounded by maxPending.
type pendList struct {
	q    []pend
	head int
}

const maxPending = 512

func (l *pendList) push(p pend) {
	if n := len(l.q); n > l.head && l.q[n-1].end >= p.end {
		return // not new data
	}
	if len(l.q)-l.head >= maxPending {
		l.head++
	}
	if l.head > 64 && l.head*2 > len(l.q) {
		n := copy(l.q, l.q[l.head:])
		l.q, l.head = l.q[:n], 0
	}
	l.q = append(l.q, p)
}

// ackTo pops the data an ACK up to ack covers and returns the last
// popped (the newest acknowledged), ok false when none.
func (l *pendList) ackTo(ack int64) (p pend, ok bool) {
	for l.head < len(l.q) && l.q[l.head].end <= ack {
		p, ok = l.q[l.head], true
		l.head++
	}
	return p, ok
}

// forget drops the data from seq on: a retransmission makes its RTT
// ambiguous (Karn's rule).
func (l *pendList) forget(seq int64) {
	for len(l.q) > l.head && l.q[len(l.q)-1].end > seq {
		l.q = l.q[:len(l.q)-1]
	}
}

// unwrap places a 32-bit relative number near ref.
func unwrap(x uint32, ref int64) int64 {
	return ref + int64(int32(x-uint32(ref)))
}

// weight is how much an event adds to a flow's trouble score.
func weight(k flowtable.Event) int {
	switch k {
	case flowtable.Retransmission, flowtable.FastRetransmission, flowtable.LostSegment,
		flowtable.ZeroWindow, flowtable.SynRetransmission:
		return 3
	case flowtable.Reset:
		return 5
	case flowtable.OutOfOrder, flowtable.WindowShrink, flowtable.SpuriousRetransmission, flowtable.WindowFull:
		return 2
	case flowtable.DuplicateAck, flowtable.ZeroWindowProbe, flowtable.AckLostSegment:
		return 1
	}
	return 0
}

// Trouble is a flow's trouble score, by which the report picks the flows
// it plots: retransmissions, lost segments, zero windows and SYN
// retransmissions count 3 each, a reset 5, out-of-order segments, window
// shrinks, spurious retransmissions and full windows 2, duplicate ACKs,
// zero-window probes and ACKs of unseen segments 1.
func Trouble(r *flowtable.FlowRecord) int {
	s := 0
	for k, n := range r.Events {
		s += weight(flowtable.Event(k)) * int(n)
	}
	return s
}

// Packet adds one packet of the pass. It keeps nothing p points to.
func (c *Collector) Packet(p *track.Packet) {
	t := p.Capture.Timestamp
	if !c.started {
		c.started, c.first = true, t
	}
	c.first, c.last = min(c.first, t), max(c.last, t)
	c.packets++
	r := &p.Result
	if !r.Tracked {
		return
	}
	if r.NewFlow {
		if p.Decoded.IsTCP() {
			c.tcp++
		} else {
			c.udp++
		}
	}
	for i := range p.Events {
		c.events[p.Events[i].Kind]++
	}
	dec := p.Decoded
	if dec.Has(decode.HasSACK) {
		c.sackPackets++
	}
	if !r.Analyzed {
		return
	}
	if c.opt.Flow != nil && !c.opt.Flow.Match(dec, r) {
		return
	}
	fs := c.live[r.Index]
	if fs == nil {
		fs = &flowSeries{index: r.Index}
		c.live[r.Index] = fs
	}
	for i := range p.Events {
		fs.score += weight(p.Events[i].Kind)
	}
	if fs.dropped {
		return
	}
	n := c.add(fs, p)
	fs.npoints += n
	if !fs.kept {
		c.points += n
		if c.points > c.opt.Budget {
			c.shedSeries(fs)
		}
	}
	fl := dec.TCPFlags
	if fl&decode.TCPFin != 0 {
		fs.fin[r.Dir] = true
	}
	if !fs.closed && (fl&decode.TCPRst != 0 || fs.fin[0] && fs.fin[1]) {
		// The table keeps a closed connection for minutes: judge it now,
		// so the series of the many that end well are freed at once.
		fs.closed = true
		c.choose(fs)
	}
}

// add records packet p in fs and returns how many points fs gained.
func (c *Collector) add(fs *flowSeries, p *track.Packet) int {
	r, dec := &p.Result, p.Decoded
	t := p.Capture.Timestamp
	d := r.Dir
	o := 1 - d
	mp := c.opt.MaxPoints
	pl := &c.pool
	n := 0
	fl := dec.TCPFlags
	seq := unwrap(r.RelSeq, fs.high[d])
	span := int64(r.Len)
	if fl&decode.TCPSyn != 0 {
		span++
	}
	if fl&decode.TCPFin != 0 {
		span++
	}
	if span > 0 {
		n += fs.seg[d].add(t, float64(seq), float64(seq+span), mp, pl)
		fs.high[d] = max(fs.high[d], seq+span)
	}
	retrans := r.Events.Has(flowtable.Retransmission) || r.Events.Has(flowtable.FastRetransmission) ||
		r.Events.Has(flowtable.SpuriousRetransmission)
	if r.Len > 0 {
		fs.cum[d] += float64(r.Len)
		n += fs.bytes[d].add(t, fs.cum[d], fs.cum[d], mp, pl)
		if retrans {
			fs.pend[d].forget(seq)
		} else {
			fs.pend[d].push(pend{end: seq + span, t: t})
		}
	}
	var ack int64
	acking := fl&decode.TCPAck != 0
	if acking {
		ack = unwrap(r.RelAck, fs.high[o])
		n += fs.ack[o].add(t, float64(ack), float64(ack), mp, pl)
		if pd, ok := fs.pend[o].ackTo(ack); ok {
			ms := float64(t-pd.t) / 1e6
			n += fs.rtt[o].add(t, ms, ms, mp, pl)
		}
	}
	win := r.Window
	if win < 0 {
		win, fs.raw[d] = int64(dec.Window), true
	}
	n += fs.win[d].add(t, float64(win), float64(win), mp, pl)
	if acking && r.Window >= 0 {
		n += fs.edge[o].add(t, float64(ack+win), float64(ack+win), mp, pl)
	}
	var sackRight int64
	if acking && dec.Has(decode.HasSACK) {
		base := dec.Ack - r.RelAck
		for _, b := range dec.SACK[:min(int(dec.SACKCount), len(dec.SACK))] {
			l := unwrap(b.Left-base, fs.high[o])
			rr := unwrap(b.Right-base, fs.high[o])
			n += fs.sack[o].add(t, float64(l), float64(rr), mp, pl)
			sackRight = max(sackRight, rr)
		}
		c.event(fs, event{ts: t, frame: p.Capture.Frame, kind: sackKind, dir: d, seq: seq, ack: ack,
			len: r.Len, win: r.Window, blocks: dec.SACKCount, right: sackRight})
	}
	for i := range p.Events {
		e := &p.Events[i]
		c.event(fs, event{ts: e.TS, frame: e.Frame, kind: e.Kind, dir: e.Dir, seq: seq, ack: ack,
			len: e.Len, win: e.Window, oldW: e.OldWindow, newW: e.NewWindow})
	}
	return n
}

func (c *Collector) event(fs *flowSeries, e event) {
	if len(fs.events) >= c.opt.MaxEvents {
		fs.more++
		return
	}
	fs.events = append(fs.events, e)
}

// shedSeries drops the series of the least troubled live flows (but not
// keep, the flow of the packet being added) until the points held are
// within three quarters of the budget.
func (c *Collector) shedSeries(keep *flowSeries) {
	var cand []*flowSeries
	for _, fs := range c.live {
		if fs != keep && !fs.dropped && !fs.kept && fs.npoints > 0 {
			cand = append(cand, fs)
		}
	}
	slices.SortFunc(cand, func(a, b *flowSeries) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(b.npoints, a.npoints), cmp.Compare(a.index, b.index))
	})
	for _, fs := range cand {
		if c.points <= c.opt.Budget*3/4 {
			break
		}
		c.points -= fs.npoints
		fs.free(&c.pool)
		fs.dropped = true
		c.shed++
	}
}

// free hands fs's series back to the pool and lets go of its events.
func (fs *flowSeries) free(pl *pool) {
	for d := range 2 {
		for _, s := range []*series{&fs.seg[d], &fs.ack[d], &fs.edge[d], &fs.win[d], &fs.bytes[d], &fs.rtt[d], &fs.sack[d]} {
			s.free(pl)
			s.chunks = nil
		}
		fs.pend[d] = pendList{}
	}
	fs.events, fs.npoints = nil, 0
}

// Flow adds a flow that left the table (Hook sets it as the table's
// OnExpire). The record is copied.
func (c *Collector) Flow(r *flowtable.FlowRecord) {
	c.addRow(r)
	fs := c.live[r.Index]
	if fs == nil {
		return
	}
	delete(c.live, r.Index)
	fs.rec, fs.done = *r, true
	fs.score = Trouble(r)
	if !fs.kept {
		c.points -= fs.npoints
		if !fs.dropped {
			c.choose(fs)
		}
	}
}

// choose judges a flow that closed or left the table: it joins the kept
// flows when it is among the opt.Top most troubled so far (pushing the
// least troubled out), else its series are freed. With opt.Flow every
// selected flow is kept.
func (c *Collector) choose(fs *flowSeries) {
	if fs.kept || fs.dropped {
		return
	}
	if !fs.done {
		c.points -= fs.npoints // kept flows are outside the budget
	}
	if c.opt.Flow == nil && len(c.kept) >= c.opt.Top && moreTroubled(fs, c.kept[len(c.kept)-1]) > 0 {
		c.drop(fs)
		return
	}
	i, _ := slices.BinarySearchFunc(c.kept, fs, moreTroubled)
	c.kept = slices.Insert(c.kept, i, fs)
	fs.kept = true
	if c.opt.Flow == nil && len(c.kept) > c.opt.Top {
		last := c.kept[len(c.kept)-1]
		c.kept = c.kept[:c.opt.Top]
		last.kept = false
		c.drop(last)
	}
}

// drop frees a flow's series for good: it will not be plotted.
func (c *Collector) drop(fs *flowSeries) {
	fs.free(&c.pool)
	fs.dropped = true
}

// moreTroubled orders flows most troubled first, then by payload bytes,
// then by index.
func moreTroubled(a, b *flowSeries) int {
	return cmp.Or(cmp.Compare(b.score, a.score),
		cmp.Compare(b.cum[0]+b.cum[1], a.cum[0]+a.cum[1]),
		cmp.Compare(a.index, b.index))
}
