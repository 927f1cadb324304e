package live

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// largestKept is how many of the largest ended flows a Report lists.
const largestKept = 10

// flowCapacity is the most flows the analysis holds over all workers: with
// a table per worker each gets its share, so memory does not grow with
// the number of workers (the kernel's flow hash spreads many flows
// evenly; a few flows fit anywhere).
const flowCapacity = 65536

// publishWait bounds how long a summary waits for the workers to publish
// their counters; a worker that does not answer in time (it is stuck in a
// long poll) is summed with the counters it published last.
const publishWait = 250 * time.Millisecond

// analysis runs flow tables while capturing.
//
// With hash fanout (or one worker) the kernel keeps both directions of a
// flow on one worker, so each worker owns a table of its own and feeds it
// without a lock (a SoleOwner). Nothing else touches that table while the
// worker runs: expiry by wall time and the counters for the periodic
// summary are done by the worker itself when the summary asks (one atomic
// load per packet), and published in atomics the summary reads. Owner
// shares of one table would need the kernel to pick the worker by the
// table's shard, but the fanout hash is the kernel's own (seeded flow
// dissector hash): a table per worker is the owner share the kernel can
// route to.
//
// With the other fanout modes a flow can reach two workers, so they share
// one table and its shard locks; the summary reads it under those locks.
type analysis struct {
	owned   bool
	shared  *flowtable.Table   // the shared table, nil when owned
	top     *flowtable.Largest // the largest ended flows of the shared table
	workers []*workerAnalysis
	want    atomic.Uint64 // summary requests; a worker publishes when it sees a new one
	onFlow  func(*flowtable.FlowRecord)
}

// workerAnalysis is one worker's share: its path to the table.
type workerAnalysis struct {
	_     [64]byte // workers run on different cores: keep their state apart
	track *track.Tracker
	table *flowtable.Table   // the worker's own (owned), or the shared one
	top   *flowtable.Largest // the largest flows its table ended (owned)
	want  *atomic.Uint64
	seen  uint64 // the last request this worker served
	cp    capfile.Packet

	done      atomic.Uint64 // the last request served, published after stats
	published statsCell
	_         [64]byte
}

func newAnalysis(c *ring.Capture) (*analysis, error) {
	n := len(c.Workers())
	// XDP sockets get what the NIC's queue selection gives them, which
	// need not keep a flow's directions together: shared table.
	a := &analysis{owned: n == 1 || (c.Config().Fanout == ring.FanoutHash && !c.XDP())}
	ended := func(top *flowtable.Largest) func(*flowtable.FlowRecord) {
		return func(f *flowtable.FlowRecord) {
			top.Add(f)
			if a.onFlow != nil {
				a.onFlow(f)
			}
		}
	}
	if !a.owned {
		a.top = flowtable.NewLargest(largestKept)
		t, err := flowtable.New(flowtable.Config{Capacity: flowCapacity, OnExpire: ended(a.top)})
		if err != nil {
			return nil, fmt.Errorf("flow table: %w", err)
		}
		a.shared = t
	}
	for i := 0; i < n; i++ {
		w := &workerAnalysis{want: &a.want, table: a.shared}
		var opts track.Options
		if a.owned {
			w.top = flowtable.NewLargest(largestKept)
			t, err := flowtable.New(flowtable.Config{Capacity: (flowCapacity + n - 1) / n, OnExpire: ended(w.top)})
			if err != nil {
				return nil, fmt.Errorf("flow table: %w", err)
			}
			w.table = t
			opts.Owner = t.SoleOwner()
		} else {
			opts.Table = a.shared // updates take its shard locks
		}
		tr, err := track.New(opts)
		if err != nil {
			return nil, err
		}
		w.track = tr
		a.workers = append(a.workers, w)
	}
	return a, nil
}

// feed runs one packet through the path (decode, defrag, table) and
// returns it when it had events, nil otherwise. When a summary asked for
// the counters, it publishes them first.
func (w *workerAnalysis) feed(p *ring.Packet, frame uint64, link linktype.Type) *track.Packet {
	if w.want.Load() != w.seen {
		w.publish()
	}
	w.cp = capfile.Packet{Frame: frame, Timestamp: p.Timestamp, Data: p.Data, OrigLen: p.OrigLen, Link: link}
	tp := w.track.Feed(&w.cp)
	if tp == nil || tp.Result.Events == 0 {
		return nil
	}
	return tp
}

