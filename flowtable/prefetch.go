package flowtable

import (
	"unsafe"

	"github.com/netblame/netblame/decode"
)

// Prefetch loads into the cache what Updates of ps will read: each
// packet's index bucket, then its flow's hot and cold state. Each step of
// one packet waits for the one before (the index gives the slot), but the
// packets of a batch do not wait for each other, so the loads of the batch
// are in flight together instead of one after another, as Update alone
// would have them. It changes nothing in the table: call Update for each
// packet after it, in order, as always.
func (o *Owner) Prefetch(ps []*decode.Packet) {
	t := o.t
	var (
		keys [prefetchMax]flowKey
		at   [prefetchMax]struct {
			s   *shard
			pos uint64
		}
		sink uint64
	)
	n := 0
	for _, p := range ps {
		if n == prefetchMax {
			break
		}
		if _, ok := makeKey(p, t.ignoreVLAN, &keys[n]); !ok {
			continue
		}
		h := hashKey(&keys[n], t.seed)
		s := t.shards[h>>t.shardShift]
		pos := h & s.idxMask
		sink += s.idx[pos]
		at[n].s, at[n].pos = s, pos
		n++
	}
	for i := range n {
		s := at[i].s
		e := s.idx[at[i].pos]
		if e == 0 {
			continue
		}
		sl := uint32(e) - 1
		if int(sl) >= len(s.hot) {
			continue
		}
		hot, c := &s.hot[sl], &s.cold[sl]
		sink += hot.key.w[0] + uint64(hot.dir[1].window) + uint64(s.links[sl].placed)
		cb := (*[unsafe.Sizeof(flowCold{})]byte)(unsafe.Pointer(c))
		for off := 0; off < len(cb); off += 64 {
			sink += uint64(cb[off])
		}
		sink += uint64(cb[len(cb)-1])
	}
	o.sink = sink
}

// prefetchMax is the most packets Prefetch looks at in one call.
const prefetchMax = 16
