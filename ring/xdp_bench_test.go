package ring

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
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

	"golang.org/x/net/ipv4"

	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/internal/ringtest"
)

var xdpBench = flag.Bool("xdpbench", false, "run the AF_XDP vs TPACKET_V3 capture benchmark: a UDP flood over a veth pair (root, ~1 min)")

// TestXDPBenchmark compares `netblame capture` through TPACKET_V3 with
// `netblame capture --xdp` (native and skb mode) on the same load: one
// sender flooding 64-byte UDP datagrams from A to B over a veth pair for
// NB_XDP_BENCH_SECONDS (default 3), the capture on B with filter "udp" and
// snaplen 128, reading without writing (-q) unless NB_XDP_BENCH_WRITE is
// set. A UDP socket on B sinks what reaches the host. For each it reports
// the packets captured per second, the capture process's CPU (user+sys)
// per captured packet and its inverse (packets per CPU-second: per core),
// the whole machine's busy time per packet (the kernel's share, softirq
// included, lands on the sender's core), and the drops: the capture's
// kernel counters (PACKET_STATISTICS, XDP_STATISTICS) and the sending
// veth's tx_dropped (in native XDP mode its ring to the receiving NAPI
// overflows before XDP runs). Medians of NB_BENCH_REPEAT (default 5)
// interleaved rounds. Run it with
//
//	go test ./ring -run TestXDPBenchmark -xdpbench -v
func TestXDPBenchmark(t *testing.T) {
	if !*xdpBench {
		t.Skip("XDP benchmark: run with -xdpbench")
	}
	p := ringtest.ForTest(t)
	probeXDP(t, p)
	bin := filepath.Join(t.TempDir(), "netblame")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/netblame/netblame/cmd/netblame").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	secs := 3.0
	if s := os.Getenv("NB_XDP_BENCH_SECONDS"); s != "" {
		secs, _ = strconv.ParseFloat(s, 64)
	}
	repeat := 5
	if s := os.Getenv("NB_BENCH_REPEAT"); s != "" {
		repeat, _ = strconv.Atoi(s)
	}
	out := []string{"-q"}
	if os.Getenv("NB_XDP_BENCH_WRITE") != "" {
		out = []string{"-w", filepath.Join(t.TempDir(), "bench.pcap")}
	}
	variants := []xdpVariant{
		{"TPACKET_V3", nil},
		{"AF_XDP native", []string{"--xdp"}},
		{"AF_XDP skb", []string{"--xdp", "--xdp-mode", "skb"}},
	}
	// A sink on B, so datagrams that reach the host are not answered
	// with ICMP.
	var sink *net.UDPConn
	if err := ringtest.InNS(p.NSB, func() (err error) {
		sink, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB, 5002)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	go func() {
		b := make([]byte, 2048)
		for {
			if _, err := sink.Read(b); err != nil {
				return
			}
		}
	}()
	t.Logf("load: 1 sender (sendmmsg, 64 a call), 64-byte UDP datagrams A -> B over veth for %.0fs; capture on B, -f udp -s 128 %s; %d rounds, %d CPUs", secs, strings.Join(out, " "), repeat, runtimeCPUs())
	res := make([][]xdpResult, len(variants))
	for round := 0; round < repeat; round++ {
		for i, v := range variants {
			res[i] = append(res[i], runXDPVariant(t, p, bin, v, out, secs))
		}
	}
	t.Logf("%-14s %10s %10s %11s %12s %11s %12s %14s %12s %10s %10s  (medians of %d)", "capture", "sent/s", "captured/s", "CPU ns/pkt", "pkt/s/core", "load ns/pkt", "load pkt/s/c", "machine ns/pkt", "kernel drop", "veth drop", "drop %", repeat)
	for i, v := range variants {
		rs := res[i]
		med := func(f func(xdpResult) float64) float64 {
			xs := make([]float64, len(rs))
			for j, r := range rs {
				xs[j] = f(r)
			}
			sort.Float64s(xs)
			return xs[len(xs)/2]
		}
		t.Logf("%-14s %10.0f %10.0f %11.0f %12.0f %11.0f %12.0f %14.0f %12.0f %10.0f %9.2f%%", v.name,
			med(func(r xdpResult) float64 { return float64(r.sent) / r.secs }),
			med(func(r xdpResult) float64 { return float64(r.captured) / r.secs }),
			med(func(r xdpResult) float64 { return r.cpu / float64(max(r.captured, 1)) }),
			med(func(r xdpResult) float64 { return float64(r.captured) / (r.cpu / 1e9) }),
			med(func(r xdpResult) float64 { return r.steady / float64(max(r.captured, 1)) }),
			med(func(r xdpResult) float64 { return float64(r.captured) / (r.steady / 1e9) }),
			med(func(r xdpResult) float64 { return r.machine / float64(max(r.captured, 1)) }),
			med(func(r xdpResult) float64 { return float64(r.kdrops) }),
			med(func(r xdpResult) float64 { return float64(r.vdrops) }),
			med(func(r xdpResult) float64 { return 100 * float64(r.kdrops+r.vdrops) / float64(max(r.sent, 1)) }))
	}
}

type xdpVariant struct {
	name string
	args []string
}

type xdpResult struct {
	sent, captured, kdrops, vdrops uint64
	waits                          uint64 // AF_XDP reader wake-ups
	// cpu: the capture process's user+sys over its life (rusage);
	// steady: its CPU time during the load only (schedstat, without the
	// start-up and exit); machine: every CPU's busy time during the load.
	secs, cpu, steady, machine float64 // ns
}

var (
	capturedRE = regexp.MustCompile(`(\d+) packets captured`)
	wakeRE     = regexp.MustCompile(`(\d+) reader wake-ups`)
	droppedRE  = regexp.MustCompile(`kernel: (?:\d+ packets accepted by the filter, )?(\d+) dropped`)
)

func runXDPVariant(t *testing.T, p *ringtest.Pair, bin string, v xdpVariant, out []string, secs float64) xdpResult {
	t.Helper()
	args := append([]string{bin, "capture", "-i", p.IfB, "-f", "udp", "-s", "128"}, out...)
	args = append(args, v.args...)
	proc, err := ringtest.StartInNS(p.NSB, "capturing on", args...)
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	defer proc.Cmd.Process.Kill()
	if dir := os.Getenv("NB_XDP_BENCH_PERF"); dir != "" { // profile the capture: perf record -g into dir
		name := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-").Replace(v.name)+".data")
		perf := exec.Command("perf", "record", "-g", "-o", name, "-p", strconv.Itoa(proc.Cmd.Process.Pid), "--", "sleep", strconv.FormatFloat(secs, 'f', -1, 64))
		perf.Start()
		defer perf.Wait()
	}
	v0 := txDropped(t, p.NSA, p.IfA)
	busy0 := machineBusy(t)
	stop := make(chan struct{})
	sent := make(chan int, 1)
	start := time.Now()
	pid := proc.Cmd.Process.Pid
	cpu0 := procCPU(t, pid)
	go func() {
		n, _ := floodBatch(p.NSA, p.AddrB, 5002, 64, stop)
		sent <- n
	}()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	close(stop)
	n := <-sent
	el := time.Since(start)
	busy1 := machineBusy(t)
	time.Sleep(20 * time.Millisecond) // the capture reads what is still queued
	steady := float64(procCPU(t, pid) - cpu0)
	time.Sleep(100 * time.Millisecond)
	r := xdpResult{sent: uint64(n), secs: el.Seconds(), vdrops: txDropped(t, p.NSA, p.IfA) - v0, machine: float64(busy1 - busy0), steady: steady}
	all, err := proc.Stop()
	if err != nil {
		t.Fatalf("%s: %v\n%s", v.name, err, all)
	}
	m, d := capturedRE.FindStringSubmatch(all), droppedRE.FindStringSubmatch(all)
	if m == nil || d == nil {
		t.Fatalf("%s: no statistics in:\n%s", v.name, all)
	}
	r.captured, _ = strconv.ParseUint(m[1], 10, 64)
	r.kdrops, _ = strconv.ParseUint(d[1], 10, 64)
	if w := wakeRE.FindStringSubmatch(all); w != nil {
		r.waits, _ = strconv.ParseUint(w[1], 10, 64)
	}
	ru := proc.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = float64(ru.Utime.Nano() + ru.Stime.Nano())
	t.Logf("%s: sent %d in %v, captured %d, kernel drops %d, veth drops %d, user %v sys %v, during the load %v, machine busy %v, %d reader wake-ups",
		v.name, r.sent, el.Round(time.Millisecond), r.captured, r.kdrops, r.vdrops,
		time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), time.Duration(r.steady), time.Duration(r.machine), r.waits)
	return r
}

