package flowtable

import (
	"unsafe"

	"github.com/netblame/netblame/decode"
)

// Prefetch loads into the cache what the Updates of ps will read: each
// packet's index bucket, then its flow's hot and cold state. Each step of
// one packet waits for the one before (the index gives the slot), but the
// packets of a batch do not wait for each other, so the loads of a batch
// are in flight together instead of one after another, as Update alone
// would have them. Only the index entries are loaded (they name the
// slots); the flows' lines are asked for with prefetch instructions,
// which do not hold up the work behind them. It changes nothing in the
// table: call Update for each packet after it, in order, as always. The keys it made are kept for
// those Updates, each used only for a packet at the same address that
// still has the same addresses, ports and protocol. It looks at the first
// prefetchMax (16) packets.
//
// A table whose flows fit the caches gains nothing and would pay for the
// work twice, so below prefetchMinLive live flows (estimated from one of
// the owner's shards) Prefetch returns at once.
func (o *Owner) Prefetch(ps []*decode.Packet) {
	t := o.t
	o.preAt, o.preN = 0, 0
	if len(o.shards) == 0 || t.shards[o.shards[0]].live*len(t.shards) < prefetchMinLive {
		return
	}
	var (
		shard [prefetchMax]*shard
		pos   [prefetchMax]uint64
		entry [prefetchMax]uint64
	)
	// Keys and buckets first, with no load from the table: the loads of
	// the next loops then fit the processor's window together.
	n := 0
	for _, p := range ps[:min(len(ps), prefetchMax)] {
		e := &o.pre[n]
		srcIsB, ok := makeKey(p, t.ignoreVLAN, &e.key)
		if !ok {
			continue
		}
		h := hashKey(&e.key, t.seed)
		i := h >> t.shardShift
		if !o.owned[i] {
			continue // Update counts it
		}
		s := t.shards[i]
		e.p = nil
		if memoable(p, t.ignoreVLAN) {
			e.p = p
			e.tup.set(p, srcIsB, s, h)
		}
		shard[n], pos[n] = s, h&s.idxMask
		n++
	}
	o.preN = n
	for i := range n {
		entry[i] = shard[i].idx[pos[i]]
	}
	lines := o.lines[:0]
	for i := range n {
		s, sl := shard[i], uint32(entry[i])-1
		if entry[i] != 0 {
			if int(sl) < len(s.hot) {
				lines = s.flowLines(lines, sl)
			}
			continue
		}
		// Most likely a new flow: create clears the slot on top of the
		// free stack and links it behind its list's tail.
		if !s.full() {
			lines = s.newFlowLines(lines, s.nextFree())
		}
	}
	prefetchLines(lines)
}

// linesPerFlow is the most cache lines flowLines or newFlowLines give.
const linesPerFlow = 4 + (unsafe.Sizeof(flowCold{})+63)/64

// flowLines appends the cache lines of flow sl that a packet of it reads:
// its hot state, its link, the per-packet part of its cold state and the
// RTT statistics at its end.
func (s *shard) flowLines(lines []unsafe.Pointer, sl uint32) []unsafe.Pointer {
	hot := (*[2][64]byte)(unsafe.Pointer(&s.hot[sl]))
	cold := (*[unsafe.Sizeof(flowCold{})]byte)(unsafe.Pointer(&s.cold[sl]))
	return append(lines, unsafe.Pointer(&hot[0][0]), unsafe.Pointer(&hot[1][63]), unsafe.Pointer(&s.links[sl]),
		unsafe.Pointer(&cold[0]), unsafe.Pointer(&cold[64]), unsafe.Pointer(&cold[128]), unsafe.Pointer(&cold[192]),
		unsafe.Pointer(&cold[256]), unsafe.Pointer(&cold[len(cold)-80]), unsafe.Pointer(&cold[len(cold)-1]))
}

// newFlowLines appends the cache lines that creating a flow in slot sl
// writes: all of its state, and the link of its list's tail.
func (s *shard) newFlowLines(lines []unsafe.Pointer, sl uint32) []unsafe.Pointer {
	hot := (*[2][64]byte)(unsafe.Pointer(&s.hot[sl]))
	cold := (*[unsafe.Sizeof(flowCold{})]byte)(unsafe.Pointer(&s.cold[sl]))
	lines = append(lines, unsafe.Pointer(&hot[0][0]), unsafe.Pointer(&hot[1][63]), unsafe.Pointer(&s.links[sl]), unsafe.Pointer(&cold[len(cold)-1]))
	for off := 0; off < len(cold); off += 64 {
		lines = append(lines, unsafe.Pointer(&cold[off]))
	}
	if tail := s.tail[classEstablished]; tail != nilSlot {
		lines = append(lines, unsafe.Pointer(&s.links[tail]))
	}
	return lines
}

// prefetched is what Prefetch made of one packet: its key, and its tuple
// with the hash and shard, to check that the packet Update is given at
// the same address is still that packet.
type prefetched struct {
	p   *decode.Packet
	tup lastTuple
	key flowKey
}

// prefetched returns what Prefetch made of p, if p is the packet it saw
// there: Updates come in the order of the batch, some packets of it
// perhaps left out, others (a reassembled datagram) put in.
func (o *Owner) prefetched(p *decode.Packet) *prefetched {
	for j := o.preAt; j < o.preN; j++ {
		e := &o.pre[j]
		if e.p != p {
			continue
		}
		o.preAt = j + 1
		pp := portPair(p)
		if pp != e.tup.ports {
			return nil
		}
		if srcIsB, ok := e.tup.match(p, pp, o.t.ignoreVLAN); !ok || srcIsB != e.tup.srcIsB {
			return nil
		}
		return e
	}
	return nil
}

// prefetchMax is the most packets Prefetch looks at in one call.
const prefetchMax = 16

// prefetchMinLive: on the random-flow benchmark (median of 3) Prefetch
// made 4,096 live flows slower (98 -> 118 ns a packet) and 16,384 faster
// (265 -> 180 ns). A variable for the tests.
var prefetchMinLive = 8192
