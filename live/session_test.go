package live

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// openIn opens a session inside namespace ns (its sockets must be created
// there); running it works from any goroutine.
func openIn(t *testing.T, ns string, cfg Config) *Session {
	t.Helper()
	var s *Session
	if err := ringtest.InNS(ns, func() (err error) {
		s, err = Open(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countFile reads a capture file to its end; one that does not end
// cleanly fails the test.
func countFile(t *testing.T, path string) int {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	var p capfile.Packet
	for n := 0; ; n++ {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("%s: after %d packets: %v", path, n, err)
		}
		if p.Frame != uint64(n+1) {
			t.Fatalf("%s: packet %d has frame number %d", path, n+1, p.Frame)
		}
	}
}

// TestSessionWritesEveryPacket: a session with two workers, a file and
// live analysis, stopped by its context after real TCP and UDP traffic,
// writes every packet the interface saw, counts them the same way in
// every place (report, hooks, file, kernel) and tracks the connections.
func TestSessionWritesEveryPacket(t *testing.T) {
	p := ringtest.ForTest(t)
	file := filepath.Join(t.TempDir(), "all.pcapng.zst")
	s := openIn(t, p.NSB, Config{
		// Rings that hold all of the test traffic: a reader stalled by
		// the machine's load cannot make the kernel drop.
		Ring:         ring.Config{Interface: p.IfB, Snaplen: 128, Workers: 2, NumBlocks: 32},
		Write:        file,
		Analyze:      true,
		StatsEvery:   50 * time.Millisecond,
		SummaryEvery: 50 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	var hooked atomic.Uint64
	var stats, summaries int // the hooks run on Run's goroutine
	type result struct {
		rep *Report
		err error
	}
	res := make(chan result, 1)
	go func() {
		rep, err := s.Run(ctx, Hooks{
			Packet:  func(int, uint64, *ring.Packet) { hooked.Add(1) },
			Event:   func(int, *track.Packet) {},
			Stats:   func(ring.Stats) { stats++ },
			Summary: func(flowtable.TableStats) { summaries++ },
		})
		res <- result{rep, err}
	}()
	// The sockets capture from Open on: traffic sent now is in the rings.
	rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 300, 100, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
	cancel()
	var r result
	select {
	case r = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20s after its context ended")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	rep := r.rep
	want := rx1 - rx0 + tx1 - tx0
	inFile := countFile(t, file)
	if rep.Captured != want || rep.Written != want || uint64(inFile) != want || hooked.Load() != want {
		t.Errorf("the interface received %d and sent %d; captured %d, written %d, in the file %d, given to Hooks.Packet %d",
			rx1-rx0, tx1-tx0, rep.Captured, rep.Written, inFile, hooked.Load())
	}
	if rep.RingErr != nil || rep.Ring.Total.Delivered != rep.Captured || rep.Ring.Total.Kernel.Drops != 0 || len(rep.Ring.Workers) != 2 {
		t.Errorf("ring statistics %+v (%v); want %d delivered, no drops, 2 workers", rep.Ring, rep.RingErr, rep.Captured)
	}
	if len(rep.Files) != 1 || rep.Files[0] != file {
		t.Errorf("files %v, want [%s]", rep.Files, file)
	}
	if rep.Flows == nil || rep.Flows.TCPFlows != 2 || rep.Flows.UDPFlows != 1 || rep.Flows.Packets != want {
		t.Errorf("flow totals %+v; want 2 TCP and 1 UDP flows over %d packets", rep.Flows, want)
	}
	if rep.Elapsed > 200*time.Millisecond && (stats == 0 || summaries == 0) {
		t.Errorf("%d stats and %d summaries in %v, every 50ms asked", stats, summaries, rep.Elapsed)
	}
	if len(rep.Largest) != 3 {
		t.Errorf("%d largest flows, want the 3 of the test", len(rep.Largest))
	}
}

// TestSessionCountAndFilter: the filter keeps only what it names and
// Count ends the run by itself with exactly that many packets kept and
// written, though both workers read on until the stop drains.
func TestSessionCountAndFilter(t *testing.T) {
	p := ringtest.ForTest(t)
	file := filepath.Join(t.TempDir(), "count.pcap")
	s := openIn(t, p.NSB, Config{
		Ring:   ring.Config{Interface: p.IfB, Snaplen: 128, Workers: 2},
		Filter: "udp dst port 5003",
		Count:  250,
		Write:  file,
	})
	go ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5004, 500, 100, 0)
	go ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5003, 2000, 100, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := s.Run(ctx, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Count 250 did not end the run")
	}
	if n := countFile(t, file); rep.Captured != 250 || rep.Written != 250 || n != 250 {
		t.Errorf("Count 250: captured %d, written %d, file holds %d", rep.Captured, rep.Written, n)
	}
	if rep.Ring.Total.Delivered < rep.Captured {
		t.Errorf("ring delivered %d, fewer than the %d captured", rep.Ring.Total.Delivered, rep.Captured)
	}
	if k := s.Capture().FilterKind(); k == "ebpf" {
		if rep.EBPF == nil || rep.EBPF.Accepted < 250 || rep.EBPF.Seen != rep.EBPF.Accepted+rep.EBPF.Rejected {
			t.Errorf("eBPF counters %+v", rep.EBPF)
		}
	} else if rep.EBPF != nil {
		t.Errorf("filter %s, but eBPF counters %+v", k, rep.EBPF)
	}
}

// TestWorkerAllocs: the worker loop (ring read, file write, live
// analysis, the packet hook) allocates nothing per packet. It runs one
// worker in process on a ring already holding the packets.
func TestWorkerAllocs(t *testing.T) {
	p := ringtest.ForTest(t)
	for _, analyze := range []bool{false, true} {
		const n = 3000
		s := openIn(t, p.NSB, Config{
			Ring:    ring.Config{Interface: p.IfB, Snaplen: 128},
			Count:   n,
			Write:   filepath.Join(t.TempDir(), "a.pcapng"),
			Analyze: analyze,
		})
		frames := make([][]byte, n)
		for i := range frames {
			payload := make([]byte, 200)
			binary.BigEndian.PutUint64(payload, uint64(i))
			frames[i] = ringtest.UDPFrame(p.MACA, p.MACB, -1, p.AddrA, p.AddrB, uint16(1000+i%50), 5001, payload)
		}
		if err := ringtest.SendRaw(p.NSA, p.IfA, frames); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the kernel retires the last block
		var seen uint64
		h := Hooks{Packet: func(int, uint64, *ring.Packet) { seen++ }}
		if analyze {
			// A summary is waiting: the worker publishes its counters
			// (expiry, table statistics) on the way.
			s.analysis.want.Add(1)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s.worker(0, &h)
		runtime.ReadMemStats(&after)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.kept != n || seen != n {
			t.Fatalf("worker kept %d packets, hooked %d, want %d", s.kept, seen, n)
		}
		if analyze {
			if w := s.analysis.workers[0]; w.done.Load() != 1 || w.published.load().Capacity == 0 {
				t.Errorf("the worker did not publish its counters for the waiting summary")
			}
		}
		if allocs := after.Mallocs - before.Mallocs; allocs > n/100 {
			t.Errorf("analyze=%v: %d allocations for %d packets", analyze, allocs, n)
		} else {
			t.Logf("analyze=%v: %d allocations for %d packets", analyze, allocs, n)
		}
	}
}
