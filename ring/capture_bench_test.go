package ring

import (
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/internal/ringtest"
)

var captureBench = flag.Bool("capturebench", false, "run the live capture benchmark: netblame capture vs tcpdump under 4 x 150 MB of TCP uploads (root, ~1 min)")

// TestCaptureBenchmark compares `netblame capture` with its default ring
// against `tcpdump -s 128 -w` with its default 2 MiB buffer, each capturing
// the same real load on one end of a veth pair (offloads off, so packets
// are MTU-sized): 4 parallel TCP uploads of 150 MB at full speed. For each
// it reports kernel drops, CPU time of the capture process per packet and
// the packet rate of the load. Run it with
//
//	go test ./ring -run TestCaptureBenchmark -capturebench -v
//
// The variants run in NB_BENCH_REPEAT (default 3) interleaved rounds and
// the medians are reported. Extra variants (comma-separated in
// NB_BENCH_VARIANTS, e.g. "netblame:--blocks=8,tcpdump:-B 8192") show what
// other ring sizes do; NB_BENCH_MB changes the size of each upload.
func TestCaptureBenchmark(t *testing.T) {
	if !*captureBench {
		t.Skip("capture benchmark: run with -capturebench")
	}
	if err := ringtest.Available(); err != nil {
		t.Skip(err)
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("needs tcpdump")
	}
	bin := filepath.Join(t.TempDir(), "netblame")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/netblame/netblame/cmd/netblame").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mb := int64(150)
	if s := os.Getenv("NB_BENCH_MB"); s != "" {
		mb, _ = strconv.ParseInt(s, 10, 64)
	}
	variants := []benchVariant{
		{name: "netblame (defaults)", tool: "netblame"},
		{name: "tcpdump (default -B)", tool: "tcpdump"},
	}
	if s := os.Getenv("NB_BENCH_VARIANTS"); s != "" {
		for _, v := range strings.Split(s, ",") {
			tool, args, _ := strings.Cut(v, ":")
			variants = append(variants, benchVariant{name: v, tool: tool, extra: strings.Fields(strings.ReplaceAll(args, "=", " "))})
		}
	}
	repeat := 3
	if s := os.Getenv("NB_BENCH_REPEAT"); s != "" {
		repeat, _ = strconv.Atoi(s)
	}
	p := ringtest.ForTest(t)
	t.Logf("load: 4 TCP uploads of %d MB over a veth pair, MTU 1500, offloads off; capture at snaplen 128 on the receiving end; %d interleaved rounds", mb, repeat)
	results := make([][]benchResult, len(variants))
	for round := 0; round < repeat; round++ {
		for i, v := range variants {
			results[i] = append(results[i], runBenchVariant(t, p, v, bin, tcpdump, mb))
		}
	}
	t.Logf("%-28s %10s %10s %8s %8s %10s %12s  (median of %d; drops of every round)", "capture", "on wire", "in file", "drops", "drop %", "pkt/s", "CPU ns/pkt", repeat)
	for i, v := range variants {
		rs := results[i]
		med := func(f func(benchResult) float64) float64 {
			xs := make([]float64, len(rs))
			for j, r := range rs {
				xs[j] = f(r)
			}
			sort.Float64s(xs)
			return xs[len(xs)/2]
		}
		var drops []string
		for _, r := range rs {
			drops = append(drops, strconv.FormatUint(r.drops, 10))
		}
		t.Logf("%-28s %10.0f %10.0f %8.0f %7.2f%% %10.0f %12.0f  drops: %s", v.name,
			med(func(r benchResult) float64 { return float64(r.onWire) }),
			med(func(r benchResult) float64 { return float64(r.inFile) }),
			med(func(r benchResult) float64 { return float64(r.drops) }),
			med(func(r benchResult) float64 { return 100 * float64(r.drops) / float64(max(r.onWire, 1)) }),
			med(func(r benchResult) float64 { return r.pps }),
			med(func(r benchResult) float64 { return r.cpuPerPkt }),
			strings.Join(drops, " "))
	}
}

type benchVariant struct {
	name  string
	tool  string // "netblame" or "tcpdump"
	extra []string
}

type benchResult struct {
	onWire, inFile, drops uint64
	pps, cpuPerPkt        float64
}

var (
	nbDropsRE = regexp.MustCompile(`(\d+) dropped`)
	tdDropsRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)
)

func runBenchVariant(t *testing.T, p *ringtest.Pair, v benchVariant, bin, tcpdump string, mb int64) benchResult {
	t.Helper()
	file := filepath.Join(t.TempDir(), "bench.pcap")
	var args []string
	ready := "capturing on"
	switch v.tool {
	case "netblame":
		args = append([]string{bin, "capture", "-i", p.IfB, "-s", "128", "-w", file}, v.extra...)
	case "tcpdump":
		args = append([]string{tcpdump, "-i", p.IfB, "-n", "-s", "128", "-w", file}, v.extra...)
		ready = "listening on"
	default:
		t.Fatalf("unknown tool %q", v.tool)
	}
	proc, err := ringtest.StartInNS(p.NSB, ready, args...)
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	defer proc.Cmd.Process.Kill()
	rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
	start := time.Now()
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 4, mb<<20); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	time.Sleep(100 * time.Millisecond)
	rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
	all, err := proc.Stop()
	if err != nil {
		t.Fatalf("%s: %v\n%s", v.name, err, all)
	}
	re := nbDropsRE
	if v.tool == "tcpdump" {
		re = tdDropsRE
	}
	var r benchResult
	if m := re.FindStringSubmatch(all); m != nil {
		r.drops, _ = strconv.ParseUint(m[1], 10, 64)
	} else {
		t.Fatalf("%s: no drop count in:\n%s", v.name, all)
	}
	r.onWire = rx1 - rx0 + tx1 - tx0
	r.inFile = countPackets(t, file)
	ru := proc.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	r.pps = float64(r.onWire) / elapsed.Seconds()
	r.cpuPerPkt = float64(cpu.Nanoseconds()) / float64(max(r.inFile, 1))
	t.Logf("%s: %d on wire, %d in file, %d drops, load %v, user %v sys %v, stderr: %s", v.name, r.onWire, r.inFile, r.drops, elapsed.Round(time.Millisecond),
		time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), strings.ReplaceAll(all, "\n", " | "))
	return r
}

func countPackets(t *testing.T, path string) uint64 {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n uint64
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n++
	}
}
