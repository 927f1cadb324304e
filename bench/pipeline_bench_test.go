package bench

import (
	"os"
	"testing"

	"github.com/netblame/netblame/flowtable"
)

// BenchmarkPipelineFile is the pipeline suite's netblame case on the file
// NETBLAME_BENCH_PCAP names, for profiling one input with go test.
func BenchmarkPipelineFile(b *testing.B) {
	path := os.Getenv("NETBLAME_BENCH_PCAP")
	if path == "" {
		b.Skip("set NETBLAME_BENCH_PCAP to a capture")
	}
	table, err := flowtable.New(flowtable.Config{Capacity: 1 << 18, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	res, err := Pipeline(path, table) // warm-up: the page cache, the table's pages
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Pipeline(path, table); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(uint64(b.N)*res.Packets), "ns/pkt")
}
