package track

import (
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
)

// Every core for one source
//
// RunWorkers splits the flow table's shards between n owner goroutines.
// The calling goroutine reads: it runs the path up to the table (capture
// filter, decode, dedup, defragmentation, filter) in packet order, so
// that the fragments of a datagram meet in one defrag table whatever
// their flow, and a reassembled datagram goes, like any packet, to the
// owner of its flow's shard. It keeps the table's clock as one owner
// would (flowtable.Clock) and hands it over with every packet, and tells
// each owner when to sweep a shard, so that every shard sees the same
// packets at the same packet times as with one goroutine: flows, events,
// expiry and counters are the same (flowtable's and track's lockstep
// tests hold that).
//
// The reader is worker 0: it owns a share of the shards and updates their
// packets itself, in its own buffer. The other workers get theirs in
// batches through a ring each: the reader copies the packet's bytes into
// the batch's arena (the source reuses its buffer at the next read) and
// writes a small entry with no pointer in it (frame, time, lengths,
// offsets, the clock); the worker decodes the bytes again, which costs
// less than carrying the decoded packet between cores (a reassembled
// datagram, which cannot be decoded from one frame, travels decoded). A
// batch is published with one atomic store; the reader takes a free one
// from the worker's return ring. A worker with nothing to do, or a
// reader without a free batch, yields a few times and then sleeps until
// woken. Batches and arenas are allocated once per run and recycled: no
// packet allocates.

// Workers configures RunWorkers.
type Workers struct {
	// N is the number of workers, the reader included; 0 or 1 runs
	// everything on the calling goroutine (Run).
	N int
}

const (
	batchSize  = 128     // packets a batch
	batchArena = 1 << 16 // bytes of packet data a batch holds (a larger packet gets a batch of its own)
	batchesPer = 8       // batches in flight per worker
	spinTries  = 50      // yields before a ring's reader sleeps
)

// entry is one packet in a batch, or an order to sweep a shard. It holds
// no pointer: the reader's stores need no write barrier, and the
// collector does not scan batches.
type entry struct {
	frame   uint64
	ts      int64
	clock   int64
	origLen int
	iface   int
	off, n  int32 // the bytes, in the arena
	whole   int32 // index in batch.wholes of the reassembled datagram, -1 none
	shard   int32 // to sweep
	link    linktype.Type
	sweep   bool // Sweep(shard, clock) instead of a packet
	table   bool // the packet goes to the flow table
}

// reassembled is a datagram defrag completed, decoded, with its bytes.
type reassembled struct {
	dec   decode.Packet
	whole []byte // into the arena
}

// A batch is padded at both ends: the reader writes n in one while a
// worker reads the arena of the batch next to it in memory.
type batch struct {
	_      [64]byte
	n      int
	ents   [batchSize]entry
	arena  []byte
	wholes []reassembled
	_      [64]byte
}

// ring is a single-producer single-consumer queue of batches. Its
// capacity is never exceeded: each worker has batchesPer batches, plus
// the nil that ends its input.
type ring struct {
	_       [64]byte
	head    atomic.Uint64 // next to take (consumer)
	_       [56]byte
	tail    atomic.Uint64 // next to fill (producer)
	_       [56]byte
	waiting atomic.Bool
	wake    chan struct{}
	slots   [16]*batch
}

func newRing() *ring { return &ring{wake: make(chan struct{}, 1)} }