// procCPU is the CPU time of every thread of process pid so far, in ns
// (/proc/PID/task/*/schedstat: nanosecond run time).
func procCPU(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("schedstat of %d: %v", pid, err)
	}
	var sum int64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		v, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		sum += v
	}
	return sum
}

// floodBatch sends size-byte UDP datagrams from nsFrom to to:port as fast
// as sendmmsg (64 a call) goes until stop is closed; it returns how many.
func floodBatch(nsFrom string, to netip.Addr, port, size int, stop <-chan struct{}) (int, error) {
	var c *net.UDPConn
	if err := ringtest.InNS(nsFrom, func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, uint16(port))))
		return err
	}); err != nil {
		return 0, err
	}
	defer c.Close()
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, size)}
	}
	sent := 0
	for {
		select {
		case <-stop:
			return sent, nil
		default:
		}
		for i := range msgs {
			binary.BigEndian.PutUint64(msgs[i].Buffers[0], uint64(sent+i+1))
		}
		n, err := pc.WriteBatch(msgs, 0)
		if err != nil {
			n = max(n, 1)
		}
		sent += n
	}
}

// machineBusy is the non-idle CPU time of the whole machine so far, in ns
// (/proc/stat, USER_HZ ticks).
func machineBusy(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, s := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		busy += v
	}
	return busy * 1e9 / 100
}

func runtimeCPUs() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// probeXDP skips when an XDP capture cannot be opened on the pair's B end.
func probeXDP(t *testing.T, p *ringtest.Pair) {
	t.Helper()
	var prog *filter.XDP
	c := openXDPIn(t, p.NSB, Config{Interface: p.IfB, XDP: XDPNative, XDPProgram: xdpLoader(t, &prog)})
	c.Close()
}
