package correlate

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Bounds on how far the analysis looks back or ahead in one flow for the
// other copies of a segment; they keep its cost linear in packets.
const (
	maxBackScan = 1 << 14
	maxFwdScan  = 1 << 16
	// maxSamples bounds the transit samples kept per flow and direction
	// for the median; a larger flow is sampled evenly.
	maxSamples = 1 << 13
)

// ackPt is a point where a receiver's cumulative ACK advanced, as seen at
// one capture point.
type ackPt struct {
	t   int64 // in that capture's clock
	a   int64 // ACK relative to the direction's base
	rec int32 // the record carrying it
}

// firstAck returns the first point whose ACK reaches e, or -1.
func firstAck(pts []ackPt, e int64) int {
	i := sort.Search(len(pts), func(i int) bool { return pts[i].a >= e })
	if i == len(pts) {
		return -1
	}
	return i
}

// view is one capture's side of a matched flow.
type view struct {
	c     *Capture
	recs  []int32 // the flow's records, in frame order
	match []int32 // this capture's record -> other capture's record
	isA   bool    // the client-side capture
	// delta: this capture's seq minus the client side's, by direction.
	delta [2]uint32
	// marks, by direction, say where the flow's relative sequence numbers
	// passed another gigabyte (see rel).
	marks [2][]seqMark
}

// seqMark says that from record rec on, a direction's relative sequence
// numbers lie within 2 GB of high.
type seqMark struct {
	rec  int32
	high int64
}

// markSeq lists v's marks for direction d: a mark at each gigabyte the
// direction's highest sent byte passes.
func (z *analyzer) markSeq(dst []seqMark, v *view, d int) []seqMark {
	var near, high int64
	for _, i := range v.recs {
		r := v.c.recs.at(i)
		if r.dir() != d {
			continue
		}
		s := near + int64(int32(r.seq-v.delta[d]-z.base[d]-uint32(near)))
		high = max(high, s+int64(r.seqLen()))
		if high-near >= 1<<30 {
			near = high
			dst = append(dst, seqMark{i, high})
		}
	}
	return dst
}

// rel returns x, a sequence number of direction d (a seq of that
// direction, or an ack of the other) in record i of v, relative to the
// client side's first one, in 64 bits: taken as the value nearest to the
// direction's progress at record i, so a connection may carry any number
// of gigabytes. A sender's unacknowledged data and a receiver's window
// are each under 1 GB, so the nearest value is the right one.
func (z *analyzer) rel(v *view, d int, i int32, x uint32) int64 {
	u := x - v.delta[d] - z.base[d]
	var near int64
	if m := v.marks[d]; len(m) > 0 {
		// The last mark at or before record i.
		k := sort.Search(len(m), func(k int) bool { return m[k].rec > i })
		if k > 0 {
			near = m[k-1].high
		}
	}
	return near + int64(int32(u-uint32(near)))
}

// analyzer holds the inputs and reusable scratch space of the per-flow
// analysis.
type analyzer struct {
	a, b    *Capture
	ma, mb  []int32
	clk     *Clock
	maxEv   int
	acks    [2][]ackPt
	samples [2][]int64
	think   []int64
	client  []int64
	st      flowState       // the flow being analysed
	base    [2]uint32       // its client side's first seq by direction
	marks   [2][2][]seqMark // scratch for the views' marks: [client side, server side][direction]
	views   [2]view         // the flow's client-side and server-side views
	// reordered lists, ascending, the upstream records of the flow that
	// reached the downstream point after a packet sent later.
	reordered []int32
}

// toA converts a timestamp of view v's clock to the client side's.
func (z *analyzer) toA(v *view, t int64) int64 {
	if v.isA {
		return t
	}
	return z.clk.toClient(t)
}

// toView converts a timestamp of view from's clock to view to's.
func (z *analyzer) toView(from, to *view, t int64) int64 {
	if from.isA == to.isA {
		return t
	}
	if from.isA {
		return z.clk.toServer(t)
	}
	return z.clk.toClient(t)
}

// other returns the record of the other capture matching record i of v.
func (z *analyzer) other(v *view, i int32) (int32, *rec) {
	j := v.match[i]
	if j < 0 {
		return -1, nil
	}
	if v.isA {
		return j, z.b.recs.at(j)
	}
	return j, z.a.recs.at(j)
}

