package track_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/defrag"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/track"
)

// packetSource replays packets from memory.
type packetSource struct {
	pkts []capfile.Packet
	i    int
}

func (s *packetSource) Next(p *capfile.Packet) error {
	if s.i == len(s.pkts) {
		return io.EOF
	}
	*p = s.pkts[s.i]
	s.i++
	return nil
}

// generated returns n packets of the benchmarks' traffic mix (1,024
// interleaved connections, loss, IPv6, VLAN), in memory.
func generated(n int) []capfile.Packet {
	tr := bench.NewTraffic(bench.DefaultTraffic)
	buf := make([]byte, bench.MaxFrame)
	pkts := make([]capfile.Packet, n)
	for i := range pkts {
		ts, frame, orig := tr.Next(buf)
		pkts[i] = capfile.Packet{Frame: uint64(i + 1), Timestamp: ts, Data: bytes.Clone(frame), OrigLen: orig, Link: decode.LinkEthernet}
	}
	return pkts
}

// BenchmarkPath compares Tracker.Run with the loop it replaces, written
// by hand (decode, defrag, the table's sole owner), on the same packets:
// the tracker's price is the difference.
func BenchmarkPath(b *testing.B) {
	pkts := generated(200_000)
	perPacket := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
	}
	b.Run("track", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tr, _ := track.New(track.Options{Flows: &flowtable.Config{}})
			if err := tr.Run(&packetSource{pkts: pkts}, nil); err != nil {
				b.Fatal(err)
			}
		}
		perPacket(b)
	})
	b.Run("hand-loop", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tab, _ := flowtable.New(flowtable.Config{})
			owner := tab.SoleOwner()
			pieces := defrag.New(0, 0)
			var (
				cp        capfile.Packet
				dp, whole decode.Packet
				res       flowtable.PacketResult
				src       = packetSource{pkts: pkts}
			)
			for src.Next(&cp) == nil {
				_ = dp.Decode(cp.Data, cp.Link)
				if d := pieces.Take(&dp, cp.Data, cp.Timestamp, &whole); d != nil {
					owner.Update(d, cp.Timestamp, cp.Frame, &res)
				}
			}
		}
		perPacket(b)
	})
}

// BenchmarkWorkers runs the whole path (decode, defrag, table with its
// TCP analysis) on 1 and 2 workers over the same packets in memory: the
// generated 1,024-flow traffic and, with NETBLAME_BENCH_PCAP, a capture.
func BenchmarkWorkers(b *testing.B) {
	inputs := []struct {
		name string
		pkts []capfile.Packet
	}{{"generated1024", generated(400_000)}}
	if p := os.Getenv("NETBLAME_BENCH_PCAP"); p != "" {
		inputs = append(inputs, struct {
			name string
			pkts []capfile.Packet
		}{"capture", readFrames(b, p)})
	}
	if v := os.Getenv("NETBLAME_READER_SHARE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatal(err)
		}
		defer track.SetReaderShare(track.SetReaderShare(f))
	}
	for _, in := range inputs {
		for _, n := range []int{1, 2} {
			{
				b.Run(fmt.Sprintf("%s/workers=%d", in.name, n), func(b *testing.B) {
					b.ReportAllocs()
					for range b.N {
						// The table (its storage allocated and zeroed) is
						// made outside the timing: it costs as much as the
						// run on these inputs.
						b.StopTimer()
						tr, _ := track.New(track.Options{Flows: &flowtable.Config{Capacity: 1 << 16, IgnoreVLAN: true}})
						b.StartTimer()
						if err := tr.RunWorkers(&packetSource{pkts: in.pkts}, track.Workers{N: n}, nil); err != nil {
							b.Fatal(err)
						}
						tr.Finish()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in.pkts)), "ns/pkt")
				})
			}
		}
	}
}
