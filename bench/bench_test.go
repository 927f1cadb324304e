package bench_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/internal/benchpeer"
)

// benchInput is the capture the suites run on: $NETBLAME_BENCH_PCAP when
// set (a real capture of your own), else generated traffic of
// $NETBLAME_BENCH_PACKETS packets (default 1M) at snaplen 128.
func benchInput(b *testing.B) bench.Input {
	b.Helper()
	if path := os.Getenv("NETBLAME_BENCH_PCAP"); path != "" {
		n, err := bench.CountPackets(path)
		if err != nil {
			b.Fatal(err)
		}
		return bench.Input{Path: path, Packets: n}
	}
	packets := 1_000_000
	if s := os.Getenv("NETBLAME_BENCH_PACKETS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("NETBLAME_BENCH_PACKETS: %v", err)
		}
		packets = v
	}
	path := filepath.Join(b.TempDir(), "traffic.pcap")
	n, err := bench.WriteTraffic(path, bench.DefaultTraffic, packets)
	if err != nil {
		b.Fatal(err)
	}
	return bench.Input{Path: path, Packets: n}
}

// perPacket turns a case into a benchmark body reporting ns/pkt and Mpps;
// allocations are reported per file pass. As bench.Measure does, one
// pass runs before timing.
func perPacket(in bench.Input, c bench.Case) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(fileSize(in.Path))
		if err := c.Pass(in.Path); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := c.Pass(in.Path); err != nil {
				b.Fatal(err)
			}
		}
		r := bench.Result{Passes: b.N, Elapsed: b.Elapsed()}
		in.PerPacket(&r)
		b.ReportMetric(r.NsPerPkt, "ns/pkt")
		b.ReportMetric(r.Mpps, "Mpps")
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// BenchmarkSuites runs every suite, netblame and all its peers (gopacket
// included) side by side:
//
//	go test -run '^$' -bench Suites -benchtime 3x ./bench
func BenchmarkSuites(b *testing.B) {
	in := benchInput(b)
	for _, s := range benchpeer.Suites(in) {
		b.Run(s.Name, func(b *testing.B) {
			for _, c := range s.Cases {
				b.Run(c.Name, perPacket(in, c))
			}
		})
	}
}