// frames returns the (client side, server side) frame numbers of record i
// of view v and of its match.
func (z *analyzer) frames(v *view, i int32) (span, server uint32) {
	r := v.c.recs.at(i)
	_, o := z.other(v, i)
	var of uint32
	if o != nil {
		of = o.frame
	}
	if v.isA {
		return r.frame, of
	}
	return of, r.frame
}

// flowState accumulates one flow's findings.
type flowState struct {
	fr       *FlowReport
	evCount  [numEvKinds]int
	recovery float64 // ns of loss recovery, union of intervals
	recEnd   int64
	harmful  int // lost segments that carried data, SYN or FIN
	outside  int // packets unmatched because the other capture was not running
	synLost  int
	congest  float64 // ns of queueing between the points
	// latency is the round trip between the points when it alone is
	// perceptible (ns), 0 otherwise.
	latency float64
	// slowThink sums the think times long enough to blame the server.
	slowThink float64
	// reorderHarm counts retransmissions that reordering between the
	// points caused.
	reorderHarm int
}

// evidence lists record i of v as evidence of kind k, unless the flow has
// enough of that kind already; it returns the new item (for the caller to
// add a related frame or delay) or nil.
func (z *analyzer) evidence(st *flowState, k EvidenceKind, v *view, i int32, detail string) *Evidence {
	perKind := max(5, z.maxEv/4)
	st.evCount[k]++
	if st.evCount[k] > perKind || len(st.fr.Evidence) >= z.maxEv {
		return nil
	}
	sf, bf := z.frames(v, i)
	st.fr.Evidence = append(st.fr.Evidence, Evidence{
		Kind: k, SpanFrame: Frame(sf), ServerFrame: Frame(bf),
		Time: Timestamp(z.toA(v, v.c.recs.at(i).ts)), Detail: detail,
	})
	return &st.fr.Evidence[len(st.fr.Evidence)-1]
}

// ref sets e's related frame to record i of v.
func (e *Evidence) ref(v *view, i int32) {
	if e == nil {
		return
	}
	e.RefFrame = Frame(v.c.recs.at(i).frame)
	e.RefIn = ServerSide
	if v.isA {
		e.RefIn = ClientSide
	}
}

// delay sets e's delay.
func (e *Evidence) delay(ns int64) {
	if e != nil {
		e.Delay = usec(ns)
	}
}

// Evidence details, by direction (c2s, s2c): fixed strings, so listing
// evidence allocates nothing but the list.
var (
	lostDetail = [2]string{
		"passed the client-side point and never reached the server-side point; ref: the retransmission at the client side",
		"passed the server-side point and never reached the client-side point; ref: the retransmission at the server side",
	}
	onlyDownDetail = [2]string{
		"seen at the server-side point only: the client-side capture missed it",
		"seen at the client-side point only: the server-side capture missed it",
	}
	ackedDetail = [2]string{
		"missing from the server-side capture, yet acknowledged there without retransmission (ref: the ACK): that capture missed it",
		"missing from the client-side capture, yet acknowledged there without retransmission (ref: the ACK): that capture missed it",
	}
	zeroDetail = [2]string{
		"the client advertised a zero window: its application is not reading",
		"the server advertised a zero window: its application is not reading",
	}
	reorderDetail = [2]string{
		"left the client-side point before the ref packet and reached the server-side point after it: reordered between the points",
		"left the server-side point before the ref packet and reached the client-side point after it: reordered between the points",
	}
	dupDetail = [2]string{
		"a second copy, at the server-side point, of one packet that passed the client-side point once (ref: the first copy): duplicated between the points",
		"a second copy, at the client-side point, of one packet that passed the server-side point once (ref: the first copy): duplicated between the points",
	}
	beyondDetail = [2]string{
		"the earlier copy passed both points, but the server beyond the server-side point did not acknowledge it",
		"the earlier copy passed both points, but the client beyond the client-side point did not acknowledge it",
	}
)

