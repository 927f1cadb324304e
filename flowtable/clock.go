package flowtable

import (
	"cmp"
	"slices"
)

// Several owners, one packet order
//
// Owners of one table (Table.Owner) that run on their own goroutines
// share the table's packet time through an atomic, so when a shard sees
// the time of other shards' packets depends on how far each goroutine has
// got: idle flows then expire at other moments than with one owner. A
// dispatcher that reads packets in order and routes each to the owner of
// its shard (ShardOf) can instead keep the clock itself, exactly as one
// owner of every shard would (Clock), and pass it with each packet
// (Owner.UpdateAt); then every shard sees the same packets at the same
// packet times in the same order as with a sole owner, and gives the same
// results: flows, events, expiry, eviction, counters. Only the order of
// callbacks across shards differs, and Index, which counts flow creation
// across the whole table (see FlowRecord.Index and Renumber).

// ExternalClock puts the table on an external clock (on) or back on its
// own (off, continuing from now). Set it before the owners that take
// UpdateAt start and clear it after they stop; it must not change while
// any goroutine updates the table.
func (t *Table) ExternalClock(on bool, now int64) {
	t.extClock = on
	if !on && now > t.clock.Load() {
		t.clock.Store(now)
	}
	for _, s := range t.shards {
		s.g = now
	}
}

// Clock is the table's packet time as a sole owner keeps it, for a
// dispatcher feeding several owners in packet order (see ExternalClock).
// Make one with Table.NewClock.
type Clock struct {
	now    int64
	next   int
	shards int
}

// NewClock returns a clock at the table's packet time (0 for a new
// table). Its sweeps go round the shards from the first, as a new sole
// owner's do.
func (t *Table) NewClock() Clock { return Clock{now: t.clock.Load(), shards: len(t.shards)} }

// Now returns the clock's time.
func (c *Clock) Now() int64 { return c.now }

// Advance is called for each packet with a flow key (ShardOf >= 0), in
// packet order, before its owner updates it: it returns the clock to pass
// to UpdateAt, and when the packet moves the clock a step, the shard to
// sweep at the new time (c.Now()) once the packet has been updated, by
// that shard's owner (Owner.Sweep); -1 when none.
func (c *Clock) Advance(ts int64) (clock int64, sweep int) {
	clock, sweep = c.now, -1
	if ts > c.now+clockStep {
		c.now = ts
		if c.shards > 1 {
			c.next++
			if c.next >= c.shards {
				c.next = 0
			}
			sweep = c.next
		}
	}
	return clock, sweep
}

// Shard returns the shard the flow lives in (as ShardOf numbers them).
func (id FlowID) Shard() int {
	sh, _, _ := id.parts()
	return int(sh)
}

// Renumber sorts every flow of one run (all that reached OnExpire, and the
// flush at the end) in the order each began and sets Index to its
// position: the numbering one owner gives, for the records of several
// (whose creations interleave in an order of the goroutines' making). A
// flow begins at its FirstFrame, and no two flows begin at one frame.
func Renumber(flows []FlowRecord) {
	slices.SortFunc(flows, func(a, b FlowRecord) int { return cmp.Compare(a.FirstFrame, b.FirstFrame) })
	for i := range flows {
		flows[i].Index = uint64(i)
	}
}
