package track_test

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/fragtest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/track"
)

// seen is what a run's callback saw of one packet.
type seen struct {
	frame       uint64
	ts          int64
	origLen     int
	data        string
	decoded     decode.Packet
	reassembled bool
	decodeErr   error
	transport   string
	result      flowtable.PacketResult
	events      string // the events, printed
	nEvents     int
}

// outcome is everything a run gives.
type outcome struct {
	packets []seen // by frame
	flows   []flowtable.FlowRecord
	table   flowtable.TableStats
	stats   track.Stats
	err     error
}

// runWith runs src through a tracker with n workers (1: Run itself) and
// gathers the outcome; open gives a fresh source.
func runWith(t *testing.T, open func() track.Source, cfg flowtable.Config, dedup bool, n int) outcome {
	t.Helper()
	var mu sync.Mutex
	var out outcome
	cfg.Seed = 1
	cfg.OnExpire = func(r *flowtable.FlowRecord) {
		mu.Lock()
		out.flows = append(out.flows, *r)
		mu.Unlock()
	}
	tr, err := track.New(track.Options{Flows: &cfg, Dedup: dedup})
	if err != nil {
		t.Fatal(err)
	}
	perWorker := make([][]seen, max(n, 1))
	fn := func(w int, p *track.Packet) error {
		s := seen{frame: p.Capture.Frame, ts: p.Capture.Timestamp, origLen: p.Capture.OrigLen,
			decoded: *p.Decoded, reassembled: p.Reassembled, decodeErr: p.DecodeErr, result: p.Result,
			events: fmt.Sprintf("%+v", p.Events), nEvents: len(p.Events)}
		s.data, s.transport = string(p.Capture.Data), string(p.Transport())
		s.result.Index = 0 // numbered at the end (Renumber)
		perWorker[w] = append(perWorker[w], s)
		return nil
	}
	src := open()
	if n <= 1 {
		out.err = tr.Run(src, func(p *track.Packet) error { return fn(0, p) })
	} else {
		out.err = tr.RunWorkers(src, track.Workers{N: n}, fn)
	}
	tr.Finish()
	for _, ps := range perWorker {
		out.packets = append(out.packets, ps...)
	}
	slices.SortFunc(out.packets, func(a, b seen) int { return cmp.Compare(a.frame, b.frame) })
	flowtable.Renumber(out.flows)
	out.table = tr.Table().Stats()
	out.stats = tr.Stats()
	return out
}

// same fails unless two outcomes agree in every packet, flow and counter.
func same(t *testing.T, what string, got, want outcome) {
	t.Helper()
	if fmt.Sprint(got.err) != fmt.Sprint(want.err) {
		t.Fatalf("%s: error %v, one worker %v", what, got.err, want.err)
	}
	if len(got.packets) != len(want.packets) {
		t.Fatalf("%s: %d packets, one worker %d", what, len(got.packets), len(want.packets))
	}
	for i := range want.packets {
		g, w := &got.packets[i], &want.packets[i]
		if *g != *w {
			t.Fatalf("%s frame %d:\n%+v\none worker\n%+v", what, w.frame, *g, *w)
		}
	}
	if !slices.Equal(got.flows, want.flows) {
		for i := range min(len(got.flows), len(want.flows)) {
			if got.flows[i] != want.flows[i] {
				t.Fatalf("%s: flow %d\n%+v\none worker\n%+v", what, i, got.flows[i], want.flows[i])
			}
		}
		t.Fatalf("%s: %d flows, one worker %d", what, len(got.flows), len(want.flows))
	}
	if got.table != want.table {
		t.Fatalf("%s: table stats %+v, one worker %+v", what, got.table, want.table)
	}
	if got.stats != want.stats {
		t.Fatalf("%s: tracker stats %+v, one worker %+v", what, got.stats, want.stats)
	}
}

// short timeouts and a small table: flows expire, are swept and evicted.
var shortConfig = flowtable.Config{Capacity: 128, Shards: 8, IgnoreVLAN: true, Timeouts: flowtable.Timeouts{
	HalfOpen: 5 * time.Millisecond, Established: 30 * time.Millisecond, Closing: 5 * time.Millisecond, UDP: 10 * time.Millisecond}}

func compareWorkers(t *testing.T, what string, open func() track.Source, cfgs []flowtable.Config, dedup bool) outcome {
	t.Helper()
	var first outcome
	for ci, cfg := range cfgs {
		want := runWith(t, open, cfg, dedup, 1)
		if ci == 0 {
			first = want
		}
		for _, n := range []int{2, 3, 4} {
			same(t, fmt.Sprintf("%s, config %d, %d workers", what, ci, n), runWith(t, open, cfg, dedup, n), want)
		}
	}
	return first
}

