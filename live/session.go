// Package live is a live capture session: a ring's workers feeding files
// and per-worker analysis.
//
// Open compiles the capture filter for the interface's link type, opens
// the ring (with the eBPF prefilter, or the classic program when eBPF
// cannot be loaded), the output files and the flow tables. Run reads every
// worker until the count, the duration, the context or an error ends the
// capture, calls the caller's Hooks on the way, and returns a Report. The
// package prints nothing: `netblame capture` formats what the hooks and the
// report give it.
//
// With Analyze and hash fanout each worker is the sole owner of a flow
// table of its own and updates it without a lock (the kernel keeps a flow
// on one worker); the periodic summary reads counters the workers publish
// in atomics. See analysis.go for the other fanout modes.
//
// Open must run in the network namespace of the interface (the sockets are
// created there); Run works from any goroutine.
package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// Config is what one session captures, where it goes and when it stops.
type Config struct {
	// Ring configures the sockets and rings. Open sets its Filter and
	// EBPF (or with Ring.XDP its XDPProgram) from the fields below, and
	// FanoutDefrag for Analyze with more than one worker.
	Ring ring.Config
	// Filter is a tcpdump expression, compiled for the interface's link
	// type ("" keeps every packet).
	Filter string
	// NoEBPF attaches the classic BPF program instead of loading eBPF.
	NoEBPF bool
	// Count stops the capture after this many packets over all workers
	// (0: no limit).
	Count uint64
	// Duration stops the capture after this long (0: until the context
	// ends).
	Duration time.Duration
	// Write names the capture file (format and compression by its name,
	// see capfile.FormatFromName), rotated by Rotation; "" writes none.
	Write    string
	Rotation capfile.Rotation
	// Analyze runs flow tables with TCP analysis while capturing.
	Analyze bool
	// StatsEvery calls Hooks.Stats this often (0: never). The kernel
	// counters are read at least every 10s regardless.
	StatsEvery time.Duration
	// SummaryEvery calls Hooks.Summary this often with Analyze (0: never).
	SummaryEvery time.Duration
}

// Hooks are the caller's callbacks; nil ones are skipped. Packet and
// Event are called from the worker goroutines, concurrently with each
// other: the caller synchronises what they share. Stats and Summary are
// called from the goroutine running Run.
type Hooks struct {
	// Packet sees every packet the capture keeps, after it was written
	// and analysed. p is a view into the ring, valid during the call;
	// worker indexes Capture().Workers(). frame is the packet's frame
	// number in the files, or without Write a number unique in the
	// session: 1, 2, 3, ... with one worker; with several each numbers its
	// packets from runs of 64 it takes in turn.
	Packet func(worker int, frame uint64, p *ring.Packet)
	// Event sees every packet for which the analysis reported events
	// (tp.Result.Events is not empty), valid during the call.
	Event func(worker int, tp *track.Packet)
	// Stats gets the kernel statistics every Config.StatsEvery.
	Stats func(ring.Stats)
	// Summary gets the flow tables' totals every Config.SummaryEvery,
	// idle flows expired first.
	Summary func(flowtable.TableStats)
	// Flow sees every flow that leaves a table with Analyze (idle,
	// evicted, port reuse, and at the end every flow still live), valid
	// during the call. It is called from the worker goroutines, and from
	// Run's at the end; with more than one worker concurrently. With hash
	// fanout each worker has a table of its own, and a flow's Index counts
	// the flows of that table.
	Flow func(*flowtable.FlowRecord)
}

// Report is what a finished session counted.
type Report struct {
	Elapsed  time.Duration // from Run's start to the last worker's end
	Captured uint64        // packets kept: written, analysed, given to Hooks.Packet
	Written  uint64        // packets written to the files
	Files    []string      // the files written, in order
	// Ring is the kernel's and the workers' statistics; RingErr says why
	// they could not be read.
	Ring    ring.Stats
	RingErr error
	// EBPF is the eBPF filter's counters (the XDP program's with
	// Ring.XDP), nil when no eBPF program was attached or they could not
	// be read.
	EBPF *filter.Counters
	// XDP: the capture ran through AF_XDP sockets.
	XDP bool
	// Flows is the flow tables' totals at the end (idle flows expired)
	// and Largest the largest flows by bytes, both only with Analyze.
	Flows   *flowtable.TableStats
	Largest []flowtable.FlowRecord
}

// FilterError is a capture filter that does not compile: the caller's
// input is wrong, not the system.
type FilterError struct{ Err error }

func (e *FilterError) Error() string { return e.Err.Error() }
func (e *FilterError) Unwrap() error { return e.Err }