// analyzePair fills fr with everything found in one matched connection.
// The state it returns is valid until the next call.
func (z *analyzer) analyzePair(p *pair, fr *FlowReport) *flowState {
	// The views live in z: one allocation per flow is a byte a packet.
	z.views[0] = view{c: z.a, recs: z.a.flowRecs(p.a), match: z.ma, isA: true}
	z.views[1] = view{c: z.b, recs: z.b.flowRecs(p.b), match: z.mb, delta: p.delta}
	va, vb := &z.views[0], &z.views[1]
	z.st = flowState{fr: fr}
	st := &z.st
	fa := z.a.flows.at(int32(p.a))

	fr.Packets = SideCount{len(va.recs), len(vb.recs)}
	fr.MatchedPackets = int(fa.matched[0] + fa.matched[1])
	fr.CaptureDuplicates = SideCount{int(fa.dups), int(z.b.flows.at(p.b).dups)}

	// Sequence numbers are made relative to the first one the client side
	// saw in each direction.
	var base [2]uint32
	var haveBase [2]bool
	for _, i := range va.recs {
		r := z.a.recs.at(i)
		d := r.dir()
		if !haveBase[d] {
			base[d], haveBase[d] = r.seq, true
		}
	}
	for _, i := range vb.recs {
		r := z.b.recs.at(i)
		d := r.dir()
		if !haveBase[d] {
			base[d], haveBase[d] = r.seq-p.delta[d], true
		}
	}
	z.base = base
	for d := range 2 {
		z.marks[0][d] = z.markSeq(z.marks[0][d][:0], va, d)
		z.marks[1][d] = z.markSeq(z.marks[1][d][:0], vb, d)
		va.marks[d], vb.marks[d] = z.marks[0][d], z.marks[1][d]
	}

	z.transit(va, st)
	for d := range 2 {
		up, down := va, vb
		if d == s2c {
			up, down = vb, va
		}
		z.reorder(d, up, down, st)
		z.lossAndRetrans(d, up, down, st)
	}
	z.windows(va, vb, p, st)
	z.exchanges(va, vb, st)
	z.handshake(va, vb, st)
	fr.OutsideCommonWindow = st.outside
	if rb := fa.rstBy; rb >= 0 {
		fr.ResetBy = ClientParty + Party(rb)
		for _, i := range va.recs {
			if r := z.a.recs.at(i); r.flags&flagRST != 0 {
				z.evidence(st, ResetByClient+EvidenceKind(rb), va, i, "the connection was aborted with a reset")
				break
			}
		}
	}
	return st
}

// transit computes the one-way delay between the points of every matched
// packet, in the client side's clock.
func (z *analyzer) transit(va *view, st *flowState) {
	var n [2]int
	fa := z.a.flows.at(int32(z.a.recs.at(va.recs[0]).flow))
	var stride [2]int
	for d := range 2 {
		stride[d] = int(fa.matched[d])/maxSamples + 1
		z.samples[d] = z.samples[d][:0]
	}
	var lo, hi [2]int64
	for d := range 2 {
		lo[d], hi[d] = math.MaxInt64, math.MinInt64
	}
	for _, i := range va.recs {
		j := z.ma[i]
		if j < 0 {
			continue
		}
		r := z.a.recs.at(i)
		d := r.dir()
		tb := z.clk.toClient(z.b.recs.at(j).ts)
		v := tb - r.ts
		if d == s2c {
			v = -v
		}
		lo[d], hi[d] = min(lo[d], v), max(hi[d], v)
		if n[d]%stride[d] == 0 {
			z.samples[d] = append(z.samples[d], v)
		}
		n[d]++
	}
	stat := func(d int) Stat {
		if n[d] == 0 {
			return Stat{}
		}
		slices.Sort(z.samples[d])
		return Stat{Min: usec(lo[d]), Median: usec(z.samples[d][len(z.samples[d])/2]), Max: usec(hi[d]), N: n[d]}
	}
	st.fr.Transit = Transit{C2S: stat(c2s), S2C: stat(s2c)}
	if n[c2s] > 0 && n[s2c] > 0 {
		rtt := z.samples[c2s][len(z.samples[c2s])/2] + z.samples[s2c][len(z.samples[s2c])/2]
		if rtt >= perceptible {
			st.latency = float64(rtt)
		}
	}
	// Queueing between the points: the median delay well above the
	// least (doubled at least, and by queueFloor or more).
	for d := range 2 {
		if n[d] == 0 {
			continue
		}
		med := z.samples[d][len(z.samples[d])/2]
		if q := med - lo[d]; q >= queueFloor && q >= lo[d] {
			st.congest += float64(q)
		}
	}
}

