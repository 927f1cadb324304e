package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// writeTraffic writes n frames of bench's synthetic traffic (many
// interleaved TCP connections with losses, SACK and fast retransmissions)
// to a pcap file and returns its path.
func writeTraffic(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "traffic.pcap")
	cfg := bench.DefaultTraffic
	w, err := capfile.Create(path, decode.LinkEthernet, cfg.Snaplen)
	if err != nil {
		tb.Fatal(err)
	}
	g := bench.NewTraffic(cfg)
	buf := make([]byte, bench.MaxFrame)
	for i := 0; i < n; i++ {
		ts, frame, orig := g.Next(buf)
		if frame == nil {
			break
		}
		if err := w.WritePacket(ts, frame, orig); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestAnalyzeAllocationsPerPacket: the analyze pipeline (read, decode,
// flow table, view) allocates per file and per flow, never per packet: a
// whole run over 100k packets stays under one allocation per 100 packets
// plus 10 per flow.
func TestAnalyzeAllocationsPerPacket(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const n = 100_000
	path := writeTraffic(t, n)
	stats := jsonLines(t, mustRun(t, "analyze", "--stats", "--format", "json", path))[0]
	flows, _ := strconv.Atoi(str(stats, "tcp_flows"))
	if str(stats, "packets") != strconv.Itoa(n) || flows == 0 {
		t.Fatalf("stats of the synthetic capture: %v", stats)
	}
	budget := float64(n/100 + 10*flows)
	for _, args := range [][]string{
		{"analyze", "--stats", "--format", "json", path},
		{"analyze", "--top", "1", path},
		{"analyze", "--reset-by", "client", path},
		{"analyze", "--handshake-over", "1s", path},
	} {
		allocs := testing.AllocsPerRun(1, func() {
			if code := runIO(args, io.Discard, io.Discard); code != exitOK {
				t.Fatalf("%v: exit %d", args, code)
			}
		})
		if allocs > budget {
			t.Errorf("%v: %.0f allocations for %d packets and %d flows (budget %.0f)", args[1:len(args)-1], allocs, n, flows, budget)
		}
		t.Logf("%v: %.0f allocations for %d packets and %d flows", args[1:len(args)-1], allocs, n, flows)
	}
}

// BenchmarkAnalyze times whole runs of analyze over the same synthetic
// capture (page cache) next to tshark's conversation table, its peer:
// go test ./cmd/netblame -run '^$' -bench Analyze -benchtime 3x
func BenchmarkAnalyze(b *testing.B) {
	const n = 500_000
	path := writeTraffic(b, n)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"netblame-stats", []string{"analyze", "--stats", path}},
		{"netblame-flows", []string{"analyze", path}},
		{"netblame-summary", []string{"analyze", "--summary", path}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if code := runIO(c.args, io.Discard, io.Discard); code != exitOK {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
	// The event rows go to a real file (/dev/null), as when redirected:
	// their cost is in how they are written as much as in making them.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	for _, format := range []string{"text", "json"} {
		b.Run("netblame-events-"+format, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if code := runIO([]string{"analyze", "--events", "--format", format, path}, devNull, io.Discard); code != exitOK {
					b.Fatalf("exit %d", code)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
	b.Run("tshark-conv-tcp", func(b *testing.B) {
		tshark, err := exec.LookPath("tshark")
		if err != nil {
			b.Skip("tshark not installed")
		}
		for i := 0; i < b.N; i++ {
			if out, err := exec.Command(tshark, "-r", path, "-q", "-z", "conv,tcp").CombinedOutput(); err != nil {
				b.Fatalf("tshark: %v: %s", err, out)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	})
}
