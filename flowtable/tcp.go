package flowtable

import (
	"math"
	"time"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowrule"
)

// Sequence-space comparisons (RFC 1982 arithmetic on 32 bits).
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }
func seqLE(a, b uint32) bool { return int32(a-b) <= 0 }
func seqGT(a, b uint32) bool { return int32(a-b) > 0 }

const (
	fastRetransWindow = 20 * int64(time.Millisecond) // dup ACK to fast retransmission
	oooDefault        = 3 * int64(time.Millisecond)  // out-of-order threshold without iRTT
)

const (
	thSyn = decode.TCPSyn
	thAck = decode.TCPAck
	thFin = decode.TCPFin
	thRst = decode.TCPRst
)

// analyzeTCP runs Wireshark's sequence analysis for one segment sent by
// canonical side `side` (every rule: steadyPacket takes the common
// segments with the few that apply to them), then netblame's own:
// handshake and state, SACK use, window shrink, RTT samples. It fills out's
// relative numbers and scaled window, hands the segment's events to emit
// and returns them.
//
// RTT samples come from a data segment to the first ACK that covers it
// (never from retransmitted data, Karn's rule), and from a TSval sent with
// data to its echo.
func (s *shard) analyzeTCP(t *Table, sl uint32, hot *flowHot, c *flowCold, side uint, dir Direction, p *decode.Packet, now int64, frame uint64, reused bool, out *PacketResult) EventSet {
	side &= 1 // lets the compiler drop the bounds checks of the [2] arrays
	f, r := &hot.dir[side], &hot.dir[side^1]
	oldNext := f.nextSeq
	seq, ack := p.Seq, p.Ack
	flags := p.TCPFlags
	seglen := uint32(p.PayloadLen)
	window := uint32(p.Window)
	noSFR := flags&(thSyn|thFin|thRst) == 0

	var ev EventSet
	if reused {
		ev = ev.Add(ReusedPorts)
	}
	synRetrans := false
	if flags&(thSyn|thAck) == thSyn && f.dflags&dBaseSet != 0 && !reused {
		// A SYN repeating the known ISN: Wireshark rewinds nextseq so the
		// SYN counts as a retransmission. Newer Wireshark also marks it
		// "ports reused"; 4.0, whose counts we match, does not.
		f.nextSeq = f.maxSeqToBeAcked
		synRetrans = true
	}
	if flags&(thSyn|thAck) == thSyn|thAck && f.dflags&dBaseSet != 0 && seq != f.baseSeq {
		// A SYN-ACK with a new ISN: Wireshark re-bases the direction.
		f.baseSeq = seq
		ev = ev.Add(ReusedPorts)
	}

	if f.dflags&dBaseSet == 0 {
		f.baseSeq = flowrule.Base(p)
		f.dflags |= dBaseSet
	}
	if r.dflags&dBaseSet == 0 {
		if b, ok := flowrule.AckBase(p); ok {
			r.baseSeq = b
			r.dflags |= dBaseSet
		}
	}

	// The checks of tcp_analyze_sequence_number, in its order. A zero
	// window probe or a keep-alive/zero-window-probe ACK skips the rest of
	// the forward checks.
	if seglen == 1 && seq == f.nextSeq && r.window == 0 {
		ev = ev.Add(ZeroWindowProbe)
	} else {
		if window == 0 && noSFR {
			ev = ev.Add(ZeroWindow)
		}
		if f.nextSeq != 0 && seqGT(seq, f.nextSeq) && flags&thRst == 0 {
			ev = ev.Add(LostSegment)
		}
		if seglen <= 1 && seq == f.nextSeq-1 && noSFR {
			ev = ev.Add(KeepAlive)
		}
		if seglen == 0 && window != 0 && window != f.window && seq == f.nextSeq && ack == f.lastAck && noSFR {
			ev = ev.Add(WindowUpdate)
		}
		if seglen > 0 && r.winScale != -1 && noSFR {
			shift := uint32(0)
			if r.dflags&dFirstAck == 0 && r.winScale >= 0 {
				shift = uint32(r.winScale)
			}
			if seq+seglen == r.lastAck+(r.window<<(shift&31)) { // shift <= 14; the mask spares the >= 32 case
				ev = ev.Add(WindowFull)
			}
		}
		sameAck := seglen == 0 && seq == f.nextSeq && ack == f.lastAck && window == f.window && noSFR
		switch {
		case sameAck && window != 0 && r.dflags&dLastKeepAlive != 0:
			ev = ev.Add(KeepAliveAck)
		case sameAck && window == 0 && r.dflags&dLastZWP != 0:
			ev = ev.Add(ZeroWindowProbeAck)
		case sameAck && window != 0:
			if f.dupAcks == -1 {
				f.dupAcks = 1
			} else if f.dupAcks < math.MaxInt16 {
				f.dupAcks++
			}
			ev = ev.Add(DuplicateAck)
		}
	}
	if ack != f.lastAck {
		f.dupAcks = 0
	}

	// ACKed unseen segment: the ACK passes the highest contiguous data
	// seen from the other side. When the other side has sent data beyond
	// a hole (maxSeqToBeAcked < nextSeq) the boundary jumps to nextSeq, so
	// the hole is reported once. When the ACK passes everything seen, it
	// is reported once until the other side's ACK number changes: its
	// dup-ACK counter is parked at -1. This is Wireshark's rule with the
	// comparison that reproduces 4.0.17 on every shared capture and on the
	// generated one (its later code compares the other way round).
	if r.maxSeqToBeAcked != 0 && seqGT(ack, r.maxSeqToBeAcked) && flags&thAck != 0 {
		if seqLT(r.maxSeqToBeAcked, r.nextSeq) {
			r.maxSeqToBeAcked = r.nextSeq
			ev = ev.Add(AckLostSegment)
		} else {
			if r.dupAcks == 0 {
				ev = ev.Add(AckLostSegment)
			}
			r.dupAcks = -1
		}
	}

	// Retransmission, fast retransmission, spurious, out-of-order: only
	// for segments with data, SYN or FIN, and never for keep-alives.
	synFin := uint32(0)
	if flags&(thSyn|thFin) != 0 {
		synFin = 1
	}
	if (seglen > 0 || synFin != 0) && !ev.Has(KeepAlive) {
		notAdvanced := f.nextSeq != 0 && seqLT(seq, f.nextSeq)
		if seglen > 1 && f.nextSeq-1 == seq {
			notAdvanced = false // new data after a 1-byte probe
		}
		ooo := oooDefault
		if hot.fflags&fIRTT != 0 {
			ooo = c.firstRTT
		}
		switch {
		case seglen > 0 && r.lastAck != 0 && seqLE(seq+seglen, r.lastAck):
			ev = ev.Add(SpuriousRetransmission)
		case notAdvanced && r.dupAcks >= 2 && r.lastAck == seq && uint64(now-r.lastAckTime) < uint64(fastRetransWindow):
			ev = ev.Add(FastRetransmission)
		case notAdvanced && uint64(now-f.nextSeqTime) < uint64(ooo) && f.nextSeq != seq+seglen+synFin:
			ev = ev.Add(OutOfOrder)
		case notAdvanced:
			ev = ev.Add(Retransmission)
		}
	}
	retransDelay := int64(0)
	if ev.MatchesFilter(Retransmission) {
		retransDelay = now - f.nextSeqTime
		if c.ringN[side] > 0 {
			retransDelay = now - c.ring[side][c.ringHead[side]].t
		}
	}

	nextSeq := seq + seglen + synFin
	if (seqGT(nextSeq, f.nextSeq) || f.nextSeq == 0) && !ev.Has(ZeroWindowProbe) {
		f.nextSeq = nextSeq
		f.nextSeqTime = now
	}
	if (seq == f.maxSeqToBeAcked || f.maxSeqToBeAcked == 0) && !ev.Has(ZeroWindowProbe) {
		f.maxSeqToBeAcked = f.nextSeq
	}
	f.window = window
	f.lastAck = ack
	f.lastAckTime = now
	f.dflags &^= dLastKeepAlive | dLastZWP
	if ev.Has(KeepAlive) {
		f.dflags |= dLastKeepAlive
	}
	if ev.Has(ZeroWindowProbe) {
		f.dflags |= dLastZWP
	}

	// What Wireshark does after the analysis: options, window scale
	// check, SYN bookkeeping, iRTT.
	if p.Has(decode.HasWScale) {
		ws := p.WScale
		if ws > 14 {
			ws = 14
		}
		f.winScale = int8(ws)
	}
	if flags&thSyn != 0 {
		if p.Has(decode.HasMSS) {
			c.mss[side] = p.MSS
		}
		if f.winScale == -1 {
			f.winScale, r.winScale = -2, -2
		} else if flags&thAck != 0 && r.winScale == -2 {
			f.winScale = -2
		}
		if flags&thAck == 0 {
			c.mruSyn = now
			hot.fflags |= fMruSyn
		}
		f.dflags |= dFirstAck
	}
	if flags&(thSyn|thAck) == thAck {
		if hot.fflags&(fMruSyn|fIRTT) == fMruSyn {
			s.firstRTT(hot, c, now)
		}
		f.dflags &^= dFirstAck
	}

	// Relative numbers and scaled window, as Wireshark shows them.
	out.RelSeq = seq - f.baseSeq
	if flags&thAck != 0 {
		out.RelAck = ack - r.baseSeq
	}
	win := int64(window)
	switch {
	case flags&thSyn != 0, f.winScale == -2:
	case f.winScale >= 0:
		win <<= uint(f.winScale) & 63 // <= 14; the mask spares the >= 64 case
	default:
		win = -1
	}
	out.Window, out.WinScale = win, f.winScale

	// netblame's own analysis.
	// An established connection's segments without SYN, FIN or RST change
	// nothing handshake looks at, once the handshake's ACK was seen or
	// could not be (no SYN-ACK).
	if flags&(thSyn|thFin|thRst) != 0 || hot.state != StateEstablished || hot.fflags&(fSynAckSeen|fHandshake) == fSynAckSeen {
		s.handshake(hot, c, side, dir, flags, now)
	}
	if synRetrans {
		ev = ev.Add(SynRetransmission)
		c.synRetrans++
		retransDelay = now - c.synTime
	}
	if flags&thRst != 0 {
		ev = ev.Add(Reset)
		if c.resetBy == 0 {
			c.rstFirst, c.rstTime, c.rstFrame = 1<<side, now, int64(frame)
		}
		c.resetBy |= 1 << side
		f.dflags |= dSawRst
	}
	if flags&thFin != 0 {
		if c.finFirst == 0 {
			c.finFirst = 1 << side
		}
		f.dflags |= dSawFin
	}
	if ev.MatchesFilter(Retransmission) {
		c.retrans[side] += uint64(seglen)
	}

	// netblame's own: SACK use, window shrink, RTT samples.
	if p.Has(decode.HasSACK) {
		c.sackPkts[side]++
	}
	var oldWin, newWin, oldEdge, newEdge uint32
	if flags&thAck != 0 && flags&(thSyn|thRst) == 0 {
		newWin = uint32(p.Window)
		if out.Window >= 0 {
			newWin = uint32(out.Window)
		}
		shrunk := false
		if shrunk, oldWin, oldEdge = c.win[side].follow(ack, newWin); shrunk {
			ev = ev.Add(WindowShrink)
			oldEdge, newEdge = oldEdge-r.baseSeq, ack+newWin-r.baseSeq
		}
	}

	retrans := ev.MatchesFilter(Retransmission) || ev.Has(OutOfOrder)
	if seglen > 0 {
		if retrans {
			n, head := c.ringN[side], c.ringHead[side]
			for i := uint8(0); i < n; i++ {
				if e := &c.ring[side][(head+i)%ringSize]; seqGT(e.end, seq) {
					e.retrans = true
				}
			}
		} else if end := seq + seglen; oldNext == 0 || seqGT(end, oldNext) {
			c.sent(side, end, now)
		}
	}
	if flags&thAck != 0 && c.ringN[side^1] > 0 {
		if d := c.acked(side^1, ack, now); d >= 0 {
			c.rtt.add(d)
		}
	}
	if p.Has(decode.HasTimestamps) {
		if flags&thAck != 0 {
			if d := c.echoed(side^1, p.TSEcr, now); d >= 0 {
				c.rtt.add(d)
			}
		}
		if !retrans && (seglen > 0 || flags&(thSyn|thFin) != 0) {
			c.arm(side, p.TSVal, now)
		}
	}

	if ev != 0 {
		s.emitTCP(t, sl, ev, frame, now, retransDelay, out, windowMove{oldWin, newWin, oldEdge, newEdge})
	}
	return ev
}

