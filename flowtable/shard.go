package flowtable

import (
	"sync"
	"unsafe"
)

// shard is one independently locked part of the table: preallocated slabs
// of flows, an open-addressing index over them and one LRU list per
// timeout class.
type shard struct {
	mu sync.Mutex

	hot   []flowHot
	cold  []flowCold
	links []link
	// idx is a linear-probing hash index: each entry is the low 32 bits of
	// the key's hash (which also give its home bucket) and slot+1; 0 is an
	// empty bucket. Deletion shifts entries back, so there are no
	// tombstones.
	idx     []uint64
	idxMask uint64
	free    []uint32 // stack of freed slots
	nfree   int
	fresh   uint32 // slots fresh and above were never used
	// prefaulted: slots below it were handed to the prefaulter;
	// idxPrefaultAt: the index is, once fresh reaches it (0: it was).
	prefaulted, idxPrefaultAt uint32

	head, tail [numClasses]uint32
	count      [numClasses]int
	live       int

	id         uint32
	last       uint32 // slot of the last packet's flow (may have ended since)
	now        int64  // highest packet time seen by this shard
	g          int64  // the table's clock for this packet, with an external clock
	nextExpiry int64  // no flow expires before this time
	emergency  bool

	st shardStats
	_  [64]byte // keep neighbouring shards' locks off this cache line
}

type shardStats struct {
	packets, created, tcp, udp        uint64
	expired, evicted, flushed, reused uint64
	emergencyEntries                  uint64
	steady                            uint64 // packets steadyPacket took
	events                            [NumEvents]uint64
}

const maxExpirePerUpdate = 8

// shardStorage is every shard's slots, allocated at once: a few large
// allocations cost the Go runtime less than a few per shard.
type shardStorage struct {
	hot   []flowHot
	cold  []flowCold
	links []link
	idx   []uint64
	free  []uint32
}

// idxSize is the index length for n slots: a power of two, at least 2n.
func idxSize(n int) int {
	size := 8
	for size < 2*n {
		size *= 2
	}
	return size
}

func newShardStorage(shards, n int) shardStorage {
	// free is untouched until flows end, so its pages are never faulted
	// in by a run whose flows all stay.
	return shardStorage{
		hot: make([]flowHot, shards*n), cold: make([]flowCold, shards*n), links: make([]link, shards*n),
		idx: make([]uint64, shards*idxSize(n)), free: make([]uint32, shards*n),
	}
}

// take returns the next n slots (and their index and free stack) of st.
func (st *shardStorage) take(n int) (hot []flowHot, cold []flowCold, links []link, idx []uint64, free []uint32) {
	size := idxSize(n)
	hot, st.hot = st.hot[:n:n], st.hot[n:]
	cold, st.cold = st.cold[:n:n], st.cold[n:]
	links, st.links = st.links[:n:n], st.links[n:]
	idx, st.idx = st.idx[:size:size], st.idx[size:]
	free, st.free = st.free[:n:n], st.free[n:]
	return
}

// newShardIn makes shard id of n slots from storage st.
func newShardIn(id uint32, n int, st *shardStorage) *shard {
	s := &shard{id: id}
	s.hot, s.cold, s.links, s.idx, s.free = st.take(n)
	s.idxMask = uint64(len(s.idx) - 1)
	for c := range s.head {
		s.head[c], s.tail[c] = nilSlot, nilSlot
	}
	s.nextExpiry = 1<<63 - 1
	return s
}

func (s *shard) bytes() int64 {
	return int64(len(s.hot))*int64(unsafe.Sizeof(flowHot{})) +
		int64(len(s.cold))*int64(unsafe.Sizeof(flowCold{})) +
		int64(len(s.links))*int64(unsafe.Sizeof(link{})) +
		int64(len(s.idx))*8 + int64(len(s.free))*4 +
		int64(unsafe.Sizeof(shard{}))
}

// lookup finds the slot of k. When it is absent, pos is the empty bucket
// where it would go.
func (s *shard) lookup(k *flowKey, h uint64) (slot uint32, pos uint64, found bool) {
	tag := uint32(h)
	pos = h & s.idxMask
	for {
		e := s.idx[pos]
		if e == 0 {
			return 0, pos, false
		}
		if uint32(e>>32) == tag {
			sl := uint32(e) - 1
			if s.hot[sl].key.equal(k) {
				return sl, pos, true
			}
		}
		pos = (pos + 1) & s.idxMask
	}
}