func (r *ring) push(b *batch) {
	t := r.tail.Load()
	r.slots[t%uint64(len(r.slots))] = b
	r.tail.Store(t + 1)
	if r.waiting.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// pop waits for the next batch.
func (r *ring) pop() *batch {
	h := r.head.Load()
	for spin := 0; ; spin++ {
		if h != r.tail.Load() {
			b := r.slots[h%uint64(len(r.slots))]
			r.head.Store(h + 1)
			return b
		}
		if spin < spinTries {
			runtime.Gosched()
			continue
		}
		// Say so before looking again: the producer either sees waiting
		// after its store, or this look sees its store.
		r.waiting.Store(true)
		if h != r.tail.Load() {
			r.waiting.Store(false)
			continue
		}
		<-r.wake
		r.waiting.Store(false)
	}
}

// worker is one owner goroutine and its rings.
// Each group of fields is written by one goroutine only, on cache lines
// of its own: a line that both write on every packet would travel between
// the cores on every packet.
type worker struct {
	_     [64]byte
	id    int
	owner *flowtable.Owner
	work  *ring // reader to worker
	free  *ring // worker to reader
	// inline: worker 0, the reader itself
	inline bool
	_      [64]byte
	cur    *batch // the reader's: the batch being filled
	_      [64]byte
	// The worker's.
	events []flowtable.EventRecord
	cp     capfile.Packet
	dec    decode.Packet
	pkt    Packet
	err    error
	_      [64]byte
}

type fanout struct {
	workers []*worker
	byShard []*worker
	stop    atomic.Bool // a worker's fn failed
}

// ErrWorkers is wrapped by RunWorkers' errors about its configuration.
var ErrWorkers = errors.New("track: workers need the tracker's own flow table (Options.Flows)")

// RunWorkers is Run on w.N owner goroutines (at most one a shard of the
// table; with one, on the calling goroutine), each the sole owner of a
// share of the flow table's shards (see the comment at the top of
// workers.go). fn, which may be nil, runs on the worker that owns the
// packet's flow (packets without one, and fragments still waiting, on
// worker 0), with that worker's number: packets of one flow reach it in
// order, packets of different flows in no particular order. The flow
// table's OnEvent and OnExpire run on the workers too, concurrently with
// each other's; FlowRecord.Index (and PacketResult.Index) number flows
// in an order of the workers' making: flowtable.Renumber gives one
// goroutine's numbering once every flow has ended (after Finish). A read
// error ends the run after every packet before it went through fn, and
// is returned; fn's first error stops the run and is returned as it is.
// The tracker must have been made with Options.Flows.
func (t *Tracker) RunWorkers(src Source, w Workers, fn func(worker int, p *Packet) error) error {
	if t.table != nil && t.opts.Flows != nil {
		w.N = min(w.N, t.table.Shards()) // a worker owns one shard at least
	}
	if w.N <= 1 {
		if fn == nil {
			return t.Run(src, nil)
		}
		return t.Run(src, func(p *Packet) error { return fn(0, p) })
	}
	if t.opts.Flows == nil || t.table == nil {
		return ErrWorkers
	}
	tab := t.table
	fan := &fanout{byShard: make([]*worker, tab.Shards())}
	shards := make([][]int, w.N)
	// The reader is worker 0: it owns a share of the shards and updates
	// their packets itself, in the reader's buffer (no copy, no handing
	// over); the rest go round the other workers.
	nshards := tab.Shards()
	share := readerShare
	if share < 0 {
		share = 1 / float64(w.N)
	}
	own := min(max(int(share*float64(nshards)+0.5), 1), nshards-(w.N-1))
	for s := range nshards {
		if s < own {
			shards[0] = append(shards[0], s)
		} else {
			shards[1+(s-own)%(w.N-1)] = append(shards[1+(s-own)%(w.N-1)], s)
		}
	}
	for i := range w.N {
		o, err := tab.Owner(shards[i]...)
		if err != nil {
			return err
		}
		wk := &worker{id: i, owner: o, work: newRing(), free: newRing(), inline: i == 0}
		for range batchesPer * min(i, 1) {
			wk.free.push(&batch{arena: make([]byte, 0, batchArena)})
		}
		fan.workers = append(fan.workers, wk)
	}
	for s, sh := range shards {
		for _, i := range sh {
			fan.byShard[i] = fan.workers[s]
		}
	}
	clock := tab.NewClock()
	tab.ExternalClock(true, clock.Now())
	t.fan, t.sink.fan = fan, fan
	var wg sync.WaitGroup
	for _, wk := range fan.workers[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run(fan, fn)
		}()
	}

	readErr, fnErr := t.dispatch(src, fan, &clock, fn)
	for _, wk := range fan.workers[1:] {
		if wk.cur != nil && wk.cur.n > 0 {
			wk.work.push(wk.cur)
		}
		wk.cur = nil
		wk.work.push(nil)
	}
	wg.Wait()
	t.fan, t.sink.fan = nil, nil
	tab.ExternalClock(false, clock.Now())
	if fnErr != nil {
		return fnErr
	}
	for _, wk := range fan.workers {
		if wk.err != nil {
			return wk.err
		}
	}
	return readErr
}

