package correlate

// Packet matching pairs each client-side record with the server-side
// record of the same packet, within matched flows and directions. A packet
// is identified by (direction, seq, ack, payload length, SYN/FIN/RST); two
// copies with that identity (a retransmission, a duplicate ACK) are told
// apart by IP ID and TCP timestamp, which a retransmission changes and
// plain NAT keeps, and otherwise by order: the nth copy on one side is the
// nth on the other. One open-addressing hash table over the server side's
// records makes it linear in packets.

// matchPackets fills ma (client-side record -> server-side record) and mb
// (the reverse), -1 meaning unmatched, and counts per pair and direction
// how many matched. It works one connection at a time with a small hash
// table (reused) over the server side's packets of that connection, which
// keeps its memory use flat and its memory accesses close together.
func matchPackets(a, b *Capture, pairs []pair, ma, mb []int32) {
	for i := range ma {
		ma[i] = -1
	}
	for i := range mb {
		mb[i] = -1
	}
	var tab []slot
	for pi := range pairs {
		tab = matchPair(a, b, &pairs[pi], ma, mb, tab)
	}
}

// slot is one entry of the per-connection table: the identity hash of a
// server-side record (to skip non-matching ones without reading them) and
// the record's index + 1 (0 for an empty slot).
type slot struct {
	hash uint32
	rec  int32
}

// matchPair matches the packets of one connection; tab is scratch space,
// returned for reuse.
func matchPair(a, b *Capture, p *pair, ma, mb []int32, tab []slot) []slot {
	fa := a.flows.at(p.a)
	recsA, recsB := a.flowRecs(p.a), b.flowRecs(p.b)
	size := 8
	for size < 2*len(recsB) {
		size <<= 1
	}
	if cap(tab) < size {
		tab = make([]slot, size)
	} else {
		tab = tab[:size]
		clear(tab)
	}
	mask := uint32(size - 1)
	for _, j := range recsB {
		r := b.recs.at(j)
		h := hashKey(r.bits&recDir, r.seq, r.ack, r.plen, r.flagClass())
		k := h & mask
		for tab[k].rec != 0 {
			k = (k + 1) & mask
		}
		tab[k] = slot{h, j + 1}
	}

	// lookup finds the server-side copy of client-side record r. strong
	// requires the IP ID and timestamp (ident) to agree as well.
	lookup := func(r *rec, strong bool) int32 {
		d := r.bits & recDir
		seq := r.seq + p.delta[d]
		ack := r.ack
		if r.flags&flagACK != 0 {
			ack += p.delta[1-d]
		}
		fc := r.flagClass()
		h := hashKey(d, seq, ack, r.plen, fc)
		for k := h & mask; tab[k].rec != 0; k = (k + 1) & mask {
			if tab[k].hash != h {
				continue
			}
			j := tab[k].rec - 1
			if mb[j] >= 0 {
				continue
			}
			s := b.recs.at(j)
			if s.bits&recDir != d || s.seq != seq || s.ack != ack || s.plen != r.plen || s.flagClass() != fc {
				continue
			}
			if !strong || s.ident == r.ident && (s.bits^r.bits)&recTS == 0 {
				return j
			}
		}
		return -1
	}

	// Pass 1: strong matches, in frame order.
	for _, i := range recsA {
		r := a.recs.at(i)
		if j := lookup(r, true); j >= 0 {
			ma[i], mb[j] = j, i
			fa.matched[r.dir()]++
		}
	}

	// Pass 2: where a middlebox rewrote IP IDs or timestamps, hardly
	// anything matched strongly; match those directions by identity and
	// order alone.
	fb := b.flows.at(p.b)
	weak := false
	for d := range 2 {
		lo := min(fa.pkts[d], fb.pkts[d])
		if lo > 0 && fa.matched[d]*2 < lo {
			fa.weak[d] = true
			weak = true
		}
	}
	if weak {
		for _, i := range recsA {
			r := a.recs.at(i)
			if ma[i] >= 0 || !fa.weak[r.dir()] {
				continue
			}
			if j := lookup(r, false); j >= 0 {
				ma[i], mb[j] = j, i
				fa.matched[r.dir()]++
			}
		}
	}
	return tab
}

// hashKey mixes a packet's identity into a hash.
func hashKey(dir uint8, seq, ack uint32, plen uint16, fc uint8) uint32 {
	h := uint64(seq)<<32 | uint64(ack)
	h ^= (uint64(plen)<<8 | uint64(dir)<<4 | uint64(fc)) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}
