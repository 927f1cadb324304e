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
// how many matched.
func matchPackets(a, b *Capture, pairs []pair, ma, mb []int32) {
	for i := range ma {
		ma[i] = -1
	}
	for i := range mb {
		mb[i] = -1
	}
	pairOf := make([]int32, len(b.flows)) // server flow -> index in pairs
	for i := range pairOf {
		pairOf[i] = -1
	}
	for i, p := range pairs {
		pairOf[p.b] = int32(i)
	}

	// Table of server-side records in paired flows; slots hold index+1.
	n := 0
	for _, p := range pairs {
		n += int(b.flows[p.b].count)
	}
	size := 16
	for size < 2*n {
		size <<= 1
	}
	table := make([]int32, size)
	mask := uint32(size - 1)
	nb := int32(b.recs.len())
	for j := int32(0); j < nb; j++ {
		r := b.recs.at(j)
		if pairOf[r.flow] < 0 {
			continue
		}
		h := hashKey(r.flow, r.bits&recDir, r.seq, r.ack, r.plen, r.flagClass()) & mask
		for table[h] != 0 {
			h = (h + 1) & mask
		}
		table[h] = j + 1
	}

	// lookup finds the server-side copy of client-side record r. strong
	// requires IP ID and timestamp to agree as well.
	lookup := func(r *rec, strong bool) int32 {
		fa := &a.flows[r.flow]
		fbi := uint32(fa.partner)
		p := &pairs[pairOf[fbi]]
		d := r.bits & recDir
		seq := r.seq + p.delta[d]
		ack := r.ack
		if r.flags&flagACK != 0 {
			ack += p.delta[1-d]
		}
		fc := r.flagClass()
		h := hashKey(fbi, d, seq, ack, r.plen, fc) & mask
		found := int32(-1)
		for ; table[h] != 0; h = (h + 1) & mask {
			j := table[h] - 1
			if mb[j] >= 0 {
				continue
			}
			s := b.recs.at(j)
			if s.flow != fbi || s.bits&recDir != d || s.seq != seq || s.ack != ack || s.plen != r.plen || s.flagClass() != fc {
				continue
			}
			if !strong {
				return j
			}
			if s.ipid != r.ipid || s.tsval != r.tsval || (s.bits^r.bits)&recTS != 0 {
				continue
			}
			if s.csum == r.csum {
				return j // the very same bytes: nothing better to find
			}
			if found < 0 {
				found = j
			}
		}
		return found
	}

	// Pass 1: strong matches, in frame order.
	na := int32(a.recs.len())
	for i := int32(0); i < na; i++ {
		r := a.recs.at(i)
		if a.flows[r.flow].partner < 0 {
			continue
		}
		if j := lookup(r, true); j >= 0 {
			ma[i], mb[j] = j, i
			a.flows[r.flow].matched[r.dir()]++
		}
	}

	// Pass 2: where a middlebox rewrote IP IDs or timestamps, hardly
	// anything matched strongly; match those directions by identity and
	// order alone.
	weak := false
	for _, p := range pairs {
		fa, fb := &a.flows[p.a], &b.flows[p.b]
		for d := range 2 {
			lo := min(fa.pkts[d], fb.pkts[d])
			if lo >= 4 && fa.matched[d]*2 < lo {
				fa.weak[d] = true
				weak = true
			}
		}
	}
	if !weak {
		return
	}
	for i := int32(0); i < na; i++ {
		r := a.recs.at(i)
		fa := &a.flows[r.flow]
		if fa.partner < 0 || ma[i] >= 0 || !fa.weak[r.dir()] {
			continue
		}
		if j := lookup(r, false); j >= 0 {
			ma[i], mb[j] = j, i
			fa.matched[r.dir()]++
		}
	}
}

// hashKey mixes a packet's identity into a table index.
func hashKey(flow uint32, dir uint8, seq, ack uint32, plen uint16, fc uint8) uint32 {
	h := uint64(seq)<<32 | uint64(ack)
	h ^= (uint64(flow)<<24 | uint64(plen)<<8 | uint64(dir)<<4 | uint64(fc)) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}