// reorder finds direction d's segments that left the upstream point
// before another packet and reached the downstream point after it, and
// keeps them in z.reordered for the retransmission analysis. Pure ACKs
// are not counted: TCP does not care in which order they come, and a
// receiving host's GRO reorders them by microseconds. Records are stored
// in frame order, so an upstream record's index is its place in the
// order packets left that point.
func (z *analyzer) reorder(d int, up, down *view, st *flowState) {
	z.reordered = z.reordered[:0]
	latest := int32(-1) // the latest-sent packet to arrive so far
	var latestAt int32
	for _, i := range down.recs {
		j := down.match[i]
		if j < 0 || down.c.recs.at(i).dir() != d {
			continue
		}
		if j > latest {
			latest, latestAt = j, i
			continue
		}
		if down.c.recs.at(i).seqLen() == 0 {
			continue
		}
		if d == c2s {
			st.fr.ReorderedBetween.C2S++
		} else {
			st.fr.ReorderedBetween.S2C++
		}
		z.reordered = append(z.reordered, j)
		ev := z.evidence(st, ReorderedBetween, down, i, reorderDetail[d])
		ev.ref(down, latestAt)
		ev.delay(z.toA(down, down.c.recs.at(i).ts) - z.toA(down, down.c.recs.at(latestAt).ts))
	}
	slices.Sort(z.reordered)
}

// duplicateOf returns the earlier record of down (before down.recs[k],
// matched) that record down.recs[k] is an identical copy of, or -1.
func duplicateOf(down *view, k int) int32 {
	r := down.c.recs.at(down.recs[k])
	for n, kk := 0, k-1; kk >= 0 && n < maxBackScan; kk, n = kk-1, n+1 {
		j := down.recs[kk]
		q := down.c.recs.at(j)
		if down.match[j] >= 0 && q.bits == r.bits && q.seq == r.seq && q.ack == r.ack && q.plen == r.plen &&
			q.flags == r.flags && q.ident == r.ident && q.win == r.win {
			return j
		}
	}
	return -1
}

// buildAcks collects where the receiver of direction d (which sends in
// direction 1-d) advanced its cumulative ACK, as seen in v.
func (z *analyzer) buildAcks(dst []ackPt, v *view, d int) []ackPt {
	dst = dst[:0]
	hi := int64(math.MinInt64)
	for _, i := range v.recs {
		r := v.c.recs.at(i)
		if r.dir() != 1-d || r.flags&flagACK == 0 {
			continue
		}
		if a := z.rel(v, d, i, r.ack); a > hi {
			hi = a
			dst = append(dst, ackPt{t: r.ts, a: a, rec: i})
		}
	}
	return dst
}

// inWindow reports whether time t, in v's clock, lies while v's capture
// was running.
func (z *analyzer) inWindow(v *view, t int64) bool {
	return t >= v.c.First && t <= v.c.Last
}

