package flowtable

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/netblame/netblame/decode"
)

// Table is a fixed-capacity, lock-sharded flow table. Make one with New.
type Table struct {
	shards     []*shard
	shardShift uint // hash >> shardShift picks the shard
	seed       uint64
	perShard   int
	ignoreVLAN bool

	timeouts          [numClasses]int64
	grainShift        [numClasses]uint8 // see shard.touch
	emergencyTimeouts [numClasses]int64
	onEvent           func(*EventRecord)
	onExpire          func(*FlowRecord)

	// Per-shard scratch records handed to the callbacks, so that no
	// record escapes to the heap per call.
	recBuf []FlowRecord
	evBuf  []EventRecord

	clock     atomic.Int64 // highest packet time, updated in clockStep steps
	nextIndex atomic.Uint64
	untracked atomic.Uint64
	misrouted atomic.Uint64
	sweepNext atomic.Uint32
	// sweepPerTick: shards swept each time the clock advances a step.
	sweepPerTick int
	// extClock: packet time comes from each shard's g, which the
	// owners set from what their dispatcher passes (ExternalClock).
	extClock bool
	// noShortcuts turns off the owner's reuse of the last packet's key
	// and steadyPacket (tests compare the results with and without them).
	noShortcuts bool
}

const clockStep = int64(time.Millisecond)

// New allocates a table with all its storage.
func New(cfg Config) (*Table, error) {
	nshards, perShard, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	t := &Table{
		shards:            make([]*shard, nshards),
		shardShift:        uint(64 - bits.TrailingZeros(uint(nshards))),
		seed:              cfg.Seed,
		perShard:          perShard,
		ignoreVLAN:        cfg.IgnoreVLAN,
		timeouts:          cfg.Timeouts.withDefaults(DefaultTimeouts),
		emergencyTimeouts: cfg.EmergencyTimeouts.withDefaults(DefaultEmergencyTimeouts),
		onEvent:           cfg.OnEvent,
		onExpire:          cfg.OnExpire,
		recBuf:            make([]FlowRecord, nshards),
		evBuf:             make([]EventRecord, nshards),
	}
	if t.seed == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
		}
		t.seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	for c := range t.grainShift {
		grain := min(t.timeouts[c], t.emergencyTimeouts[c]) / 16 >> tickShift
		for t.grainShift[c] < 31 && int64(2)<<t.grainShift[c] <= grain {
			t.grainShift[c]++
		}
	}
	startPrefaulter()
	storage := newShardStorage(nshards, perShard)
	for i := range t.shards {
		t.shards[i] = newShardIn(uint32(i), perShard, &storage)
		t.shards[i].prefaultNew()
	}
	t.sweepPerTick = 1 + nshards/64
	return t, nil
}

// Shards returns the number of shards.
func (t *Table) Shards() int { return len(t.shards) }

// Capacity returns the most flows the table holds.
func (t *Table) Capacity() int { return t.perShard * len(t.shards) }

// ShardOf returns the shard p's flow lives in (both directions map to the
// same shard), or -1 when p is not TCP or UDP. Owner-mode callers use it to
// route packets to the goroutine owning that shard.
func (t *Table) ShardOf(p *decode.Packet) int {
	var k flowKey
	if _, ok := makeKey(p, t.ignoreVLAN, &k); !ok {
		return -1
	}
	return int(hashKey(&k, t.seed) >> t.shardShift)
}

// Update feeds one decoded packet: ts is its time in ns since the epoch and
// frame its 1-based frame number. It locks the packet's shard. It does not
// allocate.
func (t *Table) Update(p *decode.Packet, ts int64, frame uint64, out *PacketResult) {
	var k flowKey
	srcIsB, ok := makeKey(p, t.ignoreVLAN, &k)
	if !ok {
		t.untracked.Add(1)
		*out = PacketResult{}
		return
	}
	h := hashKey(&k, t.seed)
	s := t.shards[h>>t.shardShift]
	s.mu.Lock()
	tick := false
	if t.noShortcuts || !s.steady(t, &k, h, srcIsB, p, ts, frame, out) {
		tick = s.update(t, &k, h, srcIsB, p, ts, frame, out)
	}
	s.mu.Unlock()
	if tick {
		for i := 0; i < t.sweepPerTick; i++ {
			t.sweep(t.shards[t.sweepNext.Add(1)&uint32(len(t.shards)-1)], true)
		}
	}
}