// idle is called when the worker's ring had nothing for a poll timeout:
// a summary waiting for this worker is answered.
func (w *workerAnalysis) idle() {
	if w.want.Load() != w.seen {
		w.publish()
	}
}

// publish expires the idle flows of the worker's own table by wall time
// (packet time stands still when traffic stops) and publishes its
// counters. Only for owned tables: the shared one is read by the summary.
func (w *workerAnalysis) publish() {
	w.seen = w.want.Load()
	if w.top == nil {
		return
	}
	w.table.Expire(time.Now().UnixNano())
	st := w.table.Stats()
	w.published.store(&st)
	w.done.Store(w.seen)
}

// summary returns the tables' totals while the workers run, idle flows
// expired first. With owned tables it asks every worker to publish and
// waits for them (at most publishWait, less when the workers end);
// stopped is closed when every worker has returned.
func (a *analysis) summary(stopped <-chan struct{}) flowtable.TableStats {
	if !a.owned {
		return a.totals()
	}
	gen := a.want.Add(1)
	deadline := time.Now().Add(publishWait)
	var st flowtable.TableStats
	for _, w := range a.workers {
		for w.done.Load() < gen && time.Now().Before(deadline) {
			select {
			case <-stopped:
				return a.totals()
			case <-time.After(time.Millisecond):
			}
		}
		s := w.published.load()
		st.Add(&s)
	}
	return st
}

// totals sums the tables' counters, expiring idle flows first: for the
// shared table at any time, for owned tables only once the workers have
// returned.
func (a *analysis) totals() flowtable.TableStats {
	var st flowtable.TableStats
	now := time.Now().UnixNano()
	for _, t := range a.tables() {
		t.Expire(now)
		s := t.Stats()
		st.Add(&s)
	}
	return st
}

// tables lists the tables, each once.
func (a *analysis) tables() []*flowtable.Table {
	if !a.owned {
		return []*flowtable.Table{a.shared}
	}
	ts := make([]*flowtable.Table, len(a.workers))
	for i, w := range a.workers {
		ts[i] = w.table
	}
	return ts
}

// finish ends every flow still in the tables (once the workers have
// returned) and returns the largest of all.
func (a *analysis) finish() []flowtable.FlowRecord {
	for _, t := range a.tables() {
		t.Flush()
	}
	if !a.owned {
		return a.top.Flows()
	}
	top := flowtable.NewLargest(largestKept)
	for _, w := range a.workers {
		for _, f := range w.top.Flows() {
			top.Add(&f)
		}
	}
	return top.Flows()
}

// statsCell holds a flowtable.TableStats in atomics: its worker stores,
// the summary loads, without a lock. Each counter is exact for the moment
// it was stored; together they are a snapshot of one worker's table.
type statsCell struct {
	v [statsFixed + flowtable.NumEvents]atomic.Uint64
}

const statsFixed = 16

func (c *statsCell) store(s *flowtable.TableStats) {
	fixed := [statsFixed]uint64{s.Packets, s.Untracked, s.Misrouted, s.Created, s.TCPFlows, s.UDPFlows, s.Live,
		s.Expired, s.Evicted, s.Flushed, s.PortReuse, s.EmergencyEntries, uint64(s.Emergency), uint64(s.Capacity),
		uint64(s.Shards), uint64(s.MemoryBytes)}
	for i, x := range fixed {
		c.v[i].Store(x)
	}
	for i, x := range s.Events {
		c.v[statsFixed+i].Store(x)
	}
}

func (c *statsCell) load() flowtable.TableStats {
	var f [statsFixed]uint64
	for i := range f {
		f[i] = c.v[i].Load()
	}
	s := flowtable.TableStats{Packets: f[0], Untracked: f[1], Misrouted: f[2], Created: f[3], TCPFlows: f[4],
		UDPFlows: f[5], Live: f[6], Expired: f[7], Evicted: f[8], Flushed: f[9], PortReuse: f[10],
		EmergencyEntries: f[11], Emergency: int(f[12]), Capacity: int(f[13]), Shards: int(f[14]), MemoryBytes: int64(f[15])}
	for i := range s.Events {
		s.Events[i] = c.v[statsFixed+i].Load()
	}
	return s
}