// Every shared capture (corrupt ones included: the same packets and the
// same error), with the defaults and with short timeouts, dedup on and
// off: 2, 3 and 4 workers give what one gives.
func TestWorkersMatchOneOnSharedCaptures(t *testing.T) {
	dir := sharedtest.PcapsIfPresent()
	if dir == "" {
		t.Skip("../shared/pcaps not found: no shared captures to compare on")
	}
	files := []string{}
	for _, m := range sharedtest.Manifest(t) {
		files = append(files, filepath.Join(dir, m.File))
	}
	if p := os.Getenv("NETBLAME_BENCH_PCAP"); p != "" {
		files = append(files, p)
	}
	packets, events, errs, reassembled := 0, 0, 0, 0
	for _, path := range files {
		open := fileSource(t, path)
		for _, dedup := range []bool{false, true} {
			o := compareWorkers(t, path, open, []flowtable.Config{{IgnoreVLAN: true}, shortConfig}, dedup)
			packets += len(o.packets)
			if o.err != nil {
				errs++
			}
			for _, p := range o.packets {
				events += p.nEvents
				if p.reassembled {
					reassembled++
				}
			}
		}
	}
	t.Logf("%d captures: %d packets, %d events, %d reassembled datagrams, %d read errors", len(files), packets, events, reassembled, errs)
	if events == 0 || reassembled == 0 || errs == 0 {
		t.Fatalf("the captures gave %d events, %d reassembled datagrams, %d read errors: the comparison misses cases", events, reassembled, errs)
	}
}

// fileSource opens path afresh at each call, closed at the test's end.
func fileSource(t *testing.T, path string) func() track.Source {
	return func() track.Source {
		r, err := capfile.Open(path)
		if err != nil {
			return errSource{err}
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
}

// errSource is a source that fails at once (a capture that does not open).
type errSource struct{ err error }

func (s errSource) Next(*capfile.Packet) error { return s.err }

// Generated many-flow traffic (1,024 interleaved connections), with one
// IPv4 datagram in ten cut into fragments (in order or not), so that
// reassembly happens among thousands of flows spread over the workers.
func TestWorkersMatchOneOnGeneratedTraffic(t *testing.T) {
	cfg := bench.DefaultTraffic
	cfg.Snaplen = 0
	gen := bench.NewTraffic(cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, bench.MaxFrame)
	var pkts []capfile.Packet
	for i := range 60_000 {
		ts, frame, _ := gen.Next(buf)
		pieces := [][]byte{frame}
		if i%10 == 0 {
			pieces = fragtest.Fragment4(frame, uint16(i), rng)
		}
		for _, f := range pieces {
			pkts = append(pkts, capfile.Packet{Frame: uint64(len(pkts) + 1), Timestamp: ts, Data: bytes.Clone(f), OrigLen: len(f), Link: decode.LinkEthernet})
		}
	}
	open := func() track.Source { return &packetSource{pkts: pkts} }
	o := compareWorkers(t, "generated", open, []flowtable.Config{{}, shortConfig, {Capacity: 256}}, false)
	reassembled := 0
	for _, p := range o.packets {
		if p.reassembled {
			reassembled++
		}
	}
	if reassembled < 1000 || o.table.Created < 1024 {
		t.Fatalf("%d datagrams reassembled, %d flows: not the traffic meant", reassembled, o.table.Created)
	}
}

// A capture cut part-way: the workers report the reader's error with its
// offset, after every packet before it, as one worker does.
func TestWorkersKeepWhatWasReadBeforeAnError(t *testing.T) {
	data, err := os.ReadFile(lossySample)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() track.Source {
		r, err := capfile.Open(cut)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	o := compareWorkers(t, "cut", open, []flowtable.Config{{}}, false)
	var fe *capfile.FormatError
	if !errors.As(o.err, &fe) || len(o.packets) == 0 {
		t.Fatalf("cut file: %d packets, error %v; want packets and a capfile.FormatError", len(o.packets), o.err)
	}
}

// fn's error stops the run and comes back as it is.
func TestWorkersStopOnCallbackError(t *testing.T) {
	pkts := generated(20_000)
	tr, _ := track.New(track.Options{Flows: &flowtable.Config{}})
	stop := errors.New("enough")
	var mu sync.Mutex
	calls := 0
	err := tr.RunWorkers(&packetSource{pkts: pkts}, track.Workers{N: 2}, func(w int, p *track.Packet) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if p.Capture.Frame == 500 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Fatalf("RunWorkers: %v, want fn's error", err)
	}
	if tr.Stats().Packets == uint64(len(pkts)) && calls == len(pkts) {
		t.Errorf("the run went on to the end after fn failed")
	}
	tr2, _ := track.New(track.Options{Table: tr.Table()})
	if err := tr2.RunWorkers(&packetSource{pkts: pkts}, track.Workers{N: 2}, nil); !errors.Is(err, track.ErrWorkers) {
		t.Errorf("RunWorkers on a shared table: %v, want ErrWorkers", err)
	}
}

// TestWorkersAllocs: in steady state no packet allocates on its way
// through the fan-out. A run allocates its workers, batches and arenas;
// running five times as many packets must not allocate more.
func TestWorkersAllocs(t *testing.T) {
	pkts := generated(60_000)
	for _, n := range []int{2, 3} {
		tr, err := track.New(track.Options{Flows: &flowtable.Config{}})
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, n) // each worker its own
		fn := func(w int, p *track.Packet) error {
			seen[w] += len(p.Events) + len(p.Capture.Data)
			return nil
		}
		run := func(k int) float64 {
			return testing.AllocsPerRun(5, func() {
				if err := tr.RunWorkers(&packetSource{pkts: pkts[:k]}, track.Workers{N: n}, fn); err != nil {
					t.Fatal(err)
				}
			})
		}
		small, large := run(10_000), run(len(pkts))
		t.Logf("%d workers: %.0f allocations a run of 10,000 packets, %.0f of 60,000: %.5f a packet", n, small, large, (large-small)/50_000)
		if large > small+4 {
			t.Errorf("%d workers: %.0f allocations for 60,000 packets, %.0f for 10,000: packets allocate", n, large, small)
		}
		if seen[n-1] == 0 {
			t.Errorf("worker %d saw no bytes", n-1)
		}
	}
}

// oneAtATime hides a reader's NextBatch, so that Run reads it packet by
// packet.
type oneAtATime struct{ src track.Source }

func (s oneAtATime) Next(p *capfile.Packet) error { return s.src.Next(p) }

// Run reads a capfile.Reader in batches, decodes each batch and has the
// table prefetch its flows before the packets go through one by one: the
// outcome must be what reading one packet at a time gives, on every
// shared capture and on a generated file with more than 16,000 flows live
// at its end (the table prefetches from 8,192).
func TestBatchedRunMatchesOneAtATime(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "many.pcap")
	cfg := bench.DefaultTraffic
	cfg.Concurrent = 12000
	cfg.Responses = 6
	if _, err := bench.WriteTraffic(gen, cfg, 200_000); err != nil {
		t.Fatal(err)
	}
	files := []string{gen}
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, m := range sharedtest.Manifest(t) {
			files = append(files, filepath.Join(dir, m.File))
		}
	} else {
		t.Log("../shared/pcaps not found: only the generated capture is compared")
	}
	for _, path := range files {
		open := fileSource(t, path)
		for _, c := range []flowtable.Config{{IgnoreVLAN: true}, shortConfig} {
			want := runWith(t, func() track.Source { return oneAtATime{open()} }, c, false, 1)
			same(t, path, runWith(t, open, c, false, 1), want)
			if path == gen && c.Capacity == 0 && want.table.Created < 16_000 {
				t.Fatalf("the generated capture made %d flows: too few to prefetch", want.table.Created)
			}
		}
	}
}