// windowMove is how a segment moved its receiver's window: the scaled
// window and the (relative) right edge, before and after.
type windowMove struct{ oldWin, newWin, oldEdge, newEdge uint32 }

// emitTCP hands a segment's events to emit; delay is a retransmission's
// wait, w the window's move for a WindowShrink. It runs only for segments
// with events, so its arguments may be grouped; analyzeTCP, on every
// segment, keeps its long list of register arguments (a context struct
// built on the stack cost 25%: see the commit that reverted it).
func (s *shard) emitTCP(t *Table, sl uint32, ev EventSet, frame uint64, now int64, delay int64, out *PacketResult, w windowMove) {
	rec := EventRecord{
		Frame: frame, TS: now, Flow: out.Flow, Dir: out.Dir,
		Seq: out.RelSeq, Ack: out.RelAck, Len: out.Len, Window: out.Window,
		Delay: time.Duration(delay),
	}
	if ev.Has(WindowShrink) {
		rec.OldWindow, rec.NewWindow, rec.OldRightEdge, rec.NewRightEdge = int64(w.oldWin), int64(w.newWin), w.oldEdge, w.newEdge
	}
	s.emit(t, sl, ev, &rec)
}

// firstRTT sets Wireshark's iRTT at the first pure ACK after a SYN (a zero
// difference leaves it unset, as there).
func (s *shard) firstRTT(hot *flowHot, c *flowCold, now int64) {
	if c.mruSyn != 0 {
		if c.firstRTT = now - c.mruSyn; c.firstRTT != 0 {
			hot.fflags |= fIRTT
		}
	}
}

