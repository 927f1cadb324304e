package correlate

import "slices"

// How a flow of the client-side capture was matched to one of the server
// side.
type matchHow uint8

const (
	matchTuple   matchHow = iota + 1 // same addresses and ports
	matchISN                         // same initial sequence numbers (NAT between the points)
	matchData                        // same first data segment: seq, ack, length (NAT, no handshake seen)
	matchPayload                     // same first payload bytes and lengths, nearest in time (seq rewritten too)
)

func (h matchHow) String() string {
	switch h {
	case matchTuple:
		return "tuple"
	case matchISN:
		return "isn"
	case matchData:
		return "first-data"
	case matchPayload:
		return "payload"
	}
	return "none"
}

// pair is one connection seen in both captures.
type pair struct {
	a, b int32 // flow index in the client-side (a) and server-side (b) capture
	how  matchHow
	// delta is what to add to a client-side sequence number of each
	// direction to get the server side's (non-zero only when a middlebox
	// rewrites sequence numbers).
	delta [2]uint32
	nat   bool // addresses or ports differ between the points
}

type dataKey struct {
	seq, ack uint32
	plen     uint16
	dir      uint8
}

type payloadKey struct {
	h0, h1 uint32
	l0, l1 uint16
}

// matchFlows pairs the flows of a (client side) with those of b (server
// side): same tuple first, then through NAT by ISNs, then by the first data
// segment, then by payload and time. Each flow is paired at most once; the
// order of a's flows makes it deterministic.
func matchFlows(a, b *Capture) []pair {
	pairs := make([]pair, 0, min(a.flows.len(), b.flows.len()))
	link := func(ai, bi int32, how matchHow) {
		fa, fb := a.flows.at(ai), b.flows.at(bi)
		if fb.client != fa.client && fb.client == fa.server {
			// Both saw the flow mid-stream and guessed its direction
			// differently: the client side's view wins.
			b.flip(bi)
		}
		p := pair{a: ai, b: bi, how: how}
		p.nat = fa.client != fb.client || fa.server != fb.server
		if how == matchPayload {
			for d := range 2 {
				if fa.data[d].plen > 0 && fb.data[d].plen > 0 {
					p.delta[d] = fb.data[d].seq - fa.data[d].seq
				}
			}
		}
		fa.partner, fb.partner = bi, ai
		pairs = append(pairs, p)
	}

	// Same addresses and ports: of the connections on them, the first
	// unmatched one whose ISNs do not contradict.
	unmatched := 0
	for ai := range int32(a.flows.len()) {
		fa := a.flows.at(ai)
		if len(b.index) > 0 {
			if _, bi := b.lookup(fa.client, fa.server); bi >= 0 {
				for bi = b.flows.at(bi).firstSame; bi >= 0; bi = b.flows.at(bi).nextSame {
					if fb := b.flows.at(bi); fb.partner < 0 && isnCompatible(fa, fb) {
						link(ai, bi, matchTuple)
						break
					}
				}
			}
		}
		if fa.partner < 0 {
			unmatched++
		}
	}
	if unmatched == 0 {
		return pairs
	}

	// Through NAT: index the server side's unmatched flows by client ISN,
	// by first data segment, and by first payload bytes.
	byISN := make(map[uint32]int32)
	byData := make(map[dataKey]int32)
	byPayload := make(map[payloadKey][]int32)
	for bi := range int32(b.flows.len()) {
		f := b.flows.at(bi)
		if f.partner >= 0 {
			continue
		}
		if f.hasSYN[c2s] {
			if _, ok := byISN[f.isn[c2s]]; !ok {
				byISN[f.isn[c2s]] = bi
			}
		}
		for d := range 2 {
			if s := f.data[d]; s.ok {
				dk := dataKey{s.seq, s.ack, s.plen, uint8(d)}
				if _, ok := byData[dk]; !ok {
					byData[dk] = bi
				}
			}
		}
		if f.data[c2s].plen > 0 || f.data[s2c].plen > 0 {
			pk := payloadKeyOf(f)
			byPayload[pk] = append(byPayload[pk], bi)
		}
	}
	for ai := range int32(a.flows.len()) {
		fa := a.flows.at(ai)
		if fa.partner >= 0 {
			continue
		}
		if fa.hasSYN[c2s] {
			if bi, ok := byISN[fa.isn[c2s]]; ok && b.flows.at(bi).partner < 0 && isnCompatible(fa, b.flows.at(bi)) {
				link(ai, bi, matchISN)
				continue
			}
		}
		for d := range 2 {
			s := fa.data[d]
			if !s.ok || fa.partner >= 0 {
				continue
			}
			// The direction guess may differ when neither saw the SYN.
			for _, dd := range [2]int{d, 1 - d} {
				if bi, ok := byData[dataKey{s.seq, s.ack, s.plen, uint8(dd)}]; ok && b.flows.at(bi).partner < 0 {
					link(ai, bi, matchData)
					break
				}
			}
		}
	}

	// Last, by payload, nearest in time once the clocks' offset is roughly
	// known from the connections matched so far.
	startDelta := make([]int64, len(pairs))
	for i, p := range pairs {
		startDelta[i] = b.flows.at(p.b).first - a.flows.at(p.a).first
	}
	shift := median(startDelta)
	for ai := range int32(a.flows.len()) {
		fa := a.flows.at(ai)
		if fa.partner >= 0 || fa.data[c2s].plen == 0 && fa.data[s2c].plen == 0 {
			continue
		}
		best, bestDist := int32(-1), int64(0)
		for _, bi := range byPayload[payloadKeyOf(fa)] {
			fb := b.flows.at(bi)
			if fb.partner >= 0 {
				continue
			}
			dist := fb.first - fa.first - shift
			if dist < 0 {
				dist = -dist
			}
			if best < 0 || dist < bestDist {
				best, bestDist = bi, dist
			}
		}
		if best >= 0 {
			link(ai, best, matchPayload)
		}
	}
	return pairs
}

// isnCompatible reports whether two flows' handshakes do not contradict
// each other: each ISN seen in both captures is the same.
func isnCompatible(fa, fb *flow) bool {
	for d := range 2 {
		if fa.hasSYN[d] && fb.hasSYN[d] && fa.isn[d] != fb.isn[d] {
			return false
		}
	}
	return true
}

func payloadKeyOf(f *flow) payloadKey {
	return payloadKey{f.data[c2s].hash, f.data[s2c].hash, f.data[c2s].plen, f.data[s2c].plen}
}

// flip reverses the direction of flow fi: client and server swap, and so
// do the per-direction fields and every record's direction bit.
func (c *Capture) flip(fi int32) {
	f := c.flows.at(int32(fi))
	f.client, f.server = f.server, f.client
	f.isn[0], f.isn[1] = f.isn[1], f.isn[0]
	f.hasSYN[0], f.hasSYN[1] = f.hasSYN[1], f.hasSYN[0]
	f.wscale[0], f.wscale[1] = f.wscale[1], f.wscale[0]
	f.data[0], f.data[1] = f.data[1], f.data[0]
	f.pkts[0], f.pkts[1] = f.pkts[1], f.pkts[0]
	f.fin[0], f.fin[1] = f.fin[1], f.fin[0]
	if f.rstBy >= 0 {
		f.rstBy = 1 - f.rstBy
	}
	for _, i := range c.flowRecs(fi) {
		c.recs.at(i).bits ^= recDir
	}
}

// median returns the median of xs (0 for none); it sorts xs.
func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
