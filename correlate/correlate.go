package correlate

import (
	"fmt"
	"math"
	"net/netip"
	"time"
)

// Files reads both captures and correlates them. clientSide was taken
// near the client (a SPAN port, say), serverSide at or near the server.
// A capture damaged part-way is used up to the damage, with a warning.
func Files(clientSide, serverSide string, opt Options) (*Report, error) {
	a, err := ReadFile(clientSide)
	if a == nil {
		return nil, err
	}
	b, err := ReadFile(serverSide)
	if b == nil {
		return nil, err
	}
	return Correlate(a, b, opt), nil
}

// Correlate matches the connections and packets of a (client side) and b
// (server side), estimates how their clocks differ, classifies every loss,
// retransmission, window problem and delay by where it happened and gives
// the verdict. It uses a and b up: neither may be added to afterwards.
func Correlate(a, b *Capture, opt Options) *Report {
	a.finish()
	b.finish()
	if opt.MaxEvidence <= 0 {
		opt.MaxEvidence = 12
	}
	rep := &Report{
		ClientSide: summary(a),
		ServerSide: summary(b),
	}
	for _, c := range [2]*Capture{a, b} {
		if c.Err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%v (using the %d packets before it)", c.Err, c.Packets))
		}
	}

	pairs := matchFlows(a, b)
	ma := make([]int32, a.recs.len())
	mb := make([]int32, b.recs.len())
	matchPackets(a, b, pairs, ma, mb)

	var clk Clock
	if opt.OffsetKnown {
		clk = givenClock(a, int64(opt.Offset))
	} else {
		clk = estimateClock(a, b, ma)
	}
	if opt.OffsetKnown || clk.Source == "estimated" && clk.Uncertainty > 1e15 {
		clk.MinTransit = minTransit(a, b, ma, &clk)
	}
	if clk.reversed() {
		if !opt.NoOrient {
			a.reset()
			b.reset()
			opt.NoOrient = true
			rep := Correlate(b, a, opt)
			if rep.Orientation == Reversed {
				// Reversed either way round: the timing of the matched
				// packets is not that of one path; keep the order given.
				a.reset()
				b.reset()
				rep = Correlate(a, b, opt)
				rep.Orientation = AsGiven
				// Its last warning says the order looks reversed; replace it.
				rep.Warnings = append(rep.Warnings[:len(rep.Warnings)-1],
					"the order of the captures cannot be told: the matched packets' timing contradicts either order")
				return rep
			}
			rep.Orientation = Swapped
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the captures were given in reverse order: %s is nearer the client "+
				"(packets reach it first in both directions), so it was judged as the client side (--no-orient keeps the order given)", b.Name))
			return rep
		}
		rep.Orientation = Reversed
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the captures look reversed: %s sees packets before %s in both directions; judged in the order given", b.Name, a.Name))
	}
	rep.Clock = clk
	rep.ClockOffset = time.Duration(math.Round(clk.Offset))
	rep.ClockDriftPPM = clk.Drift * 1e6
	rep.ClockDriftUncertaintyPPM = clk.DriftUncertainty * 1e6
	rep.ClockUncertainty = time.Duration(math.Round(clk.Uncertainty))
	if clk.Uncertainty > 1e15 {
		rep.ClockUncertainty = -1
	}
	rep.ClockSource = clk.Source

	start, end := max(a.First, clk.toClient(b.First)), min(a.Last, clk.toClient(b.Last))
	rep.CommonWindow = Window{Timestamp(start), Timestamp(end)}
	if clk.Source != "none" && (start-min(a.First, clk.toClient(b.First)) > partialSlack || max(a.Last, clk.toClient(b.Last))-end > partialSlack) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the captures overlap in time only from %s to %s (%.1f s): packets outside it at one point are neither lost nor missed",
			time.Unix(0, start).UTC().Format(time.RFC3339Nano), time.Unix(0, end).UTC().Format(time.RFC3339Nano), float64(end-start)/1e9))
	}
	z := &analyzer{a: a, b: b, ma: ma, mb: mb, clk: &clk, maxEv: opt.MaxEvidence, keepTransit: opt.KeepTransit}
	rep.Flows = make([]FlowReport, 0, len(pairs))
	for i := range pairs {
		p := &pairs[i]
		fa, fb := a.flows.at(int32(p.a)), b.flows.at(int32(p.b))
		if !opt.Filter.keep(fa) && !opt.Filter.keep(fb) {
			continue
		}
		rep.Flows = append(rep.Flows, FlowReport{
			Client:    fa.client,
			Server:    fa.server,
			MatchedBy: p.how.String(),
			Evidence:  []Evidence{},
		})
		fr := &rep.Flows[len(rep.Flows)-1]
		if p.nat {
			fr.ServerSideView = &Endpoints{Client: fb.client, Server: fb.server}
		}
		judgeFlow(z.analyzePair(p, fr))
	}
	z.unanswered(rep, &opt.Filter)
	for _, side := range []struct {
		c    *Capture
		list *[]string
	}{{a, &rep.OnlyClientSide}, {b, &rep.OnlyServerSide}} {
		for i := range side.c.flows.len() {
			f := side.c.flows.at(int32(i))
			if f.partner < 0 && !f.unanswered && opt.Filter.keep(f) {
				*side.list = append(*side.list, f.client.String()+" -> "+f.server.String())
			}
		}
	}
	judgeOverall(rep, a, b, len(pairs))
	return rep
}

