package flowtable

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// benchFlows makes a table holding n live flows and a ring of data packets
// spread randomly over them, both directions. Capacity is 1.25 n: each
// shard holds capacity/shards flows, and random hashing fills some shards
// before others.
func benchFlows(b *testing.B, n int) (*Table, []decode.Packet) {
	b.Helper()
	tab, err := New(Config{Capacity: n + n/4, Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	tuples := make([][2]netip.AddrPort, n)
	var out PacketResult
	for i := range tuples {
		x := uint32(i) * 2654435761
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(x >> 24), byte(x >> 16), byte(x >> 8)}), 1024+uint16(x))
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}), 443)
		tuples[i] = [2]netip.AddrPort{cli, srv}
		p := tcpPacket(cli, srv, seg{seq: 1000, flags: thSyn, win: 64240, ws: 8})
		tab.Update(&p, 1, uint64(i+1), &out)
	}
	if st := tab.Stats(); st.Live != uint64(n) {
		b.Fatalf("live %d, want %d", st.Live, n)
	}
	pkts := make([]decode.Packet, 1<<16)
	for i := range pkts {
		t := tuples[r.IntN(n)]
		if r.IntN(2) == 0 {
			pkts[i] = tcpPacket(t[0], t[1], seg{seq: 1001, ack: 1, flags: thAck, win: 500, len: 1400})
		} else {
			pkts[i] = tcpPacket(t[1], t[0], seg{seq: 1, ack: 1001, flags: thAck, win: 500})
		}
	}
	return tab, pkts
}

var benchSizes = []int{1_000, 100_000, 1_000_000}

// BenchmarkUpdate: ns per packet on existing flows, by number of live
// flows; single goroutine, two goroutines sharing the locked shards, and
// two owners each updating its own shards without locks. bytes/flow is the
// table's storage divided by its capacity.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range benchSizes {
		tab, pkts := benchFlows(b, n)
		mask := len(pkts) - 1
		perFlow := float64(tab.Stats().MemoryBytes) / float64(tab.Capacity())
		b.Run(fmt.Sprintf("flows=%d/single", n), func(b *testing.B) {
			b.ReportAllocs()
			var out PacketResult
			now := int64(10)
			for i := 0; b.Loop(); i++ {
				p := &pkts[i&mask]
				p.Seq += 1400
				now += 100
				tab.Update(p, now, uint64(i), &out)
			}
			b.ReportMetric(perFlow, "bytes/flow")
		})
		// An owner, one packet at a time and in batches with Prefetch (as
		// track.Run feeds it; Prefetch does nothing below prefetchMinLive).
		for _, batched := range []bool{false, true} {
			name := "owner"
			if batched {
				name = "owner-prefetch"
			}
			b.Run(fmt.Sprintf("flows=%d/%s", n, name), func(b *testing.B) {
				b.ReportAllocs()
				o := tab.SoleOwner()
				var out PacketResult
				var ptrs [prefetchMax]*decode.Packet
				now := int64(10)
				for i := 0; b.Loop(); i++ {
					if batched && i%prefetchMax == 0 {
						for j := range ptrs {
							ptrs[j] = &pkts[(i+j)&mask]
						}
						o.Prefetch(ptrs[:])
					}
					p := &pkts[i&mask]
					p.Seq += 1400
					now += 100
					o.Update(p, now, uint64(i), &out)
				}
			})
		}
		// The peer: a Go map from key to a counter, the least any flow
		// table must do per packet.
		b.Run(fmt.Sprintf("flows=%d/map-baseline", n), func(b *testing.B) {
			b.ReportAllocs()
			m := make(map[flowKey]uint64, n)
			for i := range pkts {
				var k flowKey
				makeKey(&pkts[i], false, &k)
				m[k] = 0
			}
			for i := 0; b.Loop(); i++ {
				var k flowKey
				makeKey(&pkts[i&mask], false, &k)
				m[k]++
			}
		})
		b.Run(fmt.Sprintf("flows=%d/2-goroutines-locked", n), func(b *testing.B) {
			b.ReportAllocs()
			var wg sync.WaitGroup
			per := b.N / 2
			for g := 0; g < 2; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					var out PacketResult
					now := int64(10)
					for i := 0; i < per; i++ {
						p := pkts[(i*2+g)&mask] // a copy: goroutines share the ring
						now += 100
						tab.Update(&p, now, uint64(i), &out)
					}
				}(g)
			}
			wg.Wait()
			b.ReportMetric(perFlow, "bytes/flow")
		})
		b.Run(fmt.Sprintf("flows=%d/2-owners-unlocked", n), func(b *testing.B) {
			b.ReportAllocs()
			// Route the ring by shard parity, as a fanout-hash setup would.
			var mine [2][]decode.Packet
			for i := range pkts {
				g := tab.ShardOf(&pkts[i]) & 1
				mine[g] = append(mine[g], pkts[i])
			}
			var shards [2][]int
			for s := 0; s < tab.Shards(); s++ {
				shards[s&1] = append(shards[s&1], s)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / 2
			for g := 0; g < 2; g++ {
				o, err := tab.Owner(shards[g]...)
				if err != nil {
					b.Fatal(err)
				}
				wg.Add(1)
				go func(ps []decode.Packet) {
					defer wg.Done()
					var out PacketResult
					now := int64(10)
					for i := 0; i < per; i++ {
						p := &ps[i%len(ps)]
						p.Seq += 1400
						now += 100
						o.Update(p, now, uint64(i), &out)
					}
				}(mine[g])
			}
			wg.Wait()
			b.ReportMetric(perFlow, "bytes/flow")
		})
	}
}

