package capfile

// NextBatch reads up to len(ps) packets into ps and returns how many it
// read. Unlike Next, the views of all of them stay valid together, until
// the next call of Next or NextBatch: a caller can decode a batch first
// and then work through it (the flow table prefetches a batch's state).
// The batch ends early where the next record is not wholly in the buffer
// (reading it could move the buffered bytes) or is not a packet; it holds
// at least one packet unless an error or the end comes first. The error,
// when there is one, comes after the n packets read before it, exactly as
// Next would have returned it after them.
func (r *Reader) NextBatch(ps []Packet) (n int, err error) {
	for n < len(ps) {
		if n > 0 && !r.nextBuffered() {
			break
		}
		if err := r.Next(&ps[n]); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// nextBuffered reports whether the next record is a packet whose bytes
// are all buffered, so that Next returns it without reading.
func (r *Reader) nextBuffered() bool {
	if r.err != nil {
		return false
	}
	in := r.in
	h := in.buf[in.r:in.w]
	if r.format == FormatPCAP {
		if len(h) < r.recHdrLen {
			return false
		}
		_, _, caplen, _ := r.pcapRecordHeader((*[pcapRecordHeaderLen]byte)(h))
		return caplen <= r.maxCap && len(h) >= r.recHdrLen+int(caplen)
	}
	if len(h) < 8 {
		return false
	}
	switch r.u32(h) {
	case blockEPB, blockSPB, blockPB:
		return uint64(r.u32(h[4:])) <= uint64(len(h))
	}
	return false
}