// With a capture filter, and an fn that stops the run in the middle of a
// batch, batched Run must see, count and table the same packets as Run
// one packet at a time: the filter runs before decode for the whole
// batch, but a packet is counted only at its turn.
func TestBatchedRunFiltersAndStopsAsOneAtATime(t *testing.T) {
	gen := filepath.Join(t.TempDir(), "many.pcap")
	cfg := bench.DefaultTraffic
	cfg.Concurrent = 12000 // more than 8,192 live flows: Prefetch works
	if _, err := bench.WriteTraffic(gen, cfg, 60_000); err != nil {
		t.Fatal(err)
	}
	open := fileSource(t, gen)
	errStop := errors.New("stop")
	run := func(src track.Source) ([]seen, track.Stats, flowtable.TableStats) {
		tr, err := track.New(track.Options{
			Flows:         &flowtable.Config{Seed: 1},
			CaptureFilter: func(p *capfile.Packet) bool { return p.Frame%3 != 0 },
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []seen
		err = tr.Run(src, func(p *track.Packet) error {
			got = append(got, seen{frame: p.Capture.Frame, decoded: *p.Decoded, result: p.Result, nEvents: len(p.Events)})
			if len(got) == 30_007 { // not a multiple of the batch
				return errStop
			}
			return nil
		})
		if err != errStop {
			t.Fatalf("Run returned %v, want fn's error", err)
		}
		return got, tr.Stats(), tr.Table().Stats()
	}
	gotP, gotS, gotT := run(open())
	wantP, wantS, wantT := run(oneAtATime{open()})
	if !slices.Equal(gotP, wantP) {
		t.Errorf("batched Run saw %d packets, one at a time %d, or they differ", len(gotP), len(wantP))
	}
	if gotS != wantS {
		t.Errorf("tracker counts: batched %+v, one at a time %+v", gotS, wantS)
	}
	if gotT != wantT {
		t.Errorf("table counts: batched %+v, one at a time %+v", gotT, wantT)
	}
	if wantS.CaptureFiltered == 0 || wantT.Created < 8192 {
		t.Fatalf("the filter left out %d packets and the table made %d flows: the test covers nothing", wantS.CaptureFiltered, wantT.Created)
	}
}