// lossAndRetrans classifies direction d's packets that passed the upstream
// point up but not the downstream point down (lost between the points, or
// dropped by down's capture), those down saw that up did not (dropped by
// up's capture), and up's retransmissions.
func (z *analyzer) lossAndRetrans(d int, up, down *view, st *flowState) {
	fr := st.fr
	z.acks[0] = z.buildAcks(z.acks[0], up, d)
	z.acks[1] = z.buildAcks(z.acks[1], down, d)
	ackUp, ackDown := z.acks[0], z.acks[1]
	minT := z.clk.MinTransit[d]
	tol := int64(1e6) + int64(min(z.clk.Uncertainty, 1e12))

	segOf := func(v *view, i int32) (int64, int64) {
		r := v.c.recs.at(i)
		s := z.rel(v, d, i, r.seq)
		return s, s + int64(r.seqLen())
	}
	// downTime is when record i of up reached down: measured when matched,
	// else estimated from the clock and the least transit.
	downTime := func(i int32) int64 {
		if _, o := z.other(up, i); o != nil {
			return o.ts
		}
		return z.toView(up, down, up.c.recs.at(i).ts) + minT
	}

	var sent int
	high := int64(math.MinInt64)
	started := false
	for k, i := range up.recs {
		r := up.c.recs.at(i)
		if r.dir() != d {
			continue
		}
		sent++
		s, e := segOf(up, i)
		matched := up.match[i] >= 0
		prev := int32(-1)
		if e > s && started && s < high {
			fr.Retransmissions++
			prev = z.classifyRetrans(d, up, down, k, s, ackUp, ackDown, downTime, segOf, st)
		}
		if !matched {
			// A copy whose data an earlier copy already delivered cannot
			// be proven delivered itself.
			provable := prev < 0 || up.match[prev] < 0
			z.missing(d, up, down, k, s, e, ackDown, downTime, segOf, tol, provable, st)
		}
		if !started || e > high {
			high = e
		}
		started = true
	}
	// Packets the downstream point saw that the upstream one did not: the
	// upstream capture missed them.
	// Unless they are second copies of a packet that passed the upstream
	// point once: the network duplicated those.
	for k, i := range down.recs {
		r := down.c.recs.at(i)
		if r.dir() != d || down.match[i] >= 0 {
			continue
		}
		if first := duplicateOf(down, k); first >= 0 {
			if d == c2s {
				fr.DuplicatedBetween.C2S++
			} else {
				fr.DuplicatedBetween.S2C++
			}
			z.evidence(st, DuplicatedBetween, down, i, dupDetail[d]).ref(down, first)
			continue
		}
		if !z.inWindow(up, z.toView(down, up, r.ts)-minT) {
			st.outside++
			continue
		}
		fr.CaptureDrops++
		if up.isA {
			fr.CaptureDropAt.ClientSide++
		} else {
			fr.CaptureDropAt.ServerSide++
		}
		z.evidence(st, CaptureDrop, down, i, onlyDownDetail[d])
	}
	if sent > 0 {
		pct := 100 * float64(dirCount(&fr.LostBetween, d)) / float64(sent)
		if d == c2s {
			fr.LostPct.C2S = pct
		} else {
			fr.LostPct.S2C = pct
		}
	}
}

// missing decides about record up.recs[k], seen upstream and not
// downstream. It was lost between the points unless the receiver proved it
// arrived: a cumulative ACK covering it, sent after it could have arrived
// and before any later copy of its start arrived.
func (z *analyzer) missing(d int, up, down *view, k int, s, e int64, ackDown []ackPt, downTime func(int32) int64,
	segOf func(*view, int32) (int64, int64), tol int64, provable bool, st *flowState) {
	fr := st.fr
	i := up.recs[k]
	r := up.c.recs.at(i)
	arrive := z.toView(up, down, r.ts) + z.clk.MinTransit[d]

	// The next copy of the segment's start, and the first such copy that
	// reached the downstream point.
	nextAt, nextDownAt := int64(-1), int64(-1)
	var nextIdx int32 = -1
	if e > s {
		for n, kk := 0, k+1; kk < len(up.recs) && n < maxFwdScan; kk++ {
			j := up.recs[kk]
			q := up.c.recs.at(j)
			if q.dir() != d {
				continue
			}
			n++
			qs, qe := segOf(up, j)
			if qe > qs && qs <= s && s < qe {
				if nextAt < 0 {
					nextAt, nextIdx = q.ts, j
				}
				if up.match[j] >= 0 {
					nextDownAt = downTime(j)
					break
				}
			}
		}
	}
	// Arriving while the downstream capture was not running, it is
	// neither lost nor missed, unless the sender repaired it (a repair,
	// when it too falls outside, proves nothing either).
	if !z.inWindow(down, arrive) && (nextIdx < 0 || !z.inWindow(down, z.toView(up, down, nextAt)+z.clk.MinTransit[d])) {
		st.outside++
		return
	}
	lost := true
	if e > s && provable {
		if ai := firstAck(ackDown, e); ai >= 0 {
			ta := ackDown[ai].t
			if ta >= arrive-tol && (nextDownAt < 0 || ta < nextDownAt) {
				lost = false
				fr.CaptureDrops++
				if down.isA {
					fr.CaptureDropAt.ClientSide++
				} else {
					fr.CaptureDropAt.ServerSide++
				}
				z.evidence(st, CaptureDrop, up, i, ackedDetail[d]).ref(down, ackDown[ai].rec)
			}
		}
	}
	if !lost {
		return
	}
	if d == c2s {
		fr.LostBetween.C2S++
	} else {
		fr.LostBetween.S2C++
	}
	kind := LostC2S + EvidenceKind(d)
	if r.flags&flagSYN != 0 {
		kind = LostSYN + EvidenceKind(d)
	}
	ev := z.evidence(st, kind, up, i, lostDetail[d])
	if e > s {
		st.harmful++
		if r.flags&flagSYN != 0 {
			st.synLost++
		}
		if nextAt >= 0 {
			wait := z.toA(up, nextAt) - z.toA(up, r.ts)
			ev.ref(up, nextIdx)
			ev.delay(wait)
			// Union of recovery intervals, in the client side's clock.
			t0, t1 := z.toA(up, r.ts), z.toA(up, nextAt)
			if t0 < st.recEnd {
				t0 = st.recEnd
			}
			if t1 > t0 {
				st.recovery += float64(t1 - t0)
				st.recEnd = t1
			}
		}
	}
}