// idxRemove deletes slot's entry (hash h) and shifts later entries of the
// probe run back into the hole.
func (s *shard) idxRemove(h uint64, slot uint32) {
	mask := s.idxMask
	want := uint64(uint32(h))<<32 | uint64(slot+1)
	i := h & mask
	for s.idx[i] != want {
		if s.idx[i] == 0 {
			return // not indexed (cannot happen)
		}
		i = (i + 1) & mask
	}
	j := i
	for {
		j = (j + 1) & mask
		e := s.idx[j]
		if e == 0 {
			break
		}
		home := (e >> 32) & mask
		// The entry at j may move to the hole i unless its home lies
		// cyclically in (i, j].
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			s.idx[i] = e
			i = j
		}
	}
	s.idx[i] = 0
}

// LRU lists, one per timeout class, ordered by the time each flow was
// placed at the tail. To spare the list surgery (three cache misses) on
// every packet, a flow is moved to the tail only when it was placed more
// than 1/16 of its class timeout ago; in between only its last-seen time
// is updated. The order is therefore approximate within that granularity,
// and a head that was seen since it was placed is re-queued when expiry or
// eviction looks at it.

func (s *shard) lruUnlink(sl uint32) {
	l := &s.links[sl]
	c := s.hot[sl].class
	if l.prev != nilSlot {
		s.links[l.prev].next = l.next
	} else {
		s.head[c] = l.next
	}
	if l.next != nilSlot {
		s.links[l.next].prev = l.prev
	} else {
		s.tail[c] = l.prev
	}
	s.count[c]--
}

func (s *shard) lruPush(t *Table, sl uint32, c uint8, tk uint32) {
	l := &s.links[sl]
	l.placed = tk
	s.hot[sl].lastTick = tk
	l.next = nilSlot
	l.prev = s.tail[c]
	if s.tail[c] != nilSlot {
		s.links[s.tail[c]].next = sl
	} else {
		s.head[c] = sl
		if d := s.deadline(t, sl, c); d < s.nextExpiry {
			s.nextExpiry = d
		}
	}
	s.tail[c] = sl
	s.hot[sl].class = c
	s.count[c]++
}

// touch records activity at now in class c. The flow moves to the tail
// when its class changes or when now is in a later grain (1/16 of the
// class timeout, a power of two of ticks) than its previous packet.
func (s *shard) touch(t *Table, sl uint32, c uint8, now int64) {
	h := &s.hot[sl]
	tk := tickOf(now)
	if int32(tk-h.lastTick) < 0 {
		tk = h.lastTick // out-of-order timestamps never make a flow older
	}
	old := h.lastTick
	h.lastTick = tk
	if h.class == c && (s.tail[c] == sl || tk>>t.grainShift[c] == old>>t.grainShift[c]) {
		return
	}
	s.lruUnlink(sl)
	s.lruPush(t, sl, c, tk)
}

// requeueHeads moves to the tail the heads of class c that were seen since
// they were placed (at most a few per call).
func (s *shard) requeueHeads(t *Table, c uint8) {
	for n := 0; n < 8; n++ {
		h := s.head[c]
		if h == nilSlot || h == s.tail[c] || s.hot[h].lastTick == s.links[h].placed {
			return
		}
		s.lruUnlink(h)
		s.lruPush(t, h, c, s.hot[h].lastTick)
	}
}

// lastTime converts a flow's last tick back to ns, rounded up, relative
// to the shard's clock.
func (s *shard) lastTime(sl uint32) int64 {
	return s.now - int64(tickOf(s.now)-s.hot[sl].lastTick)<<tickShift + tickNs
}

// deadline is when flow sl (in class c) expires if it stays idle.
func (s *shard) deadline(t *Table, sl uint32, c uint8) int64 {
	return s.lastTime(sl) + s.timeout(t, c)
}

func (s *shard) timeout(t *Table, c uint8) int64 {
	if s.emergency {
		return t.emergencyTimeouts[c]
	}
	return t.timeouts[c]
}

// expire ends up to max flows whose idle timeout passed at s.now, oldest
// deadline first, and recomputes nextExpiry.
func (s *shard) expire(t *Table, max int) {
	for n := 0; n < max; n++ {
		sl, deadline := s.earliest(t)
		if sl == nilSlot || deadline > s.now {
			s.nextExpiry = deadline
			s.checkEmergencyExit()
			return
		}
		s.end(t, sl, EndIdle)
	}
	s.nextExpiry = s.now // more may be due: look again next packet
}

