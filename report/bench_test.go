package report_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/report"
)

var (
	benchOnce sync.Once
	benchData []byte
)

// benchCapture is 200,000 packets of the bench package's generated
// traffic (many concurrent downloads with some loss).
func benchCapture(b *testing.B) []byte {
	benchOnce.Do(func() {
		path := filepath.Join(os.TempDir(), "netblame-report-bench.pcap")
		if _, err := bench.WriteTraffic(path, bench.DefaultTraffic, 200_000); err != nil {
			b.Fatal(err)
		}
		defer os.Remove(path)
		var err error
		if benchData, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	})
	return benchData
}

// BenchmarkCollect measures the analysis pass with and without the
// collector, per packet: the difference is the collector's cost; its
// allocations are amortised growth of its bounded storage.
func BenchmarkCollect(b *testing.B) {
	data := benchCapture(b)
	for _, on := range []bool{false, true} {
		name := "analysis"
		if on {
			name = "analysis+collector"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			pkts := 0
			for b.Loop() {
				var c *report.Collector
				n := passPackets(b, data, on, &c)
				pkts += n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/pkt")
		})
	}
}
