package flowtable

import "github.com/netblame/netblame/decode"

// Most packets of a busy capture are steady segments of an established
// flow. steadyPacket handles them: all its checks come first, then only
// the rules that can apply, and it calls out only for what is rare (an RTT
// sample, an event, a move in the LRU list). update, which handles every
// other packet, makes calls on every packet, and across a call the
// compiler keeps live values on the stack. The lockstep tests
// (steady_test.go) hold steadyPacket to the results of update.

// steady finds k's flow and hands the packet to steadyPacket; it reports
// whether steadyPacket took it.
func (s *shard) steady(t *Table, k *flowKey, h uint64, srcIsB bool, p *decode.Packet, ts int64, frame uint64, out *PacketResult) bool {
	sl, found := s.last, s.lastIs(k)
	if !found {
		sl, _, found = s.lookup(k, h)
	}
	return found && s.steadyPacket(t, sl, srcIsB, p, ts, frame, out)
}

// steadyPacket is update for a steady segment of flow sl, established
// with its handshake settled, when the packet does not move the table's
// clock by a step and no flow of the shard is due to expire. For any other
// packet it changes nothing and returns false.
//
// Steady segments make up nearly all of an established connection: ACK
// without SYN, FIN, RST or window scale option, starting at the next
// expected sequence number, neither a duplicate ACK, a zero-window probe
// nor a spurious retransmission, and acknowledging nothing unseen. Of
// Wireshark's rules only zero_window, window_update and window_full can
// fire on them, and the state moves in few ways.
func (s *shard) steadyPacket(t *Table, sl uint32, srcIsB bool, p *decode.Packet, ts int64, frame uint64, out *PacketResult) bool {
	now := max(s.now, ts)
	g := t.clockFor(s)
	if now > g+clockStep {
		return false
	}
	now = max(now, g)
	hot := &s.hot[sl]
	if now >= s.nextExpiry ||
		p.Flags&(decode.Fragment|decode.ShortIPLength) != 0 || p.PayloadLen < 0 ||
		hot.state != StateEstablished || hot.fflags&(fSynAckSeen|fHandshake) == fSynAckSeen {
		return false
	}
	side := uint(0)
	if srcIsB {
		side = 1
	}
	f, r := &hot.dir[side], &hot.dir[side^1]
	seq, ack, window, seglen := p.Seq, p.Ack, uint32(p.Window), uint32(p.PayloadLen)
	if p.TCPFlags&(thSyn|thFin|thRst|thAck) != thAck || p.Has(decode.HasWScale) ||
		seq != f.nextSeq || seq == 0 || f.dflags&r.dflags&dBaseSet == 0 ||
		r.maxSeqToBeAcked != 0 && seqGT(ack, r.maxSeqToBeAcked) || // acknowledges unseen data
		seglen == 0 && ack == f.lastAck && window == f.window || // a duplicate ACK, or the ACK of a probe
		seglen == 1 && r.window == 0 || // a zero-window probe
		seglen > 0 && r.lastAck != 0 && seqLE(seq+seglen, r.lastAck) { // a spurious retransmission
		return false
	}

	s.st.packets++
	s.st.steady++
	s.now = now
	s.last = sl
	c := &s.cold[sl]
	dir := Direction(side)
	if hot.clientB {
		dir ^= 1
	}
	c.count(side, p, ts, frame)
	s.fillResult(out, sl, c, dir, false, p)

	// The rules of analyzeTCP that can apply to a steady segment.
	var ev EventSet
	if seglen == 0 {
		if ack == f.lastAck && window != 0 { // and window != f.window
			ev = ev.Add(WindowUpdate)
		}
	} else {
		if r.winScale != -1 {
			shift := uint32(0)
			if r.dflags&dFirstAck == 0 && r.winScale >= 0 {
				shift = uint32(r.winScale)
			}
			if seq+seglen == r.lastAck+(r.window<<(shift&31)) {
				ev = ev.Add(WindowFull)
			}
		}
		f.nextSeq = seq + seglen
		f.nextSeqTime = ts
	}
	if window == 0 {
		ev = ev.Add(ZeroWindow)
	}
	if ack != f.lastAck {
		f.dupAcks = 0
	}
	if seq == f.maxSeqToBeAcked || f.maxSeqToBeAcked == 0 {
		f.maxSeqToBeAcked = f.nextSeq
	}
	f.window, f.lastAck, f.lastAckTime = window, ack, ts
	f.dflags &^= dLastKeepAlive | dLastZWP | dFirstAck
	if hot.fflags&(fMruSyn|fIRTT) == fMruSyn {
		s.firstRTT(hot, c, ts)
	}
	out.RelSeq = seq - f.baseSeq
	out.RelAck = ack - r.baseSeq
	win := int64(window)
	if f.winScale >= 0 {
		win <<= uint(f.winScale) & 63
	} else if f.winScale == -1 {
		win = -1
	}
	out.Window, out.WinScale = win, f.winScale
	out.Analyzed = true

	// netblame's own rules, as in analyzeTCP for a segment that
	// acknowledges and is neither a retransmission nor a SYN or RST.
	if p.Has(decode.HasSACK) {
		c.sackPkts[side]++
	}
	w := uint32(win)
	if win < 0 {
		w = window
	}
	shrunk, oldWin, oldEdge := c.win[side].follow(ack, w)
	if shrunk {
		ev = ev.Add(WindowShrink)
		oldEdge -= r.baseSeq
	}
	if seglen > 0 { // new data (a steady segment starts at the next sequence number)
		c.sent(side, seq+seglen, ts)
	}
	if c.ringN[side^1] > 0 {
		if d := c.acked(side^1, ack, ts); d >= 0 {
			c.rtt.add(d)
		}
	}
	if p.Has(decode.HasTimestamps) {
		if d := c.echoed(side^1, p.TSEcr, ts); d >= 0 {
			c.rtt.add(d)
		}
		if seglen > 0 {
			c.arm(side, p.TSVal, ts)
		}
	}
	if ev != 0 {
		s.emitTCP(t, sl, ev, frame, ts, 0, out, windowMove{oldWin, w, oldEdge, ack + w - r.baseSeq})
	}
	out.Events = ev
	if hot.class != classEstablished || hot.lastTick != tickOf(ts) {
		s.touch(t, sl, classEstablished, ts)
	}
	return true
}
