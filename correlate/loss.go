package correlate

import (
	"math"
	"slices"
	"sort"
)

// Loss, capture drops, retransmissions, reordering and duplication
// between the points, per direction, by sequence space.

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
	p := &dirPass{z: z, st: st, d: d, up: up, down: down, ackUp: z.acks[0], ackDown: z.acks[1],
		minT: z.clk.MinTransit[d], tol: int64(1e6) + int64(min(z.clk.Uncertainty, 1e12))}
	minT := p.minT

	var sent int
	high := int64(math.MinInt64)
	started := false
	for k, i := range up.recs {
		r := up.c.recs.at(i)
		if r.dir() != d {
			continue
		}
		sent++
		s, e := p.segOf(up, i)
		matched := up.match[i] >= 0
		prev := int32(-1)
		if e > s && started && s < high {
			fr.Retransmissions++
			prev = p.classifyRetrans(k, s)
		}
		if !matched {
			// A copy whose data an earlier copy already delivered cannot
			// be proven delivered itself.
			provable := prev < 0 || up.match[prev] < 0
			p.missing(k, s, e, provable)
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

// dirPass is one direction's loss and retransmission pass over a flow:
// the direction d, its upstream and downstream views, the ACKs each point
// saw for it, and the tolerances the clock estimate allows.
type dirPass struct {
	z        *analyzer
	st       *flowState
	d        int
	up, down *view
	// ackUp and ackDown are the cumulative ACKs of d's data, as the
	// upstream and downstream points saw them.
	ackUp, ackDown []ackPt
	minT           int64 // least transit between the points in d, ns
	tol            int64 // how early an ACK may seem to be, from clock error
}

// segOf is record i of v as a range of d's relative sequence space.
func (p *dirPass) segOf(v *view, i int32) (int64, int64) {
	r := v.c.recs.at(i)
	s := p.z.rel(v, p.d, i, r.seq)
	return s, s + int64(r.seqLen())
}

// downTime is when record i of up reached down: measured when matched,
// else estimated from the clock and the least transit.
func (p *dirPass) downTime(i int32) int64 {
	if _, o := p.z.other(p.up, i); o != nil {
		return o.ts
	}
	return p.z.toView(p.up, p.down, p.up.c.recs.at(i).ts) + p.minT
}

// missing decides about record up.recs[k], seen upstream and not
// downstream. It was lost between the points unless the receiver proved it
// arrived: a cumulative ACK covering it, sent after it could have arrived
// and before any later copy of its start arrived.
func (p *dirPass) missing(k int, s, e int64, provable bool) {
	z, st, d, up, down := p.z, p.st, p.d, p.up, p.down
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
			qs, qe := p.segOf(up, j)
			if qe > qs && qs <= s && s < qe {
				if nextAt < 0 {
					nextAt, nextIdx = q.ts, j
				}
				if up.match[j] >= 0 {
					nextDownAt = p.downTime(j)
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
		if ai := firstAck(p.ackDown, e); ai >= 0 {
			ta := p.ackDown[ai].t
			if ta >= arrive-p.tol && (nextDownAt < 0 || ta < nextDownAt) {
				lost = false
				fr.CaptureDrops++
				if down.isA {
					fr.CaptureDropAt.ClientSide++
				} else {
					fr.CaptureDropAt.ServerSide++
				}
				z.evidence(st, CaptureDrop, up, i, ackedDetail[d]).ref(down, p.ackDown[ai].rec)
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
func (p *dirPass) classifyRetrans(k int, s int64) int32 {
	z, st, d, up, down := p.z, p.st, p.d, p.up, p.down
	ackUp, ackDown := p.ackUp, p.ackDown
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
		qs, qe := p.segOf(up, j)
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
		if ai := firstAck(ackDown, pe); ai >= 0 && ackDown[ai].t < p.downTime(i) {
			if down.match[ackDown[ai].rec] < 0 {
				rk.AfterAckLoss++
				z.evidence(st, RetransmissionAfterAckLoss, up, i, "the receiver's ACK (ref) was lost between the points").ref(down, ackDown[ai].rec)
			} else {
				rk.Premature++
				z.evidence(st, PrematureRetransmission, up, i, "the receiver had acknowledged the earlier copy (ref); its ACK was still on the way: the sender's timer was too short").ref(down, ackDown[ai].rec)
			}
			return prev
		}
		if p.downTime(prev) >= z.toView(up, down, r.ts) {
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
