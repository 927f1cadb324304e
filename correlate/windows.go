package correlate

import (
	"math"
	"time"
)

// Receive windows: zero windows and shrinking windows, by the endpoint
// that advertised them.

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
