package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

// randomSYN makes a SYN of a random IPv4 5-tuple.
func randomSYN(r *rand.Rand) decode.Packet {
	var a, b [4]byte
	u, v := r.Uint32(), r.Uint32()
	a = [4]byte{10, byte(u >> 16), byte(u >> 8), byte(u)}
	b = [4]byte{172, 16, byte(v >> 8), byte(v)}
	return tcpPacket(netip.AddrPortFrom(netip.AddrFrom4(a), uint16(r.Uint32())|1024),
		netip.AddrPortFrom(netip.AddrFrom4(b), 443), seg{seq: r.Uint32(), flags: thSyn, win: 64240})
}

func TestUpdateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tab, _ := New(Config{Capacity: 1 << 12, OnEvent: func(*EventRecord) {}, OnExpire: func(*FlowRecord) {}})
	c := tcpPacket(netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:80"), seg{seq: 1, ack: 1, flags: thAck, win: 100, len: 100})
	var out PacketResult
	now := int64(1)
	tab.Update(&c, now, 1, &out)
	if n := testing.AllocsPerRun(1000, func() {
		now += 1000
		c.Seq += 100
		tab.Update(&c, now, 2, &out)
	}); n != 0 {
		t.Errorf("existing flow: %v allocs per Update, want 0", n)
	}
	// New flows on a full (warm) table: every Update evicts one.
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1<<13; i++ {
		p := randomSYN(r)
		tab.Update(&p, now, 3, &out)
	}
	pkts := make([]decode.Packet, 1100)
	for i := range pkts {
		pkts[i] = randomSYN(r)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		tab.Update(&pkts[i], now, 4, &out)
		i++
	}); n != 0 {
		t.Errorf("new flow on a warm table: %v allocs per Update, want 0", n)
	}
	if tab.Stats().Evicted == 0 {
		t.Error("expected evictions")
	}
	// Prefetch and the Updates of its batch, on the full table (4,096
	// flows, above prefetchMinLive for the test).
	defer func(n int) { prefetchMinLive = n }(prefetchMinLive)
	prefetchMinLive = 0
	o := tab.SoleOwner()
	var batch [prefetchMax]*decode.Packet
	i = 0
	if n := testing.AllocsPerRun(50, func() {
		for j := range batch {
			batch[j] = &pkts[(i+j)%len(pkts)]
		}
		o.Prefetch(batch[:])
		for _, p := range batch {
			o.Update(p, now, 5, &out)
		}
		i += len(batch)
	}); n != 0 {
		t.Errorf("Prefetch and its batch's Updates: %v allocs per batch, want 0", n)
	}
	if o.preAt != o.preN || o.preN != prefetchMax {
		t.Errorf("the Updates used %d of the %d keys Prefetch made, want all %d", o.preAt, o.preN, prefetchMax)
	}
}

// 1M distinct SYNs into a table of 100k flows: storage stays what New
// allocated, and every flow beyond capacity is evicted (none expire: all
// arrive within a second of packet time).
func TestMemoryBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1M packets: skipped with -short and -race (TestConcurrentUpdates covers races)")
	}
	const capacity, n = 100_000, 1_000_000
	var ended uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	tab, err := New(Config{Capacity: capacity, Shards: 16, OnExpire: func(*FlowRecord) { ended++ }})
	if err != nil {
		t.Fatal(err)
	}
	budget := tab.Stats().MemoryBytes
	r := rand.New(rand.NewPCG(3, 4))
	var out PacketResult
	now := int64(time.Hour)
	for i := uint32(0); i < n; i++ {
		// Distinct by construction: i*odd is a bijection mod 2^24, so the
		// source addresses differ; ports and ISNs are random.
		x := i * 2654435761 & 0xffffff
		p := tcpPacket(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)}), uint16(r.Uint32())|1024),
			netip.MustParseAddrPort("172.16.0.1:443"), seg{seq: r.Uint32(), flags: thSyn, win: 64240})
		tab.Update(&p, now+int64(i)*500, uint64(i+1), &out) // 1M SYNs in 0.5 s
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grown := int64(ms.HeapAlloc) - int64(before)
	st := tab.Stats()
	capTotal := uint64(tab.Capacity())
	if st.Live != capTotal {
		t.Errorf("live %d, want full table %d", st.Live, capTotal)
	}
	if st.Evicted != n-capTotal || st.Expired != 0 || ended != st.Evicted {
		t.Errorf("evicted %d expired %d handed out %d, want %d evictions", st.Evicted, st.Expired, ended, n-capTotal)
	}
	if grown > budget+budget/10 {
		t.Errorf("heap grew %d bytes, budget %d", grown, budget)
	}
	t.Logf("capacity %d: %d bytes (%d per flow), heap grew %d; %d evictions, %d emergency entries",
		capTotal, budget, budget/int64(capTotal), grown, st.Evicted, st.EmergencyEntries)
	runtime.KeepAlive(tab)
}