// Owner updates a set of shards without locking (owner mode, as with
// fanout-hash workers): one goroutine uses it, and no other goroutine may
// update those shards, nor call Flow, Flows, Flush, Stats or Expire while
// owners run. Make one with Table.Owner.
type Owner struct {
	// Owners run on different cores: the padding keeps the fields that
	// each Update writes off other owners' cache lines.
	_      [64]byte
	t      *Table
	owned  []bool // by shard
	shards []int
	next   int
	key    flowKey // the last packet's key (scratch, not cleared on the stack each call)
	last   lastTuple
	// The keys Prefetch made, for the Updates that follow it.
	pre         [prefetchMax]prefetched
	preAt, preN int
	lines       [prefetchMax * (linesPerFlow + 1)]unsafe.Pointer // Prefetch's list
	_           [64]byte
}

// lastTuple is the last packet's addresses, ports and protocol as they
// stood in the packet, with what Update derived from them: most packets
// continue the flow of the packet before (a burst, or its reply), and for
// them the owner reuses key, hash and shard instead of building them
// again.
type lastTuple struct {
	ports, portsRev uint32    // source << 16 | destination, and the reply's
	addrs           uint64    // IPv4: source << 32 | destination
	src6, dst6      [2]uint64 // IPv6: the addresses as words
	version         uint8
	proto           decode.IPProto // 0: no last packet
	srcIsB          bool
	shard           *shard
	hash            uint64
}

// Addresses are compared in memory order, and loaded at the width decode
// stored them with (an IPv4 address is 4 bytes after a 16-byte clear): a
// wider load would wait for both stores to retire.

func portPair(p *decode.Packet) uint32 { return uint32(p.SrcPort)<<16 | uint32(p.DstPort) }

func addrPair4(p *decode.Packet) uint64 {
	return uint64(binary.NativeEndian.Uint32(p.SrcIP[:4]))<<32 | uint64(binary.NativeEndian.Uint32(p.DstIP[:4]))
}

func words6(a *[16]byte) [2]uint64 {
	return [2]uint64{binary.NativeEndian.Uint64(a[:8]), binary.NativeEndian.Uint64(a[8:])}
}

// memoable reports whether p's key is made of what lastTuple holds: an IP
// TCP or UDP packet without a VLAN tag (or VLANs are ignored).
func memoable(p *decode.Packet, ignoreVLAN bool) bool {
	return p.Layer == decode.LayerTransport && (p.VLANCount == 0 || ignoreVLAN)
}

// set remembers p, whose key Update built.
func (m *lastTuple) set(p *decode.Packet, srcIsB bool, s *shard, h uint64) {
	pp := portPair(p)
	m.ports, m.portsRev, m.version, m.proto = pp, bits.RotateLeft32(pp, 16), p.IPVersion, p.Proto
	if p.IPVersion == 4 {
		m.addrs = addrPair4(p)
	} else {
		m.src6, m.dst6 = words6(&p.SrcIP), words6(&p.DstIP)
	}
	m.srcIsB, m.shard, m.hash = srcIsB, s, h
}

// match reports whether p, whose ports pp are the last packet's or their
// reverse, belongs to the last packet's flow, and if so whether p's source
// is endpoint B.
func (m *lastTuple) match(p *decode.Packet, pp uint32, ignoreVLAN bool) (srcIsB, ok bool) {
	if p.Proto != m.proto || p.IPVersion != m.version || !memoable(p, ignoreVLAN) {
		return false, false
	}
	if p.IPVersion == 4 {
		a := addrPair4(p)
		if pp == m.ports && a == m.addrs {
			return m.srcIsB, true
		}
		return !m.srcIsB, pp == m.portsRev && a == bits.RotateLeft64(m.addrs, 32) // the reply
	}
	src, dst := words6(&p.SrcIP), words6(&p.DstIP)
	if pp == m.ports && src == m.src6 && dst == m.dst6 {
		return m.srcIsB, true
	}
	return !m.srcIsB, pp == m.portsRev && src == m.dst6 && dst == m.src6
}

// Owner returns an owner of the given shards (indexes as ShardOf returns).
func (t *Table) Owner(shards ...int) (*Owner, error) {
	o := &Owner{t: t, owned: make([]bool, len(t.shards))}
	for _, i := range shards {
		if i < 0 || i >= len(t.shards) || o.owned[i] {
			return nil, fmt.Errorf("%w: shard %d not in [0, %d) or given twice", ErrConfig, i, len(t.shards))
		}
		o.owned[i] = true
		o.shards = append(o.shards, i)
	}
	return o, nil
}

