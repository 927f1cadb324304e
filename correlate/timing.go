package correlate

import (
	"math"
	"slices"
	"time"
)

// Time: one-way transit between the points, server think time, client
// time, and the handshake split by where it went.

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
		if z.keepTransit {
			up := r.ts
			if d == s2c {
				up = tb
			}
			st.fr.TransitSamples = append(st.fr.TransitSamples, TransitSample{Time: Timestamp(up), Delay: time.Duration(v),
				ToServer: d == c2s, SpanFrame: Frame(r.frame), ServerFrame: Frame(z.b.recs.at(j).frame)})
		}
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