// Several goroutines hammer the same shards, with lookups and snapshots
// running alongside (go test -race).
func TestConcurrentUpdates(t *testing.T) {
	tab, _ := New(Config{Capacity: 2048, Shards: 4, OnExpire: func(*FlowRecord) {}})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			var out PacketResult
			for i := 0; i < 20000; i++ {
				// 3000 keys shared by all goroutines, more than the capacity.
				port := uint16(1024 + r.IntN(3000))
				p := tcpPacket(netip.AddrPortFrom(netip.MustParseAddr("10.1.1.1"), port),
					netip.MustParseAddrPort("10.2.2.2:80"), seg{seq: uint32(i), ack: 1, flags: thAck, win: 10, len: 10})
				if r.IntN(2) == 0 {
					p.SrcIP, p.DstIP, p.SrcPort, p.DstPort = p.DstIP, p.SrcIP, p.DstPort, p.SrcPort
				}
				tab.Update(&p, int64(i)*int64(time.Millisecond), uint64(i), &out)
				if i%1000 == 0 {
					tab.Flow(out.Flow)
					tab.Stats()
				}
			}
		}(g)
	}
	wg.Wait()
	st := tab.Stats()
	if st.Packets != 80000 || st.Live > uint64(tab.Capacity()) || st.Created != st.Live+st.Evicted+st.Expired {
		t.Errorf("stats %+v", st)
	}
	tab.Flush()
}

// Owners partition the shards and update without locks.
func TestOwners(t *testing.T) {
	tab, _ := New(Config{Capacity: 4096, Shards: 8})
	if _, err := tab.Owner(8); err == nil {
		t.Error("Owner(8) of 8 shards accepted")
	}
	o0, _ := tab.Owner(0, 2, 4, 6)
	o1, _ := tab.Owner(1, 3, 5, 7)
	r := rand.New(rand.NewPCG(5, 6))
	pkts := make([]decode.Packet, 10000)
	for i := range pkts {
		pkts[i] = randomSYN(r)
	}
	var wg sync.WaitGroup
	for g, o := range []*Owner{o0, o1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out PacketResult
			for i := range pkts {
				if tab.ShardOf(&pkts[i])%2 == g {
					o.Update(&pkts[i], int64(i), uint64(i+1), &out)
					if !out.Tracked {
						t.Errorf("owned packet not tracked")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	var out PacketResult
	for i := range pkts {
		if tab.ShardOf(&pkts[i])%2 == 1 {
			o0.Update(&pkts[i], 1, 1, &out)
			break
		}
	}
	st := tab.Stats()
	if out.Tracked || st.Misrouted != 1 || st.Created != 10000 {
		t.Errorf("misrouted %d created %d", st.Misrouted, st.Created)
	}
}

// A sole owner takes every packet, on every shard, as Update would.
func TestSoleOwner(t *testing.T) {
	locked, _ := New(Config{Capacity: 4096, Shards: 8, Seed: 3})
	owned, _ := New(Config{Capacity: 4096, Shards: 8, Seed: 3})
	o := owned.SoleOwner()
	r := rand.New(rand.NewPCG(7, 8))
	var a, b PacketResult
	for i := range 5000 {
		p := randomSYN(r)
		locked.Update(&p, int64(i), uint64(i+1), &a)
		o.Update(&p, int64(i), uint64(i+1), &b)
		if a != b {
			t.Fatalf("packet %d: Update %+v, sole owner %+v", i, a, b)
		}
	}
	if st := owned.Stats(); st.Misrouted != 0 || st.Created != 5000 {
		t.Errorf("sole owner: misrouted %d, created %d; want 0 and 5000", st.Misrouted, st.Created)
	}
}