// unmatchedCopy reports whether v holds a copy of direction d's byte s
// that the other capture lacks (which the other capture then missed).
func (z *analyzer) unmatchedCopy(v *view, d int, s int64) bool {
	for _, i := range v.recs {
		r := v.c.recs.at(i)
		if r.dir() != d || v.match[i] >= 0 || r.plen == 0 {
			continue
		}
		if qs := z.rel(v, d, i, r.seq); qs <= s && s < qs+int64(r.plen) {
			return true
		}
	}
	return false
}

// classifyRetrans says why up.recs[k], a retransmission of [s, ...), was
// sent, from what happened to the previous copy of s, and returns that
// copy (-1 when not found).
func (z *analyzer) classifyRetrans(d int, up, down *view, k int, s int64, ackUp, ackDown []ackPt,
	downTime func(int32) int64, segOf func(*view, int32) (int64, int64), st *flowState) int32 {
	fr := st.fr
	i := up.recs[k]
	r := up.c.recs.at(i)
	prev := int32(-1)
	var pe int64
	for n, kk := 0, k-1; kk >= 0 && n < maxBackScan; kk-- {
		j := up.recs[kk]
		q := up.c.recs.at(j)
		if q.dir() != d {
			continue
		}
		n++
		qs, qe := segOf(up, j)
		if qe > qs && qs <= s && s < qe {
			prev, pe = j, qe
			break
		}
	}
	rk := &fr.RetransmissionKinds
	switch {
	case prev < 0 && d == c2s && up.isA && up.c.flows.at(int32(r.flow)).hasSYN[c2s] && !z.unmatchedCopy(down, d, s):
		// The client's retransmission of data its earlier copy never
		// brought past the client-side point, nor to the server: lost
		// between the client and that point.
		rk.LostBeforeClientSide++
		z.evidence(st, LostBeforeClientSide, up, i, "a client retransmission whose original never passed the client-side point: lost between the client and that point")
	case prev < 0:
		rk.Unknown++
	case up.match[prev] < 0:
		rk.AfterLossBetween++
	case isReordered(z.reordered, prev):
		// Reordering between the points made the receiver report a gap
		// (duplicate ACKs, SACK) that the sender took for a loss.
		rk.AfterReordering++
		st.reorderHarm++
		z.evidence(st, RetransmissionAfterReordering, up, i, "the earlier copy (ref) was reordered between the points, not lost: the receiver's duplicate ACKs made the sender retransmit").ref(up, prev)
		if t0, t1 := max(z.toA(up, up.c.recs.at(prev).ts), st.recEnd), z.toA(up, r.ts); t1 > t0 {
			st.recovery += float64(t1 - t0)
			st.recEnd = t1
		}
	default:
		if ai := firstAck(ackUp, pe); ai >= 0 && ackUp[ai].t <= r.ts {
			rk.Spurious++
			z.evidence(st, SpuriousRetransmission, up, i, "the data was already acknowledged at the sender's capture point").ref(up, ackUp[ai].rec)
			return prev
		}
		if ai := firstAck(ackDown, pe); ai >= 0 && ackDown[ai].t < downTime(i) {
			if down.match[ackDown[ai].rec] < 0 {
				rk.AfterAckLoss++
				z.evidence(st, RetransmissionAfterAckLoss, up, i, "the receiver's ACK (ref) was lost between the points").ref(down, ackDown[ai].rec)
			} else {
				rk.Premature++
				z.evidence(st, PrematureRetransmission, up, i, "the receiver had acknowledged the earlier copy (ref); its ACK was still on the way: the sender's timer was too short").ref(down, ackDown[ai].rec)
			}
			return prev
		}
		if downTime(prev) >= z.toView(up, down, r.ts) {
			rk.Premature++
			z.evidence(st, PrematureRetransmission, up, i, "the earlier copy (ref) was still on its way between the points, delayed, not lost").ref(up, prev)
			return prev
		}
		rk.LossBeyond++
		z.evidence(st, LossBeyondFarPoint, up, i, beyondDetail[d]).ref(up, prev)
	}
	return prev
}

