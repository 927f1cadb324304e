package live

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/ring"
	"github.com/netblame/netblame/track"
)

// analysed is what one running session reported through its hooks.
type analysed struct {
	mu        sync.Mutex
	flows     []flowtable.FlowRecord
	frames    []uint64               // in the order Hooks.Packet saw them
	summaries []flowtable.TableStats // Run's goroutine only
}

func (a *analysed) hooks() Hooks {
	return Hooks{
		Flow: func(f *flowtable.FlowRecord) {
			a.mu.Lock()
			a.flows = append(a.flows, *f)
			a.mu.Unlock()
		},
		Summary: func(st flowtable.TableStats) { a.summaries = append(a.summaries, st) },
		Packet: func(_ int, frame uint64, _ *ring.Packet) {
			a.mu.Lock()
			a.frames = append(a.frames, frame)
			a.mu.Unlock()
		},
	}
}

// comparable returns the flows with what depends on the worker layout
// cleared (handle and index in its table), sorted by protocol and
// endpoints. With other set, what differs between two sockets capturing
// the same packets is cleared too: the kernel stamps each socket's copy
// with its own clock reading (microseconds apart), so the times and the
// number of RTT samples (an ACK stamped before its segment gives none)
// differ, and frame numbers count a session's packets in the order its
// workers took them.
func comparable(flows []flowtable.FlowRecord, other bool) []flowtable.FlowRecord {
	out := slices.Clone(flows)
	for i := range out {
		f := &out[i]
		f.ID, f.Index = 0, 0
		if other {
			f.FirstFrame, f.LastFrame, f.FirstResetFrame = 0, 0, 0
			f.First, f.Last, f.SynTime, f.SynAckTime, f.AckTime, f.FirstResetTS = 0, 0, 0, 0, 0, 0
			f.SynToSynAck, f.SynAckToAck, f.IRTT, f.RTTMin, f.RTTMedian, f.RTTMax = 0, 0, 0, 0, 0, 0
			f.RTTSamples = 0
		}
	}
	slices.SortFunc(out, func(a, b flowtable.FlowRecord) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), a.Client.Compare(b.Client), a.Server.Compare(b.Server), cmp.Compare(a.First, b.First))
	})
	return out
}

// sameFlows reports the first difference between two sets of flows.
func sameFlows(t *testing.T, what string, f1, f2 []flowtable.FlowRecord) {
	t.Helper()
	if reflect.DeepEqual(f1, f2) {
		return
	}
	t.Errorf("%s: %d flows against %d", what, len(f1), len(f2))
	for i := range min(len(f1), len(f2)) {
		if !reflect.DeepEqual(f1[i], f2[i]) {
			t.Errorf("%s: flow %d differs:\n %+v\n %+v", what, i, f1[i], f2[i])
			return
		}
	}
}

