package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// FlowSizes are the numbers of live flows the flowtable suite measures.
var FlowSizes = []int{1_000, 100_000, 1_000_000}

// flowRing is how many distinct packets the flowtable cases cycle through,
// each to a random live flow, so caches miss as they do with that many
// flows.
const flowRing = 1 << 16

// FlowUpdates is how many updates one run of a flowtable case makes.
func (e *Env) FlowUpdates() int {
	if e.Quick {
		return 1 << 19
	}
	return 1 << 21
}

// LiveFlows is the flowtable suite's input for n live flows: the SYN that
// opens each flow and a ring of data segments and ACKs spread randomly
// over them, both directions, decoded.
type LiveFlows struct {
	Opens []decode.Packet
	Ring  []decode.Packet
}

// MakeLiveFlows builds the input for n flows (IPv4, a client address and
// port per flow, servers on port 443).
func MakeLiveFlows(n int) (*LiveFlows, error) {
	lf := &LiveFlows{Opens: make([]decode.Packet, n), Ring: make([]decode.Packet, flowRing)}
	buf := make([]byte, MaxFrame)
	flow := func(i int) genFlow {
		x := uint32(i) * 2654435761
		f := genFlow{cport: 1024 + uint16(x)%60000, sport: 443, cisn: 1000, sisn: 0}
		binary.BigEndian.PutUint32(f.cli[:4], 10<<24|x>>8)
		binary.BigEndian.PutUint32(f.srv[:4], 192<<24|168<<16|uint32(i&0xffff))
		return f
	}
	decodeSeg := func(f *genFlow, s *segment, p *decode.Packet) error {
		n := f.write(buf, s)
		if err := p.Decode(buf[:min(n, len(buf))], decode.LinkEthernet); err != nil {
			return fmt.Errorf("bench: generated flow packet: %w", err)
		}
		return nil
	}
	for i := range lf.Opens {
		f := flow(i)
		if err := decodeSeg(&f, &segment{fromClient: true, flags: flSYN, seq: 1000, syn: true}, &lf.Opens[i]); err != nil {
			return nil, err
		}
	}
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range lf.Ring {
		f := flow(r.IntN(n))
		s := segment{flags: flACK, seq: 1, ack: 1001}
		if r.IntN(2) == 0 {
			s = segment{fromClient: true, flags: flACK, seq: 1001, ack: 1, payload: 1400}
		}
		if err := decodeSeg(&f, &s, &lf.Ring[i]); err != nil {
			return nil, err
		}
	}
	return lf, nil
}

// Workers is the number of owners of the N-worker flowtable case: the
// number of cores Go uses.
func Workers() int { return runtime.GOMAXPROCS(0) }

func flowLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM-flows", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk-flows", n/1000)
	}
	return fmt.Sprintf("%d-flows", n)
}

func flowtableSuite() Suite {
	return Suite{
		Name: "flowtable",
		Doc:  "one TCP segment to a random live flow with full TCP analysis, by live flows (netblame, 1 owner and N owners without locks, vs a Go map of keys to a counter)",
		Cases: func(e *Env) ([]Case, error) {
			var cases []Case
			for _, n := range FlowSizes {
				cases = append(cases, flowtableCases(e, n)...)
			}
			return cases, nil
		},
	}
}