// isReordered reports whether upstream record j is in the sorted list of
// reordered records.
func isReordered(list []int32, j int32) bool {
	_, found := slices.BinarySearch(list, j)
	return found
}

// windows finds zero windows and shrinking windows, each at the capture
// point next to the endpoint that advertised them.
func (z *analyzer) windows(va, vb *view, p *pair, st *flowState) {
	fa := z.a.flows.at(int32(p.a))
	fb := z.b.flows.at(int32(p.b))
	for d := range 2 {
		v, f := va, fa // the client's windows, at the client side
		zw, zc, ws := &st.fr.ZeroWindowBy.Client, &st.fr.ZeroWindows.Client, &st.fr.WindowShrinks.Client
		if d == s2c {
			zw, zc, ws = &st.fr.ZeroWindowBy.Server, &st.fr.ZeroWindows.Server, &st.fr.WindowShrinks.Server
			v, f = vb, fb
		}
		scale, known := 0, false
		if f.hasSYN[c2s] && f.hasSYN[s2c] {
			known = true
			if f.wscale[c2s] >= 0 && f.wscale[s2c] >= 0 {
				scale = int(f.wscale[d])
			}
		}
		var zero bool
		var zstart, total, last int64
		prevEdge := int64(math.MinInt64)
		for _, i := range v.recs {
			r := v.c.recs.at(i)
			if r.dir() != d {
				continue
			}
			last = r.ts
			if r.flags&(flagSYN|flagFIN|flagRST) != 0 {
				continue
			}
			if r.win == 0 {
				if !zero {
					zero, zstart = true, r.ts
					*zc++
					z.evidence(st, ZeroWindowClient+EvidenceKind(d), v, i, zeroDetail[d])
				}
			} else if zero {
				zero = false
				total += r.ts - zstart
			}
			if known && r.flags&flagACK != 0 {
				edge := z.rel(v, 1-d, i, r.ack) + int64(r.win)<<scale
				if edge < prevEdge {
					*ws++
				}
				prevEdge = max(prevEdge, edge)
			}
		}
		if zero {
			total += last - zstart
		}
		*zw = time.Duration(total)
		st.fr.ZeroWindow += time.Duration(total)
	}
}