// earliest returns the flow whose idle deadline comes first, and that
// deadline (max int64 when the shard is empty).
func (s *shard) earliest(t *Table) (uint32, int64) {
	best, bestD := nilSlot, int64(1<<63-1)
	for c := uint8(0); c < numClasses; c++ {
		s.requeueHeads(t, c)
		if h := s.head[c]; h != nilSlot {
			if d := s.deadline(t, h, c); d < bestD {
				best, bestD = h, d
			}
		}
	}
	return best, bestD
}

func (s *shard) checkEmergencyExit() {
	if s.emergency && s.live*10 < len(s.hot)*7 {
		s.emergency = false
		s.nextExpiry = s.now
	}
}

// makeRoom frees a slot when there is none: it evicts the flow with the
// earliest deadline, after entering emergency mode (shorter timeouts) if
// half of the full shard is half-open flows.
func (s *shard) makeRoom(t *Table) {
	if s.full() {
		if !s.emergency && s.count[classHalfOpen]*2 >= len(s.hot) {
			s.emergency = true
			s.st.emergencyEntries++
			s.expire(t, maxExpirePerUpdate)
		}
		if s.full() {
			sl, _ := s.earliest(t)
			s.end(t, sl, EndEvicted)
		}
	}
}

// end hands the flow to OnExpire and frees its slot.
func (s *shard) end(t *Table, sl uint32, why EndReason) {
	switch why {
	case EndIdle:
		s.st.expired++
	case EndEvicted:
		s.st.evicted++
	case EndFlushed:
		s.st.flushed++
	case EndPortReuse:
		s.st.reused++
	}
	if t.onExpire != nil {
		rec := &t.recBuf[s.id]
		s.record(sl, why, rec)
		t.onExpire(rec)
	}
	h := &s.hot[sl]
	s.idxRemove(hashKey(&h.key, t.seed), sl)
	s.lruUnlink(sl)
	h.fflags = 0
	s.cold[sl].gen++
	s.free[s.nfree] = sl
	s.nfree++
	s.live--
}

// full reports that every slot holds a flow.
func (s *shard) full() bool { return s.nfree == 0 && int(s.fresh) == len(s.hot) }

// nextFree is the slot create takes next (the shard is not full): the
// last one freed, else the lowest never used, so slot 0 comes first.
func (s *shard) nextFree() uint32 {
	if s.nfree > 0 {
		return s.free[s.nfree-1]
	}
	return s.fresh
}

// takeFree removes nextFree from the free slots.
func (s *shard) takeFree() uint32 {
	if s.nfree > 0 {
		s.nfree--
		return s.free[s.nfree]
	}
	s.fresh++
	if s.fresh+prefaultChunk/2 > s.prefaulted || s.fresh == s.idxPrefaultAt {
		s.prefaultAhead()
	}
	return s.fresh - 1
}

// create makes a new flow for k.
func (s *shard) create(t *Table, k *flowKey, h uint64, now int64, frame uint64) uint32 {
	if s.full() {
		s.makeRoom(t) // evicting shifts the index: look again
	}
	index := t.nextIndex.Add(1) - 1
	fresh := s.nfree == 0 // a never-used slot: all zero already
	sl := s.takeFree()
	_, pos, _ := s.lookup(k, h)
	s.idx[pos] = uint64(uint32(h))<<32 | uint64(sl+1)
	hot := &s.hot[sl]
	c := &s.cold[sl]
	if fresh {
		// Writing only what is not zero spares the stores (and the
		// misses) of the lines no field of a new flow sets.
		hot.key, hot.fflags = *k, fLive
		c.index, c.first, c.lastTS, c.firstFrame = index, now, now, int64(frame)
	} else {
		*hot = flowHot{key: *k, fflags: fLive}
		*c = flowCold{gen: c.gen, index: index, first: now, lastTS: now, firstFrame: int64(frame)}
	}
	for i := range hot.dir {
		hot.dir[i].window = 0xffffffff
		hot.dir[i].winScale = -1
	}
	hot.class = classEstablished
	s.live++
	s.st.created++
	s.lruPush(t, sl, classEstablished, tickOf(now))
	return sl
}
