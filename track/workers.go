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
// Packets travel in batches through a ring per worker: the reader fills a
// batch with the decoded packets (and, unless SkipBytes, their bytes,
// copied into the batch's arena, since the source's buffer is reused at
// the next read), publishes it with one atomic store, and takes a free
// one from the worker's return ring. A worker with nothing to do, or a
// reader without a free batch, spins briefly and then sleeps until woken.
// Batches are allocated once per run and recycled.

// Workers configures RunWorkers.
type Workers struct {
	// N is the number of owner goroutines; 0 or 1 runs everything on the
	// calling goroutine (Run).
	N int
	// SkipBytes: fn does not look at the packet's bytes, which are then
	// not copied (Capture.Data, Transport and Payload are nil in fn).
	SkipBytes bool
}

const (
	batchSize  = 256     // packets a batch
	batchArena = 1 << 18 // bytes of packet data a batch holds (a larger packet gets a batch of its own)
	batchesPer = 4       // batches in flight per worker
	spinTries  = 50      // yields before a ring's reader sleeps
)

// entry is one packet in a batch, or an order to sweep a shard.
type entry struct {
	sweep       bool // Sweep(shard, clock) instead of a packet
	table       bool // dec goes to the flow table
	reassembled bool
	shard       int32
	clock       int64
	cp          capfile.Packet // Data: into the batch's arena, nil with SkipBytes
	decErr      error
	whole       []byte // into the arena
	dec         decode.Packet
}

type batch struct {
	n     int
	ents  [batchSize]entry
	arena []byte
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
	slots   [8]*batch
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
type worker struct {
	_      [64]byte
	id     int
	owner  *flowtable.Owner
	work   *ring // reader to worker
	free   *ring // worker to reader
	cur    *batch
	events []flowtable.EventRecord
	cp     capfile.Packet
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
	for s := range fan.byShard {
		shards[s%w.N] = append(shards[s%w.N], s)
	}
	for i := range w.N {
		o, err := tab.Owner(shards[i]...)
		if err != nil {
			return err
		}
		wk := &worker{id: i, owner: o, work: newRing(), free: newRing()}
		for range batchesPer {
			b := &batch{}
			if !w.SkipBytes {
				b.arena = make([]byte, 0, batchArena)
			}
			wk.free.push(b)
		}
		fan.workers = append(fan.workers, wk)
	}
	for s, sh := range shards {
		for _, i := range sh {
			fan.byShard[i] = fan.workers[s]
		}
	}
	clock := tab.NewClock()
	tab.ExternalClock(true, 0)
	t.fan = fan
	var wg sync.WaitGroup
	for _, wk := range fan.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run(fan, fn)
		}()
	}

	readErr := t.dispatch(src, fan, &clock, !w.SkipBytes)
	for _, wk := range fan.workers {
		if wk.cur != nil && wk.cur.n > 0 {
			wk.work.push(wk.cur)
		}
		wk.cur = nil
		wk.work.push(nil)
	}
	wg.Wait()
	t.fan = nil
	tab.ExternalClock(false, clock.Now())
	for _, wk := range fan.workers {
		if wk.err != nil {
			return wk.err
		}
	}
	return readErr
}

// dispatch reads src to its end (or until a worker's fn fails) and hands
// every packet to its worker.
func (t *Tracker) dispatch(src Source, fan *fanout, clock *flowtable.Clock, copyBytes bool) error {
	tab := t.table
	w0 := fan.workers[0]
	for {
		err := src.Next(&t.cp)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		cp := &t.cp
		p, d := t.front(cp)
		if p == nil {
			continue
		}
		wk, at, sweep, toTable := w0, clock.Now(), -1, d != nil
		if toTable {
			if sh := tab.ShardOf(d); sh >= 0 {
				wk = fan.byShard[sh]
				at, sweep = clock.Advance(cp.Timestamp)
			}
		} else {
			d = p.Decoded
		}
		e := wk.slot(t, fan, len(cp.Data)+len(p.whole), copyBytes)
		if e == nil {
			return nil // a worker failed: its error is the run's
		}
		e.sweep, e.table, e.reassembled, e.clock, e.decErr = false, toTable, p.Reassembled, at, p.DecodeErr
		e.cp = *cp
		e.dec = *d
		b := wk.cur
		if copyBytes {
			start := len(b.arena)
			b.arena = append(b.arena, cp.Data...)
			e.cp.Data = b.arena[start:len(b.arena):len(b.arena)]
			start = len(b.arena)
			b.arena = append(b.arena, p.whole...)
			e.whole = b.arena[start:len(b.arena):len(b.arena)]
		} else {
			e.cp.Data, e.whole = nil, nil
		}
		if sweep >= 0 {
			sw := fan.byShard[sweep]
			se := sw.slot(t, fan, 0, copyBytes)
			if se == nil {
				return nil
			}
			se.sweep, se.shard, se.clock = true, int32(sweep), clock.Now()
		}
	}
}

// slot returns the next entry of the worker's batch, for a packet of n
// bytes: a full batch (or one without room for the bytes) goes to the
// worker and a free one is taken, waiting for the worker to return one.
// It returns nil when a worker's fn has failed.
func (wk *worker) slot(t *Tracker, fan *fanout, n int, copyBytes bool) *entry {
	b := wk.cur
	if b != nil && (b.n == batchSize || copyBytes && b.n > 0 && len(b.arena)+n > cap(b.arena)) {
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
		if copyBytes && n > cap(b.arena) {
			b.arena = make([]byte, 0, n) // a packet larger than any before
		}
		wk.cur = b
	}
	e := &b.ents[b.n]
	b.n++
	return e
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
		for i := range b.ents[:b.n] {
			e := &b.ents[i]
			if e.sweep {
				wk.owner.Sweep(int(e.shard), e.clock)
				continue
			}
			wk.events = wk.events[:0]
			wk.cp = e.cp
			p := &wk.pkt
			*p = Packet{Capture: &wk.cp, Decoded: &e.dec, Reassembled: e.reassembled, DecodeErr: e.decErr, whole: e.whole}
			if e.table {
				wk.owner.UpdateAt(&e.dec, e.cp.Timestamp, e.cp.Frame, e.clock, &p.Result)
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