// SoleOwner returns an owner of every shard: for a single goroutine that
// feeds the whole table (reading a file), which then takes no locks. The
// rules of Owner apply; between its Updates the same goroutine may call
// Flow, Flows, Flush, Stats and Expire.
func (t *Table) SoleOwner() *Owner {
	o := &Owner{t: t, owned: make([]bool, len(t.shards)), shards: make([]int, len(t.shards))}
	for i := range t.shards {
		o.owned[i] = true
		o.shards[i] = i
	}
	return o
}

// Update is Table.Update without locking. A packet of a shard the owner
// does not own is not processed: out.Tracked is false and it is counted in
// TableStats.Misrouted.
func (o *Owner) Update(p *decode.Packet, ts int64, frame uint64, out *PacketResult) {
	o.update(p, ts, frame, out, false, 0)
}

// UpdateAt is Update for a table on an external clock (see
// Table.ExternalClock): clock is the table's packet time as of this
// packet, before it, which the dispatcher's Clock.Advance returned. The
// owner never sweeps other shards on its own: the dispatcher tells it to
// (Sweep).
func (o *Owner) UpdateAt(p *decode.Packet, ts int64, frame uint64, clock int64, out *PacketResult) {
	o.update(p, ts, frame, out, true, clock)
}

// Sweep expires the due flows of an owned shard at packet time clock,
// as the dispatcher's Clock.Advance said; a shard the owner does not own
// is left alone.
func (o *Owner) Sweep(shard int, clock int64) {
	if shard < 0 || shard >= len(o.owned) || !o.owned[shard] {
		return
	}
	s := o.t.shards[shard]
	s.g = clock
	o.t.sweep(s, false)
}

func (o *Owner) update(p *decode.Packet, ts int64, frame uint64, out *PacketResult, ext bool, clock int64) {
	t := o.t
	k, s, h, srcIsB := o.keyOf(p)
	if s == nil {
		*out = PacketResult{}
		return
	}
	if ext {
		s.g = clock
	}
	if !t.noShortcuts && s.steady(t, k, h, srcIsB, p, ts, frame, out) {
		return
	}
	if s.update(t, k, h, srcIsB, p, ts, frame, out) && !ext && len(o.shards) > 1 {
		o.next++
		if o.next >= len(o.shards) {
			o.next = 0
		}
		t.sweep(t.shards[o.shards[o.next]], false)
	}
}

// keyOf returns p's key, shard, hash and whether its source is endpoint B,
// reusing what Prefetch or the last packet made when it can. A nil shard
// means p is not for this owner (untracked or misrouted, counted).
func (o *Owner) keyOf(p *decode.Packet) (k *flowKey, s *shard, h uint64, srcIsB bool) {
	if e := o.prefetched(p); e != nil {
		return &e.key, e.tup.shard, e.tup.hash, e.tup.srcIsB
	}
	t, m := o.t, &o.last
	k = &o.key
	// The ports tell most other flows apart; match checks the rest.
	if pp := portPair(p); pp == m.ports || pp == m.portsRev {
		if srcIsB, ok := m.match(p, pp, t.ignoreVLAN); ok {
			return k, m.shard, m.hash, srcIsB
		}
	}
	m.proto = 0
	srcIsB, ok := makeKey(p, t.ignoreVLAN, k)
	if !ok {
		t.untracked.Add(1)
		return nil, nil, 0, false
	}
	h = hashKey(k, t.seed)
	i := h >> t.shardShift
	if !o.owned[i] {
		t.misrouted.Add(1)
		return nil, nil, 0, false
	}
	s = t.shards[i]
	if !t.noShortcuts && memoable(p, t.ignoreVLAN) {
		m.set(p, srcIsB, s, h)
	}
	return k, s, h, srcIsB
}

// Expire advances packet time to now on every shard and ends every flow
// whose idle timeout has passed (for live capture when traffic pauses).
func (t *Table) Expire(now int64) {
	if g := t.clock.Load(); now > g {
		t.clock.CompareAndSwap(g, now)
	}
	for _, s := range t.shards {
		s.mu.Lock()
		if now > s.now {
			s.now = now
		}
		for {
			sl, d := s.earliest(t)
			if sl == nilSlot || d > s.now {
				s.nextExpiry = d
				break
			}
			s.end(t, sl, EndIdle)
		}
		s.checkEmergencyExit()
		s.mu.Unlock()
	}
}

// Flush hands every live flow to OnExpire (with EndFlushed) and empties the
// table: call it at the end of the input.
func (t *Table) Flush() {
	for _, s := range t.shards {
		s.mu.Lock()
		for c := range s.head {
			for s.head[c] != nilSlot {
				s.end(t, s.head[c], EndFlushed)
			}
		}
		s.emergency = false
		s.nextExpiry = 1<<63 - 1
		s.mu.Unlock()
	}
}

