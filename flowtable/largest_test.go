package flowtable

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestLargest(t *testing.T) {
	rec := func(idx, c2s, s2c uint64) *FlowRecord {
		return &FlowRecord{Index: idx, Bytes: [2]uint64{c2s, s2c}}
	}
	indexes := func(l *Largest) []uint64 {
		var out []uint64
		for _, r := range l.Flows() {
			out = append(out, r.Index)
		}
		return out
	}
	l := NewLargest(3)
	if got := l.Flows(); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	l.Add(rec(0, 10, 0))
	l.Add(rec(1, 5, 50)) // 55
	if got := indexes(l); !slices.Equal(got, []uint64{1, 0}) {
		t.Errorf("two flows: %v", got)
	}
	l.Add(rec(2, 20, 0))
	l.Add(rec(3, 1, 0))  // smaller than all three: dropped
	l.Add(rec(4, 0, 10)) // ties the smallest kept: the earlier stays
	if got := indexes(l); !slices.Equal(got, []uint64{1, 2, 0}) {
		t.Errorf("after a small flow and a tie: %v", got)
	}
	l.Add(rec(5, 100, 100))
	if got := indexes(l); !slices.Equal(got, []uint64{5, 1, 2}) {
		t.Errorf("after a large flow: %v", got)
	}
	// The copy is the caller's.
	f := l.Flows()
	f[0].Index = 99
	if l.Flows()[0].Index != 5 {
		t.Error("Flows shares its storage")
	}
	z := NewLargest(0)
	z.Add(rec(1, 1, 1))
	if len(z.Flows()) != 1 {
		t.Error("NewLargest(0) keeps no flow")
	}
}

// TestLargestConcurrent: offered from several goroutines, the n largest
// of all are kept, in order (run with -race).
func TestLargestConcurrent(t *testing.T) {
	const n, flows, workers = 10, 4000, 4
	sizes := rand.New(rand.NewPCG(1, 2)).Perm(flows) // distinct sizes
	l := NewLargest(n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < flows; i += workers {
				l.Add(&FlowRecord{Index: uint64(i), Bytes: [2]uint64{uint64(sizes[i]), 0}})
			}
		})
	}
	wg.Wait()
	got := l.Flows()
	if len(got) != n {
		t.Fatalf("%d flows kept, want %d", len(got), n)
	}
	for i, r := range got {
		if want := uint64(flows - 1 - i); r.Bytes[0] != want {
			t.Errorf("flow %d has %d bytes, want %d", i, r.Bytes[0], want)
		}
	}
}

func TestTableStatsAdd(t *testing.T) {
	a := TableStats{Packets: 1, Untracked: 2, Misrouted: 3, Created: 4, TCPFlows: 5, UDPFlows: 6, Live: 7, Expired: 8,
		Evicted: 9, Flushed: 10, PortReuse: 11, EmergencyEntries: 12, Emergency: 13, Capacity: 14, Shards: 15, MemoryBytes: 16}
	a.Events[Retransmission], a.Events[Reset] = 17, 18
	var sum TableStats
	sum.Add(&a)
	sum.Add(&a)
	want := TableStats{Packets: 2, Untracked: 4, Misrouted: 6, Created: 8, TCPFlows: 10, UDPFlows: 12, Live: 14, Expired: 16,
		Evicted: 18, Flushed: 20, PortReuse: 22, EmergencyEntries: 24, Emergency: 26, Capacity: 28, Shards: 30, MemoryBytes: 32}
	want.Events[Retransmission], want.Events[Reset] = 34, 36
	if sum != want {
		t.Errorf("sum\n%+v\nwant\n%+v", sum, want)
	}
}