// statsEvery is how often at least the kernel counters are read: they are
// 32-bit and reset when read, so reading them often enough keeps them from
// wrapping.
const statsEvery = 10 * time.Second

// Session is one open capture. Run it once, then Close it.
type Session struct {
	cfg  Config
	cap  *ring.Capture
	prog *filter.EBPF // the loaded eBPF filter, nil without one
	xdp  *filter.XDP  // the loaded XDP program, with Ring.XDP

	out       *capfile.RotatingWriter // nil without Config.Write
	outClosed bool
	analysis  *analysis // nil without Config.Analyze

	taken     atomic.Uint64 // packets counted against Count
	frames    atomic.Uint64 // frame numbers handed out in runs of frameRun, when nothing is written
	keptMu    sync.Mutex
	kept      uint64 // packets kept, summed as workers end
	workerErr atomic.Pointer[error]
}

// Open compiles the filter, opens the ring, the files and the flow
// tables. A filter that does not compile is a *FilterError.
func Open(cfg Config) (*Session, error) {
	s := &Session{cfg: cfg}
	rc := cfg.Ring
	// Live analysis reassembles fragments as file analysis does; the
	// kernel puts them together first so a datagram reaches the worker of
	// its flow.
	rc.FanoutDefrag = rc.FanoutDefrag || (cfg.Analyze && rc.Workers > 1)
	// The filter is compiled for the interface's link type, which only an
	// open socket tells; Ethernet is what AF_PACKET shows nearly always,
	// so compile for it first and recompile if the interface says
	// otherwise.
	if cfg.Filter != "" {
		insns, err := filter.Compile(cfg.Filter, linktype.Ethernet, rc.Snaplen)
		if err != nil {
			return nil, &FilterError{err}
		}
		rc.Filter = insns
		if !cfg.NoEBPF {
			rc.EBPF = s.loadEBPF
		}
	}
	if rc.XDP != ring.XDPOff {
		rc.XDPProgram = s.loadXDP
	}
	c, err := ring.Open(rc)
	if err == nil && cfg.Filter != "" && c.Link() != linktype.Ethernet {
		c.Close()
		if rc.Filter, err = filter.Compile(cfg.Filter, c.Link(), rc.Snaplen); err != nil {
			s.Close()
			return nil, &FilterError{err}
		}
		c, err = ring.Open(rc)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.cap = c
	if cfg.Write != "" {
		s.out, err = capfile.NewRotatingWriter(cfg.Write, c.Link(), int(c.Config().Snaplen), cfg.Rotation)
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	if cfg.Analyze {
		if s.analysis, err = newAnalysis(c); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// loadEBPF is ring.Config.EBPF: it keeps the program so that its counters
// can be read at the end.
func (s *Session) loadEBPF(insns []bpf.Instruction) (ring.Program, error) {
	p, err := filter.NewEBPF(insns)
	if err != nil {
		return nil, err
	}
	if s.prog != nil { // loaded for an earlier link-type guess
		s.prog.Close()
	}
	s.prog = p
	return p, nil
}

// loadXDP is ring.Config.XDPProgram: it keeps the program for its counters.
func (s *Session) loadXDP(insns []bpf.Instruction, queues int) (ring.XDPProgram, error) {
	x, err := filter.NewXDP(insns, queues, filter.XDPOptions{})
	if err != nil {
		return nil, err
	}
	if s.xdp != nil {
		s.xdp.Close()
	}
	s.xdp = x
	return x, nil
}

// Capture is the open ring, for its configuration (link type, filter
// kind and notice, workers, ring size) and statistics.
func (s *Session) Capture() *ring.Capture { return s.cap }

// Close releases the ring, the eBPF program and the files if Run did not
// close them.
func (s *Session) Close() error {
	var err error
	if s.out != nil && !s.outClosed {
		s.outClosed = true
		err = s.out.Close()
	}
	if s.cap != nil {
		s.cap.Close()
	}
	if s.prog != nil {
		s.prog.Close()
		s.prog = nil
	}
	if s.xdp != nil {
		s.xdp.Close() // after the capture's Close detached it
		s.xdp = nil
	}
	return err
}

// Run captures until Count packets were kept, Duration passed, ctx ended,
// or a worker failed, then closes the files and reports. The error joins
// a worker's failure and the files' closing error; the report is filled
// either way.
func (s *Session) Run(ctx context.Context, h Hooks) (*Report, error) {
	start := time.Now()
	if s.analysis != nil {
		s.analysis.onFlow = h.Flow
	}
	var wg sync.WaitGroup
	for id := range s.cap.Workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(id, &h)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	s.supervise(ctx, done, &h)

	// Every worker has returned: nothing touches the ring or the files now.
	rep := &Report{Elapsed: time.Since(start), Captured: s.kept, XDP: s.cap.XDP()}
	var errs []error
	if s.out != nil && !s.outClosed {
		s.outClosed = true
		if err := s.out.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", s.out.Current(), err))
		}
		rep.Written, rep.Files = s.out.Packets(), s.out.Files()
	}
	if s.analysis != nil {
		st := s.analysis.totals()
		rep.Flows = &st
		rep.Largest = s.analysis.finish()
	}
	rep.Ring, rep.RingErr = s.cap.Stats()
	if s.prog != nil && s.cap.FilterKind() == "ebpf" {
		if fc, err := s.prog.Counters(); err == nil {
			rep.EBPF = &fc
		}
	}
	if s.xdp != nil && s.cfg.Filter != "" {
		if fc, err := s.xdp.Counters(); err == nil {
			rep.EBPF = &fc
		}
	}
	if e := s.workerErr.Load(); e != nil {
		errs = append(errs, *e)
	}
	return rep, errors.Join(errs...)
}

// frameRun is how many frame numbers a worker takes at once when no file
// numbers the packets: one shared atomic add per run, not per packet. One
// worker numbers 1, 2, 3, ...; several take turns by runs, so a number is
// unique but the order is the capture's only within a worker.
const frameRun = 64

// worker reads one ring until the capture stops.
func (s *Session) worker(id int, h *Hooks) {
	r := s.cap.Workers()[id]
	var an *workerAnalysis
	if s.analysis != nil {
		an = s.analysis.workers[id]
	}
	link := s.cap.Link()
	limit := s.cfg.Count
	var p ring.Packet
	var kept uint64                // plain per-worker count: no shared cache line per packet
	var nextFrame, endFrame uint64 // this worker's run of frame numbers [next, end)
	defer func() {
		s.keptMu.Lock()
		s.kept += kept
		s.keptMu.Unlock()
	}()
	for {
		err := r.Next(&p)
		if err == ring.ErrTimeout {
			if an != nil {
				an.idle()
			}
			continue
		}
		if err != nil {
			if err != ring.ErrStopped {
				s.fail(err)
			}
			return
		}
		if limit > 0 {
			n := s.taken.Add(1)
			if n >= limit {
				s.cap.Stop()
			}
			if n > limit {
				continue // read on until the stop drains, keep nothing
			}
		}
		kept++
		var frame uint64
		if s.out != nil {
			frame, err = s.out.WritePacket(p.Timestamp, p.Data, p.OrigLen)
			if err != nil {
				s.fail(err)
				return
			}
		} else {
			if nextFrame == endFrame {
				endFrame = s.frames.Add(frameRun) + 1
				nextFrame = endFrame - frameRun
			}
			frame = nextFrame
			nextFrame++
		}
		if an != nil {
			if tp := an.feed(&p, frame, link); tp != nil && h.Event != nil {
				h.Event(id, tp)
			}
		}
		if h.Packet != nil {
			h.Packet(id, frame, &p)
		}
	}
}

// fail records a worker's error and stops the capture. (Kept out of the
// loop: taking the address of the loop's err would move it to the heap,
// one allocation per packet.)
func (s *Session) fail(err error) {
	s.workerErr.CompareAndSwap(nil, &err)
	s.cap.Stop()
}

// supervise waits for the workers to end, stopping them on the context
// or the duration, and calls the periodic hooks.
func (s *Session) supervise(ctx context.Context, done <-chan struct{}, h *Hooks) {
	var deadline <-chan time.Time
	if s.cfg.Duration > 0 {
		t := time.NewTimer(s.cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	// Read the counters every statsEvery whatever StatsEvery says, so a
	// long reporting interval cannot let them wrap.
	readTick := time.NewTicker(statsEvery)
	defer readTick.Stop()
	var statsTick <-chan time.Time
	if s.cfg.StatsEvery > 0 && h.Stats != nil {
		t := time.NewTicker(s.cfg.StatsEvery)
		defer t.Stop()
		statsTick = t.C
	}
	var sumTick <-chan time.Time
	if s.analysis != nil && s.cfg.SummaryEvery > 0 && h.Summary != nil {
		t := time.NewTicker(s.cfg.SummaryEvery)
		defer t.Stop()
		sumTick = t.C
	}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			s.cap.Stop()
			ctx = context.Background() // a second signal is not waited for
		case <-deadline:
			s.cap.Stop()
		case <-readTick.C:
			s.cap.Stats()
		case <-statsTick:
			if rs, err := s.cap.Stats(); err == nil {
				h.Stats(rs)
			}
		case <-sumTick:
			h.Summary(s.analysis.summary(done))
		}
	}
}
