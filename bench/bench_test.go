package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchInput is the capture the suites run on: $NETBLAME_BENCH_PCAP when
// set (a real capture of your own), else generated traffic of
// $NETBLAME_BENCH_PACKETS packets (default 1M) at snaplen 128.
func benchInput(b *testing.B) Input {
	b.Helper()
	if path := os.Getenv("NETBLAME_BENCH_PCAP"); path != "" {
		n, err := CountPackets(path)
		if err != nil {
			b.Fatal(err)
		}
		return Input{Path: path, Packets: n}
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
	n, err := WriteTraffic(path, DefaultTraffic, packets)
	if err != nil {
		b.Fatal(err)
	}
	return Input{Path: path, Packets: n}
}

// BenchmarkSuites runs every suite, netblame and its peers side by side:
//
//	go test -run '^$' -bench Suites -benchtime 3x ./bench
func BenchmarkSuites(b *testing.B) {
	in := benchInput(b)
	for _, s := range Suites(in) {
		b.Run(s.Name, func(b *testing.B) {
			for _, c := range s.Cases {
				b.Run(c.Name, c.Run)
			}
		})
	}
}