// BenchmarkNewFlow: a new flow per packet on a full table (each evicts the
// oldest), the SYN-flood path.
func BenchmarkNewFlow(b *testing.B) {
	tab, _ := New(Config{Capacity: 100_000, Seed: 7})
	r := rand.New(rand.NewPCG(8, 9))
	pkts := make([]decode.Packet, 1<<16)
	for i := range pkts {
		pkts[i] = randomSYN(r)
	}
	var out PacketResult
	for i := 0; i < 200_000; i++ {
		p := randomSYN(r)
		tab.Update(&p, int64(i), uint64(i), &out)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &pkts[i&(len(pkts)-1)]
		p.SrcPort++ // a new tuple each time round the ring
		tab.Update(p, int64(200_000+i), uint64(i), &out)
	}
}

// BenchmarkUpdateCapture feeds a whole capture, decoded beforehand, to a
// sole owner of the table, as `netblame analyze` does: the flow table's
// share of the pipeline on real traffic. The capture is
// $NETBLAME_BENCH_PCAP (see docs/BENCHMARKS.md); without it the benchmark
// skips. ns/pkt is per packet of the capture; %same-flow is the share of
// packets that continue the previous packet's flow, what the shards'
// last-flow check relies on.
func BenchmarkUpdateCapture(b *testing.B) {
	path := os.Getenv("NETBLAME_BENCH_PCAP")
	if path == "" {
		b.Skip("set NETBLAME_BENCH_PCAP to a capture file")
	}
	r, err := capfile.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	var (
		pkts []decode.Packet
		ts   []int64
		pkt  capfile.Packet
	)
	var prev, k flowKey
	same := 0 // packets of the previous packet's flow, either direction
	for err = r.Next(&pkt); err == nil; err = r.Next(&pkt) {
		var d decode.Packet
		_ = d.Decode(pkt.Data, pkt.Link)
		pkts = append(pkts, d)
		ts = append(ts, pkt.Timestamp)
		if _, ok := makeKey(&d, false, &k); ok {
			if k.equal(&prev) {
				same++
			}
			prev = k
		}
	}
	r.Close()
	if !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	tab, err := New(Config{Capacity: 1 << 18, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	o := tab.SoleOwner()
	var out PacketResult
	b.ReportAllocs()
	runtime.GC() // finish the cycle the setup started: it would stop the loop to scan its stack
	b.ResetTimer()
	batch := 0
	if v := os.Getenv("NETBLAME_PREFETCH"); v != "" {
		batch, _ = strconv.Atoi(v)
	}
	var ptrs [prefetchMax]*decode.Packet
	for range b.N {
		for i := range pkts {
			if batch > 0 && i%batch == 0 {
				m := 0
				for j := i; j < min(i+batch, len(pkts)); j++ {
					ptrs[m] = &pkts[j]
					m++
				}
				o.Prefetch(ptrs[:m])
			}
			o.Update(&pkts[i], ts[i], uint64(i+1), &out)
		}
		tab.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
	b.ReportMetric(100*float64(same)/float64(len(pkts)), "%same-flow")
}