// exchanges measures server think time (the request's last new byte at
// the server to the response's first new byte leaving it) and client time
// (the response's last byte at the client side to the next request).
func (z *analyzer) exchanges(va, vb *view, st *flowState) {
	z.think, z.client = z.think[:0], z.client[:0]
	var maxThink int64 = -1
	var maxReq, maxResp int32
	turns := func(v *view, fn func(reqLast int64, reqIdx, respIdx int32, t int64)) {
		var high [2]int64
		var seen [2]bool
		var lastT [2]int64
		var lastIdx [2]int32
		pending := -1 // direction whose data awaits an answer
		for _, i := range v.recs {
			r := v.c.recs.at(i)
			d := r.dir()
			if r.plen == 0 {
				continue
			}
			s := z.rel(v, d, i, r.seq)
			e := s + int64(r.plen)
			if seen[d] && e <= high[d] {
				continue // retransmitted data is not a new turn
			}
			seen[d], high[d] = true, e
			if pending == 1-d {
				fn(lastT[1-d], lastIdx[1-d], i, r.ts)
			}
			pending = d
			lastT[d], lastIdx[d] = r.ts, i
		}
	}
	turns(vb, func(reqLast int64, reqIdx, respIdx int32, t int64) {
		if vb.c.recs.at(reqIdx).dir() != c2s {
			return
		}
		th := t - reqLast
		z.think = append(z.think, th)
		rtt := int64(st.fr.Transit.C2S.Median + st.fr.Transit.S2C.Median)
		if th >= perceptible && th >= rtt {
			st.slowThink += float64(th)
		}
		if th > maxThink {
			maxThink, maxReq, maxResp = th, reqIdx, respIdx
		}
	})
	turns(va, func(respLast int64, respIdx, reqIdx int32, t int64) {
		if va.c.recs.at(respIdx).dir() != s2c {
			return
		}
		z.client = append(z.client, t-respLast)
	})
	fr := st.fr
	fr.Exchanges = len(z.think)
	if len(z.think) > 0 {
		slices.Sort(z.think)
		fr.Think = usec(z.think[len(z.think)/2])
		fr.ThinkMax = usec(z.think[len(z.think)-1])
		if maxThink >= perceptible {
			ev := z.evidence(st, ServerThink, vb, maxResp, "the server's slowest answer: from the request's last byte (ref) to this response")
			ev.ref(vb, maxReq)
			ev.delay(maxThink)
		}
	}
	if len(z.client) > 0 {
		slices.Sort(z.client)
		fr.ClientWait = usec(z.client[len(z.client)/2])
	}
}

// handshake splits the three-way handshake's time by where it was spent.
func (z *analyzer) handshake(va, vb *view, st *flowState) {
	var synA, synAckA, ackA, synB, synAckB int64 = -1, -1, -1, -1, -1
	var synAckBIdx int32
	nSYN := 0
	for _, i := range va.recs {
		r := z.a.recs.at(i)
		switch {
		case r.flags&flagSYN != 0 && r.flags&flagACK == 0:
			nSYN++
			if synA < 0 {
				synA = r.ts
			}
		case r.flags&flagSYN != 0 && r.dir() == s2c:
			if synAckA < 0 {
				synAckA = r.ts
			}
		case synAckA >= 0 && ackA < 0 && r.dir() == c2s && r.flags&flagACK != 0:
			ackA = r.ts
		}
	}
	for _, i := range vb.recs {
		r := z.b.recs.at(i)
		if r.flags&flagSYN == 0 {
			continue
		}
		if r.flags&flagACK == 0 {
			if synAckB < 0 {
				synB = r.ts // the last SYN before the SYN-ACK
			}
		} else if synAckB < 0 {
			synAckB, synAckBIdx = r.ts, i
		}
	}
	if synA < 0 || synAckA < 0 || ackA < 0 || synB < 0 || synAckB < 0 {
		return
	}
	h := &Handshake{
		Total:      usec(ackA - synA),
		C2S:        usec(z.clk.toClient(synB) - synA),
		Server:     usec(synAckB - synB),
		S2C:        usec(synAckA - z.clk.toClient(synAckB)),
		Client:     usec(ackA - synAckA),
		SYNRetrans: max(nSYN-1, 0),
	}
	st.fr.Handshake = h
	if synAckB-synB >= perceptible {
		z.evidence(st, SlowSYNACK, vb, synAckBIdx, "the server was slow to answer the SYN").delay(synAckB - synB)
	}
}

// usec rounds ns to the microsecond, the precision the report keeps.
func usec(ns int64) time.Duration { return time.Duration(ns).Round(time.Microsecond) }

func dirKey(d int) string { return [2]string{"c2s", "s2c"}[d] }

func dirCount(c *DirCount, d int) int {
	if d == c2s {
		return c.C2S
	}
	return c.S2C
}