// dispatch reads src to its end (or until fn fails) and hands every
// packet to its worker.
func (t *Tracker) dispatch(src Source, fan *fanout, clock *flowtable.Clock, fn func(int, *Packet) error) (readErr, fnErr error) {
	tab := t.table
	w0 := fan.workers[0]
	for {
		err := src.Next(&t.cp)
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
		cp := &t.cp
		if !t.admit(cp) {
			continue
		}
		p, d := t.front(cp, &t.dec, t.dec.Decode(cp.Data, cp.Link))
		if p == nil {
			continue
		}
		wk, at, sweep, toTable := w0, clock.Now(), -1, d != nil
		if toTable {
			if sh := tab.ShardOf(d); sh >= 0 {
				wk = fan.byShard[sh]
				at, sweep = clock.Advance(cp.Timestamp)
			}
		}
		if wk.inline {
			wk.events = wk.events[:0]
			if toTable {
				wk.owner.UpdateAt(d, cp.Timestamp, cp.Frame, at, &p.Result)
			}
			p.Events = wk.events
			if fn != nil {
				if err := fn(0, p); err != nil {
					return nil, err
				}
			}
		} else {
			b := wk.slot(fan, len(cp.Data)+len(p.whole))
			if b == nil {
				return nil, nil // a worker failed: its error is the run's
			}
			e := &b.ents[b.n]
			b.n++
			off := len(b.arena)
			b.arena = append(b.arena, cp.Data...)
			*e = entry{frame: cp.Frame, ts: cp.Timestamp, clock: at, origLen: cp.OrigLen, iface: cp.Interface,
				off: int32(off), n: int32(len(cp.Data)), whole: -1, link: cp.Link, table: toTable}
			if p.Reassembled {
				e.whole = int32(len(b.wholes))
				off := len(b.arena)
				b.arena = append(b.arena, p.whole...)
				b.wholes = append(b.wholes, reassembled{dec: *d, whole: b.arena[off:len(b.arena):len(b.arena)]})
			}
		}
		if sweep >= 0 && !t.sweep(fan, sweep, clock.Now()) {
			return nil, nil
		}
	}
}

// sweep has the owner of shard sweep it at packet time now, itself when
// it is the reader; false when a worker failed.
func (t *Tracker) sweep(fan *fanout, shard int, now int64) bool {
	sw := fan.byShard[shard]
	if sw.inline {
		sw.owner.Sweep(shard, now)
		return true
	}
	b := sw.slot(fan, 0)
	if b == nil {
		return false
	}
	b.ents[b.n] = entry{sweep: true, shard: int32(shard), clock: now}
	b.n++
	return true
}

// readerShare is the reader's share of the shards (negative: 1/N); tests
// and benchmarks set it.
var readerShare = -1.0

// slot returns the worker's batch with room for an entry and n bytes: a
// full batch (or one without room for the bytes) goes to the worker and a
// free one is taken, waiting for the worker to return one. It returns nil
// when a worker's fn has failed.
func (wk *worker) slot(fan *fanout, n int) *batch {
	b := wk.cur
	if b != nil && (b.n == batchSize || b.n > 0 && len(b.arena)+n > cap(b.arena)) {
		wk.work.push(b)
		b = nil
	}
	if b == nil {
		if fan.stop.Load() {
			wk.cur = nil
			return nil
		}
		b = wk.free.pop()
		b.n = 0
		b.arena = b.arena[:0]
		b.wholes = b.wholes[:0]
		if n > cap(b.arena) {
			b.arena = make([]byte, 0, n) // a packet larger than any before
		}
		wk.cur = b
	}
	return b
}

// run is a worker's loop: every batch of its ring, until the nil that
// ends the input. After fn's first error it still updates the table
// (the reader stops soon) but calls fn no more.
func (wk *worker) run(fan *fanout, fn func(int, *Packet) error) {
	for {
		b := wk.work.pop()
		if b == nil {
			return
		}
		arena := b.arena
		for i := range b.ents[:b.n] {
			e := &b.ents[i]
			if e.sweep {
				wk.owner.Sweep(int(e.shard), e.clock)
				continue
			}
			wk.events = wk.events[:0]
			wk.cp = capfile.Packet{Frame: e.frame, Timestamp: e.ts, Data: arena[e.off : e.off+e.n : e.off+e.n],
				OrigLen: e.origLen, Link: e.link, Interface: e.iface}
			p := &wk.pkt
			*p = Packet{Capture: &wk.cp, Decoded: &wk.dec}
			// The reader decoded these bytes already; decoding them
			// again here is cheaper than carrying its result over.
			p.DecodeErr = wk.dec.Decode(wk.cp.Data, wk.cp.Link)
			if e.whole >= 0 {
				r := &b.wholes[e.whole]
				p.Decoded, p.Reassembled, p.DecodeErr, p.whole = &r.dec, true, nil, r.whole
			}
			if e.table {
				wk.owner.UpdateAt(p.Decoded, e.ts, e.frame, e.clock, &p.Result)
			}
			p.Events = wk.events
			if fn != nil && wk.err == nil {
				if err := fn(wk.id, p); err != nil {
					wk.err = err
					fan.stop.Store(true)
				}
			}
		}
		wk.free.push(b)
	}
}