// minTransit is the least one-way delay each way under a clock that was
// not estimated from both directions.
func minTransit(a, b *Capture, ma []int32, clk *Clock) [2]int64 {
	m := [2]int64{-1, -1}
	for i, j := range ma {
		if j < 0 {
			continue
		}
		ra := a.recs.at(int32(i))
		v := clk.toClient(b.recs.at(j).ts) - ra.ts
		d := ra.dir()
		if d == s2c {
			v = -v
		}
		if m[d] < 0 || v < m[d] {
			m[d] = v
		}
	}
	return [2]int64{max(m[0], 0), max(m[1], 0)}
}

func summary(c *Capture) CaptureSummary {
	return CaptureSummary{File: c.Name, Files: c.Files, Packets: c.Packets, TCPPackets: c.TCPPackets, Flows: c.flows.len(), Truncated: c.Truncated,
		Offload: c.SuperSegments > 0, SuperSegments: c.SuperSegments, CaptureDuplicates: c.Duplicates}
}

// partialSlack is how much longer one capture may run than the other,
// at either end, before the partial overlap is worth a warning.
const partialSlack = int64(time.Second)

// reversedMargin is how far below zero the least one-way delay between
// the points must be to show the captures were given the wrong way round:
// causality makes it positive, timestamping noise never this negative.
const reversedMargin = 100e3 // ns

// minOrientSamples is how many matched packets each way the orientation
// check needs: a handful of chance matches between unrelated captures
// says nothing.
const minOrientSamples = 8

// reversed reports whether the clock estimate puts the server-side point
// before the client-side one: a negative least transit both ways.
func (c *Clock) reversed() bool {
	return c.Source == "estimated" && c.Samples[c2s] >= minOrientSamples && c.Samples[s2c] >= minOrientSamples &&
		c.Uncertainty < -reversedMargin
}

// reset forgets what an earlier correlation recorded in c's flows, so it
// can be correlated again (the other way round).
func (c *Capture) reset() {
	for i := range c.flows.len() {
		f := c.flows.at(int32(i))
		f.partner, f.matched, f.weak, f.unanswered = -1, [2]uint32{}, [2]bool{}, false
	}
}

// keep reports whether flow f passes the filter.
func (flt *Filter) keep(f *flow) bool {
	if flt.Host.IsValid() && f.client.Addr() != flt.Host.Unmap() && f.server.Addr() != flt.Host.Unmap() {
		return false
	}
	if flt.Port != 0 && f.client.Port() != flt.Port && f.server.Port() != flt.Port {
		return false
	}
	if e := flt.Flow[0]; e.IsValid() {
		if !sameEnd(f, e) {
			return false
		}
		if e2 := flt.Flow[1]; e2.IsValid() && !sameEnd(f, e2) {
			return false
		}
	}
	return true
}

func sameEnd(f *flow, e netip.AddrPort) bool {
	e = netip.AddrPortFrom(e.Addr().Unmap(), e.Port())
	return f.client == e || f.server == e
}

// unanswered reports the connections the client side saw being opened
// (SYNs, no answer) that never appear on the server side although it
// captured other traffic of that server at the time: their SYNs were lost
// between the points. Connections to servers the server side did not
// capture stay "seen at one point only".
func (z *analyzer) unanswered(rep *Report, flt *Filter) {
	a, b := z.a, z.b
	servers := make(map[netip.AddrPort]bool)
	for i := range int32(b.flows.len()) {
		servers[b.flows.at(i).server] = true
	}
	from, to := z.clk.toClient(b.First), z.clk.toClient(b.Last)
	for fi := range int32(a.flows.len()) {
		f := a.flows.at(fi)
		if f.partner >= 0 || !f.hasSYN[c2s] || f.pkts[s2c] > 0 || !servers[f.server] ||
			f.first < from || f.first > to || !flt.keep(f) {
			continue
		}
		f.unanswered = true
		n := int(f.pkts[c2s])
		rep.Flows = append(rep.Flows, FlowReport{
			Client: f.client, Server: f.server, MatchedBy: "none",
			Verdict: Network,
			Reason: fmt.Sprintf("%d SYN(s) over %.0f ms passed the client-side point and none reached the server-side point, which saw other connections of this server meanwhile",
				n, float64(f.last-f.first)/1e6),
			Packets:     SideCount{ClientSide: n},
			LostBetween: DirCount{C2S: n},
			LostPct:     DirPct{C2S: 100},
			Evidence:    []Evidence{},
			Blame:       Blame{Network: msec(float64(f.last - f.first))},
		})
		fr := &rep.Flows[len(rep.Flows)-1]
		st := &flowState{fr: fr}
		va := &view{c: a, recs: a.flowRecs(fi), match: z.ma, isA: true}
		for _, i := range va.recs {
			z.evidence(st, LostSYN, va, i, lostDetail[c2s])
		}
	}
}