// Flow returns a snapshot of a live flow; false when id no longer names
// one.
func (t *Table) Flow(id FlowID) (FlowRecord, bool) {
	sh, sl, gen := id.parts()
	if int(sh) >= len(t.shards) {
		return FlowRecord{}, false
	}
	s := t.shards[sh]
	s.mu.Lock()
	defer s.mu.Unlock()
	if int(sl) >= len(s.hot) || s.cold[sl].gen&genMask != gen || !s.isLive(sl) {
		return FlowRecord{}, false
	}
	var r FlowRecord
	s.record(sl, EndNone, &r)
	return r, true
}

// Flows calls fn with a snapshot of every live flow (shard by shard, each
// locked while it is walked; fn must not call into the table).
func (t *Table) Flows(fn func(*FlowRecord)) {
	var r FlowRecord
	for _, s := range t.shards {
		s.mu.Lock()
		for c := range s.head {
			for sl := s.head[c]; sl != nilSlot; sl = s.links[sl].next {
				s.record(sl, EndNone, &r)
				fn(&r)
			}
		}
		s.mu.Unlock()
	}
}

// Stats sums the shards' counters.
func (t *Table) Stats() TableStats {
	st := TableStats{Untracked: t.untracked.Load(), Misrouted: t.misrouted.Load(), Shards: len(t.shards), Capacity: t.Capacity()}
	for _, s := range t.shards {
		s.mu.Lock()
		st.Packets += s.st.packets
		st.Created += s.st.created
		st.TCPFlows += s.st.tcp
		st.UDPFlows += s.st.udp
		st.Live += uint64(s.live)
		st.Expired += s.st.expired
		st.Evicted += s.st.evicted
		st.Flushed += s.st.flushed
		st.PortReuse += s.st.reused
		st.EmergencyEntries += s.st.emergencyEntries
		if s.emergency {
			st.Emergency++
		}
		for i, n := range s.st.events {
			st.Events[i] += n
		}
		st.MemoryBytes += s.bytes()
		s.mu.Unlock()
	}
	st.Packets += st.Untracked
	return st
}

// isLive reports whether slot sl holds a flow.
func (s *shard) isLive(sl uint32) bool { return s.hot[sl].fflags&fLive != 0 }

// record fills r from slot sl.
func (s *shard) record(sl uint32, why EndReason, r *FlowRecord) {
	h, c := &s.hot[sl], &s.cold[sl]
	cs := 0 // canonical side of the client
	if h.clientB {
		cs = 1
	}
	*r = FlowRecord{
		ID:         makeFlowID(s.id, sl, c.gen),
		Index:      c.index,
		End:        why,
		Client:     h.key.endpoint(cs),
		Server:     h.key.endpoint(1 - cs),
		Proto:      h.key.proto(),
		VLAN:       h.key.vlan(),
		State:      h.state,
		First:      c.first,
		Last:       c.lastTS,
		FirstFrame: uint64(c.firstFrame),
		LastFrame:  c.lastFrame,
		SynTime:    c.synTime, SynAckTime: c.synAckTime, AckTime: c.ackTime,
		IRTT:               time.Duration(c.firstRTT),
		SynRetransmissions: c.synRetrans,
		RTTSamples:         c.rtt.n,
		RTTMin:             time.Duration(c.rtt.min),
		RTTMedian:          time.Duration(c.rtt.median()),
		RTTMax:             time.Duration(c.rtt.max),
		Events:             c.events,
	}
	if c.synTime != 0 && c.synAckTime != 0 {
		r.SynToSynAck = time.Duration(c.synAckTime - c.synTime)
	}
	if c.synAckTime != 0 && c.ackTime != 0 {
		r.SynAckToAck = time.Duration(c.ackTime - c.synAckTime)
	}
	for d := 0; d < 2; d++ {
		side := d ^ cs
		r.Packets[d] = c.packets[side]
		r.Bytes[d] = c.bytes[side]
		r.Payload[d] = c.payload[side]
		r.RetransBytes[d] = c.retrans[side]
		r.MSS[d] = c.mss[side]
		r.SACKPackets[d] = c.sackPkts[side]
		r.WindowScale[d] = h.dir[side].winScale
		if c.resetBy&(1<<side) != 0 {
			r.ResetBy |= sideOf(Direction(d))
		}
		if c.finFirst&(1<<side) != 0 {
			r.FinFirstBy = sideOf(Direction(d))
		}
		if c.rstFirst&(1<<side) != 0 {
			r.FirstResetBy, r.FirstResetTS, r.FirstResetFrame = sideOf(Direction(d)), c.rstTime, uint64(c.rstFrame)
		}
	}
}
