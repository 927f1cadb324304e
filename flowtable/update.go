package flowtable

import (
	"math/bits"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowrule"
)

// update is the per-packet work, with the shard locked (or owned).
// It reports whether it advanced the table's clock (then the caller
// sweeps another shard for expired flows).
func (s *shard) update(t *Table, k *flowKey, h uint64, srcIsB bool, p *decode.Packet, ts int64, frame uint64, out *PacketResult) (tick bool) {
	s.st.packets++
	if ts > s.now {
		s.now = ts
	}
	// Packet time is table-wide, so that a shard without traffic still
	// expires its flows. The shared clock is written at most once per
	// clockStep of packet time, to keep its cache line mostly read.
	if g := t.clockFor(s); s.now > g+clockStep {
		tick = t.extClock || t.clock.CompareAndSwap(g, s.now)
	} else if g > s.now {
		s.now = g
	}
	if s.now >= s.nextExpiry {
		s.expire(t, maxExpirePerUpdate)
	}
	side := 0
	if srcIsB {
		side = 1
	}
	isTCP := p.Proto == decode.ProtoTCP
	syn := isTCP && p.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn

	// Most packets continue the flow of the shard's previous packet (a
	// burst, or its reply): check that slot before probing the index.
	sl, found := s.last, s.lastIs(k)
	if !found {
		sl, _, found = s.lookup(k, h)
	}
	reused := false
	if found && syn {
		// The rule correlate follows too (flowrule.Reuses): a SYN with
		// another ISN than its direction's base starts a new connection.
		d := &s.hot[sl].dir[side]
		if flowrule.Reuses(p, d.baseSeq, d.dflags&dBaseSet != 0) {
			s.end(t, sl, EndPortReuse)
			found, reused = false, true
		}
	}
	if !found {
		sl = s.create(t, k, h, ts, frame)
		s.initFlow(sl, side, p)
	}
	s.last = sl
	hot, c := &s.hot[sl], &s.cold[sl]
	if syn && hot.fflags&fSawSyn == 0 {
		hot.fflags |= fSawSyn
		hot.clientB = side == 1
	}
	dir := Direction(side)
	if hot.clientB {
		dir ^= 1
	}

	c.count(uint(side), p, ts, frame)
	s.fillResult(out, sl, c, dir, !found, p)

	class := uint8(classUDP)
	if isTCP {
		// Wireshark does not analyse a segment whose length it cannot
		// know: an IP fragment (it would reassemble first) or a header
		// claiming more than the datagram holds.
		if !p.Has(decode.Fragment) && !p.Has(decode.ShortIPLength) && p.PayloadLen >= 0 {
			ev := s.analyzeTCP(t, sl, hot, c, uint(side), dir, p, ts, frame, reused, out)
			out.Analyzed = true
			out.Events = ev
		}
		class = stateClass(hot.state)
	}
	// touch would only rewrite the same tick (most packets of a busy flow
	// come within the tick of the one before).
	if hot.class != class || hot.lastTick != tickOf(ts) {
		s.touch(t, sl, class, ts)
	}
	return tick
}

// count adds a packet of canonical side `side` to the flow's statistics.
func (c *flowCold) count(side uint, p *decode.Packet, ts int64, frame uint64) {
	side &= 1
	c.packets[side]++
	c.bytes[side] += uint64(p.IPLen)
	c.payload[side] += uint64(p.PayloadLen)
	c.lastFrame = frame
	c.lastTS = max(c.lastTS, ts)
}

// fillResult sets what every tracked packet's result holds.
func (s *shard) fillResult(out *PacketResult, sl uint32, c *flowCold, dir Direction, newFlow bool, p *decode.Packet) {
	// Cleared, then set field by field: a composite literal would be
	// built on the stack and copied with loads straddling its stores.
	*out = PacketResult{}
	out.Tracked = true
	out.Flow = makeFlowID(s.id, sl, c.gen)
	out.Index = c.index
	out.Dir = dir
	out.NewFlow = newFlow
	out.Len = uint32(p.PayloadLen)
	out.Window, out.WinScale = -1, -1
}

// lastIs reports whether k is the key of the flow of the shard's previous
// packet, and that flow is live.
func (s *shard) lastIs(k *flowKey) bool {
	h := &s.hot[s.last]
	return h.fflags&fLive != 0 && h.key.equal(k)
}

// sweep expires due flows of a shard that may see no packets of its own.
// With lock set it only tries the lock (never waits).
func (t *Table) sweep(s *shard, lock bool) {
	if lock && !s.mu.TryLock() {
		return
	}
	if g := t.clockFor(s); g > s.now {
		s.now = g
	}
	if s.now >= s.nextExpiry {
		s.expire(t, maxExpirePerUpdate)
	}
	if lock {
		s.mu.Unlock()
	}
}

// clockFor is the table's packet time as shard s sees it now: the shared
// clock, or with an external clock what the shard's owner was told.
func (t *Table) clockFor(s *shard) int64 {
	if t.extClock {
		return s.g
	}
	return t.clock.Load()
}

// initFlow settles a new flow's client (flowrule's rule) and kind.
func (s *shard) initFlow(sl uint32, side int, p *decode.Packet) {
	hot := &s.hot[sl]
	if p.Proto == decode.ProtoTCP {
		hot.fflags |= fTCP
		s.st.tcp++
	} else {
		s.st.udp++
	}
	clientSide := side
	if !flowrule.SourceIsClient(p) {
		clientSide = 1 - side
	}
	hot.clientB = clientSide == 1
}

func stateClass(st State) uint8 {
	switch st {
	case StateSynSent, StateSynReceived:
		return classHalfOpen
	case StateFinWait, StateClosed, StateReset:
		return classClosing
	}
	return classEstablished
}

// emit counts the events of one packet and hands each to OnEvent.
func (s *shard) emit(t *Table, sl uint32, ev EventSet, rec *EventRecord) {
	c := &s.cold[sl]
	for rest := uint32(ev); rest != 0; rest &= rest - 1 {
		e := Event(bits.TrailingZeros32(rest))
		c.events[e]++
		s.st.events[e]++
		if t.onEvent != nil {
			r := &t.evBuf[s.id]
			*r = *rec
			r.Kind = e
			if e != WindowShrink {
				r.OldWindow, r.NewWindow, r.OldRightEdge, r.NewRightEdge = 0, 0, 0, 0
			}
			t.onEvent(r)
		}
	}
}