// TestOwnedWorkersMatchOneWorker: live analysis with two hash-fanout
// workers, each the sole owner of its table, gives the flows and totals
// one worker gives for the same real traffic: both sessions capture it at
// once on the same end of a veth pair, and the two-worker session's file,
// read back through one table, gives its flows exactly (times and frame
// numbers included). Meanwhile the periodic summary reads the workers'
// published counters; once the traffic has ended, the last summary equals
// the final totals.
func TestOwnedWorkersMatchOneWorker(t *testing.T) {
	p := ringtest.ForTest(t)
	open := func(workers int, file string) *Session {
		return openIn(t, p.NSB, Config{
			// Rings that hold all of the test traffic, so the comparison
			// is not spoilt by a reader the machine's load stalls.
			Ring:         ring.Config{Interface: p.IfB, Snaplen: 128, Workers: workers, NumBlocks: 32},
			Analyze:      true,
			SummaryEvery: 20 * time.Millisecond,
			Write:        file,
		})
	}
	file := filepath.Join(t.TempDir(), "two.pcapng")
	one, two := open(1, ""), open(2, file)
	if !two.analysis.owned || len(two.analysis.tables()) != 2 || two.analysis.tables()[0] == two.analysis.tables()[1] {
		t.Fatal("two hash-fanout workers do not each own a table")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	run := func(s *Session, a *analysed) <-chan result {
		res := make(chan result, 1)
		go func() {
			rep, err := s.Run(ctx, a.hooks())
			res <- result{rep, err}
		}()
		return res
	}
	var a1, a2 analysed
	res1, res2 := run(one, &a1), run(two, &a2)

	var wg sync.WaitGroup
	errs := make(chan error, 17)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 8, 1<<20) }()
	go func() {
		defer wg.Done()
		for port := 7000; port < 7016; port++ {
			errs <- ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, port, 50, 100, 0)
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(400 * time.Millisecond) // every worker idles, summaries catch up
	cancel()
	r1, r2 := <-res1, <-res2
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	for i, r := range []*Report{r1.rep, r2.rep} {
		if r.RingErr != nil || r.Ring.Total.Kernel.Drops != 0 {
			t.Fatalf("session %d: ring statistics %+v (%v): the comparison needs no drops", i+1, r.Ring.Total, r.RingErr)
		}
	}
	for _, w := range r2.rep.Ring.Workers {
		if w.Delivered == 0 {
			t.Fatalf("hash fanout left worker %d idle (%+v): the test needs both", w.Worker, r2.rep.Ring.Workers)
		}
	}
	t.Logf("1 worker: %d packets, %d flows; 2 workers: %+v", r1.rep.Captured, len(a1.flows), r2.rep.Ring.Workers)

	// Without a file the one worker numbers its packets 1, 2, 3, ...; the
	// two workers' numbers are the file's, each once.
	for i, f := range a1.frames {
		if f != uint64(i+1) {
			t.Fatalf("1 worker, no file: packet %d has frame number %d", i+1, f)
		}
	}
	nums := slices.Clone(a2.frames)
	slices.Sort(nums)
	if len(nums) != int(r2.rep.Captured) || nums[0] != 1 || nums[len(nums)-1] != r2.rep.Captured || len(slices.Compact(nums)) != len(nums) {
		t.Errorf("2 workers: %d frame numbers for %d packets, not each of 1 to %d once", len(nums), r2.rep.Captured, r2.rep.Captured)
	}
	f1, f2 := comparable(a1.flows, true), comparable(a2.flows, true)
	if len(f1) != 24 {
		t.Errorf("1 worker: %d flows, the test made 8 TCP and 16 UDP", len(f1))
	}
	sameFlows(t, "1 worker against 2 workers", f1, f2)
	replayed, _, err := track.File(file, &flowtable.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sameFlows(t, "2 workers against their file through one table", comparable(replayed, false), comparable(a2.flows, false))
	s1, s2 := *r1.rep.Flows, *r2.rep.Flows
	same := func(s flowtable.TableStats) string {
		return fmt.Sprint(s.Packets, s.Untracked, s.Misrouted, s.Created, s.TCPFlows, s.UDPFlows, s.Live, s.Expired, s.Evicted, s.Events)
	}
	if same(s1) != same(s2) || s1.Packets != r1.rep.Captured || s1.Misrouted != 0 {
		t.Errorf("totals differ (or miss packets: %d captured):\n 1 worker:  %+v\n 2 workers: %+v", r1.rep.Captured, s1, s2)
	}
	if s1.Capacity != s2.Capacity {
		t.Errorf("capacity %d with 1 worker, %d with 2: the workers share the one budget", s1.Capacity, s2.Capacity)
	}
	if len(r1.rep.Largest) != 10 {
		t.Errorf("1 worker: %d largest flows, want 10", len(r1.rep.Largest))
	}
	// Flows of equal size tie (the UDP ones here), and which of them a
	// table ends first depends on its hash seed: compare the sizes.
	sizes := func(fs []flowtable.FlowRecord) (b []uint64) {
		for _, f := range fs {
			b = append(b, f.Bytes[0]+f.Bytes[1])
		}
		return b
	}
	if b1, b2 := sizes(r1.rep.Largest), sizes(r2.rep.Largest); !slices.Equal(b1, b2) {
		t.Errorf("largest flows: %v bytes with 1 worker, %v with 2", b1, b2)
	}
	for i, a := range []*analysed{&a1, &a2} {
		final := []flowtable.TableStats{s1, s2}[i]
		if len(a.summaries) < 3 {
			t.Errorf("session %d: %d summaries", i+1, len(a.summaries))
			continue
		}
		for j := 1; j < len(a.summaries); j++ {
			if a.summaries[j].Packets < a.summaries[j-1].Packets {
				t.Errorf("session %d: summary %d counts %d packets, the one before %d", i+1, j, a.summaries[j].Packets, a.summaries[j-1].Packets)
			}
		}
		last := a.summaries[len(a.summaries)-1]
		if same(last) != same(final) {
			t.Errorf("session %d: the last summary, 400ms after the traffic, differs from the final totals:\n summary %+v\n final   %+v", i+1, last, final)
		}
	}
}
