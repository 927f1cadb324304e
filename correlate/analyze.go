package correlate

import (
	"sort"
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
	a, b   *Capture
	ma, mb []int32
	clk    *Clock
	maxEv  int
	// keepTransit: record every matched packet's transit (Options.KeepTransit).
	keepTransit bool
	acks        [2][]ackPt
	samples     [2][]int64
	think       []int64
	client      []int64
	st          flowState       // the flow being analysed
	base        [2]uint32       // its client side's first seq by direction
	marks       [2][2][]seqMark // scratch for the views' marks: [client side, server side][direction]
	views       [2]view         // the flow's client-side and server-side views
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

func dirKey(d int) string { return [2]string{"c2s", "s2c"}[d] }

func dirCount(c *DirCount, d int) int {
	if d == c2s {
		return c.C2S
	}
	return c.S2C
}