// flowtableCases are the cases for n live flows. The input and the table
// are made in the first case's Setup and freed by the last case's Close.
func flowtableCases(e *Env, n int) []Case {
	updates := e.FlowUpdates()
	label := flowLabel(n)
	var (
		lf  *LiveFlows
		tab *flowtable.Table
	)
	setup := func() (int, error) {
		var err error
		if lf, err = MakeLiveFlows(n); err != nil {
			return 0, err
		}
		if tab, err = flowtable.New(flowtable.Config{Capacity: n + n/4, Seed: 7}); err != nil {
			return 0, err
		}
		var out flowtable.PacketResult
		o := tab.SoleOwner()
		for i := range lf.Opens {
			o.Update(&lf.Opens[i], 1, uint64(i+1), &out)
		}
		if live := tab.Stats().Live; live != uint64(n) {
			return 0, fmt.Errorf("table holds %d live flows, want %d", live, n)
		}
		lf.Opens = nil
		return 0, nil
	}
	perFlow := func() float64 { return float64(tab.Stats().MemoryBytes) / float64(tab.Capacity()) }
	now := int64(10)
	single := Case{
		Impl: "netblame", Case: label, Packets: updates, Setup: setup, BytesPerFlow: perFlow,
		Run: func() error {
			o := tab.SoleOwner()
			var out flowtable.PacketResult
			mask := len(lf.Ring) - 1
			for i := range updates {
				p := &lf.Ring[i&mask]
				p.Seq += 1400
				now += 100
				o.Update(p, now, uint64(i), &out)
			}
			return nil
		},
	}
	// As track.Run feeds the table: a batch of packets prefetched, then
	// updated one by one.
	batched := Case{
		Impl: "netblame-batched", Case: label, Packets: updates, BytesPerFlow: perFlow,
		Note: "batches of 16: Owner.Prefetch, then Update each, as netblame analyze reads a file (prefetching from 8,192 live flows)",
		Run: func() error {
			o := tab.SoleOwner()
			var out flowtable.PacketResult
			var batch [16]*decode.Packet
			mask := len(lf.Ring) - 1
			for i := 0; i < updates; i += len(batch) {
				m := min(len(batch), updates-i)
				for j := range m {
					batch[j] = &lf.Ring[(i+j)&mask]
				}
				o.Prefetch(batch[:m])
				for _, p := range batch[:m] {
					p.Seq += 1400
					now += 100
					o.Update(p, now, uint64(i), &out)
				}
			}
			return nil
		},
	}
	w := Workers()
	var owners []*flowtable.Owner
	var mine [][]decode.Packet
	multi := Case{
		Impl: fmt.Sprintf("netblame-%d-owners", w), Case: label, Packets: updates, BytesPerFlow: perFlow,
		Note: "wall time per update of all owners together, each updating only its own shards, no locks",
		Setup: func() (int, error) {
			// Route the ring by shard, as fanout by flow hash would.
			owners, mine = make([]*flowtable.Owner, w), make([][]decode.Packet, w)
			shards := make([][]int, w)
			for s := range tab.Shards() {
				shards[s%w] = append(shards[s%w], s)
			}
			for g := range w {
				o, err := tab.Owner(shards[g]...)
				if err != nil {
					return 0, err
				}
				owners[g] = o
			}
			for i := range lf.Ring {
				g := tab.ShardOf(&lf.Ring[i]) % w
				mine[g] = append(mine[g], lf.Ring[i])
			}
			return 0, nil
		},
		Run: func() error {
			var wg sync.WaitGroup
			per := updates / w
			for g := range w {
				wg.Add(1)
				go func(o *flowtable.Owner, ps []decode.Packet) {
					defer wg.Done()
					if len(ps) == 0 {
						return
					}
					var out flowtable.PacketResult
					t := now
					for i := range per {
						p := &ps[i%len(ps)]
						p.Seq += 1400
						t += 100
						o.Update(p, t, uint64(i), &out)
					}
				}(owners[g], mine[g])
			}
			wg.Wait()
			now += int64(per) * 100
			return nil
		},
	}
	if w < 2 {
		multi = Case{Impl: "netblame-N-owners", Case: label, Skip: "one core: no second owner"}
	}
	var m map[flowMapKey]uint64
	goMap := Case{
		Impl: "go-map", Case: label, Packets: updates,
		Note: "map from a direction-independent key to a counter: the least any flow table does, no TCP analysis",
		Setup: func() (int, error) {
			tab, owners, mine = nil, nil, nil
			runtime.GC()
			m = make(map[flowMapKey]uint64, n)
			// Every flow is live in the map, as in the table.
			for i := range n {
				f := genFlow{}
				x := uint32(i) * 2654435761
				binary.BigEndian.PutUint32(f.cli[:4], 10<<24|x>>8)
				binary.BigEndian.PutUint32(f.srv[:4], 192<<24|168<<16|uint32(i&0xffff))
				k := flowMapKey{proto: 6, pa: 1024 + uint16(x)%60000, pb: 443}
				copy(k.a[:], f.cli[:4])
				copy(k.b[:], f.srv[:4])
				m[k.canonical()] = 0
			}
			return 0, nil
		},
		Run: func() error {
			mask := len(lf.Ring) - 1
			for i := range updates {
				m[mapKeyOf(&lf.Ring[i&mask])]++
			}
			return nil
		},
		Close: func() { lf, m = nil, nil },
	}
	return []Case{single, batched, multi, goMap}
}

// flowMapKey is the Go map baseline's key: both addresses, both ports and
// the protocol, lower end first so both directions share it.
type flowMapKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
}

func (k flowMapKey) canonical() flowMapKey {
	if string(k.a[:]) > string(k.b[:]) || (k.a == k.b && k.pa > k.pb) {
		k.a, k.b = k.b, k.a
		k.pa, k.pb = k.pb, k.pa
	}
	return k
}

func mapKeyOf(p *decode.Packet) flowMapKey {
	k := flowMapKey{pa: p.SrcPort, pb: p.DstPort, proto: uint8(p.Proto)}
	k.a, k.b = p.SrcIP, p.DstIP
	return k.canonical()
}