// handshake records handshake times and moves the connection state.
func (s *shard) handshake(hot *flowHot, c *flowCold, side uint, dir Direction, flags decode.TCPFlags, now int64) {
	side &= 1
	switch {
	case flags&thRst != 0:
		hot.state = StateReset
	case flags&(thSyn|thAck) == thSyn:
		if c.synTime == 0 {
			c.synTime = now
		}
		if hot.state == StateNone {
			hot.state = StateSynSent
		}
	case flags&(thSyn|thAck) == thSyn|thAck:
		if c.synAckTime == 0 {
			c.synAckTime = now
			hot.fflags |= fSynAckSeen
		}
		if hot.state <= StateSynSent {
			hot.state = StateSynReceived
		}
	case flags&thAck != 0:
		if hot.fflags&(fSynAckSeen|fHandshake) == fSynAckSeen && dir == ClientToServer {
			c.ackTime = now
			hot.fflags |= fHandshake
		}
		if hot.state <= StateSynReceived {
			hot.state = StateEstablished
		}
	}
	if flags&thFin != 0 && hot.state != StateReset {
		if hot.dir[side^1].dflags&dSawFin != 0 {
			hot.state = StateClosed
		} else {
			hot.state = StateFinWait
		}
	}
	if hot.state == StateNone {
		hot.state = StateEstablished // joined mid-stream
	}
}
