package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/fragtest"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// The capture tests run the real binary inside a namespace of a veth pair
// made by ringtest, send traffic from the other namespace and check the
// files it leaves.

// captureBinary builds netblame into the test's temporary directory.
func captureBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netblame")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// liveCapture is a running `netblame capture` inside a namespace.
type liveCapture struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	stdout *bytes.Buffer
	done   chan error
	errEOF chan struct{} // closed when all of stderr is in the buffer
}

// startCapture runs netblame capture args... inside ns and returns once it
// reports that it is capturing.
func startCapture(t *testing.T, ns string, args ...string) *liveCapture {
	t.Helper()
	bin := captureBinary(t)
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin, "capture"}, args...)...)
	lc := &liveCapture{cmd: cmd, stderr: &bytes.Buffer{}, stdout: &bytes.Buffer{}, done: make(chan error, 1), errEOF: make(chan struct{})}
	cmd.Stdout = lc.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		defer close(lc.errEOF)
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			lc.stderr.WriteString(sc.Text() + "\n")
			if !sent && strings.Contains(sc.Text(), "capturing on") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		lc.done <- err
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case ok := <-ready:
		if !ok {
			err := <-lc.done
			<-lc.errEOF
			t.Fatalf("netblame capture %v did not start (%v):\n%s", args, err, lc.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("netblame capture %v: no start within 20s", args)
	}
	return lc
}

// stop sends sig (0: none, wait for the capture to end by itself) and
// waits for a clean exit.
func (lc *liveCapture) stop(t *testing.T, sig syscall.Signal) string {
	t.Helper()
	if sig != 0 {
		lc.cmd.Process.Signal(sig)
	}
	select {
	case err := <-lc.done:
		<-lc.errEOF
		if err != nil {
			t.Fatalf("netblame capture exited with %v:\n%s", err, lc.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("netblame capture did not exit after %v", sig)
	}
	return lc.stderr.String()
}

// readAll reads a capture file to its end with capfile and returns the
// frames' first bytes; a file that does not end cleanly fails the test.
func readAll(t *testing.T, path string) [][]byte {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer r.Close()
	var frames [][]byte
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatalf("%s: after %d packets: %v", path, len(frames), err)
		}
		frames = append(frames, append([]byte(nil), p.Data[:min(len(p.Data), 64)]...))
	}
}

// tsharkCount counts a file's packets with tshark, or returns -1 when
// tshark is not installed.
func tsharkCount(t *testing.T, path string) int {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		return -1
	}
	rows, err := tsharktest.Fields(path, tsharktest.Query{Fields: []string{"frame.number"}})
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	return len(rows)
}

var capturedRE = regexp.MustCompile(`(\d+) packets captured`)

func capturedCount(t *testing.T, stderr string) int {
	t.Helper()
	m := capturedRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no statistics in the output:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestCaptureFileHoldsEveryPacket: after traffic and SIGINT, the file has
// exactly as many packets as the interface received and sent, tshark reads
// the same number, and the statistics report them and no drops.
func TestCaptureFileHoldsEveryPacket(t *testing.T) {
	p := ringtest.ForTest(t)
	file := filepath.Join(t.TempDir(), "all.pcapng")
	// Rings that hold all of the test traffic: a reader stalled by the
	// machine's load cannot make the kernel drop.
	lc := startCapture(t, p.NSB, "-i", p.IfB, "-s", "128", "-w", file, "--workers", "2", "--blocks", "32")
	rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 500, 100, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
	stderr := lc.stop(t, syscall.SIGINT)
	frames := readAll(t, file)
	want := int(rx1 - rx0 + tx1 - tx0)
	if len(frames) != want {
		t.Errorf("file has %d packets; the interface received %d and sent %d", len(frames), rx1-rx0, tx1-tx0)
	}
	if n := capturedCount(t, stderr); n != len(frames) {
		t.Errorf("statistics say %d captured, file has %d", n, len(frames))
	}
	if !strings.Contains(stderr, " 0 dropped") {
		t.Errorf("kernel drops reported:\n%s", stderr)
	}
	if !strings.Contains(stderr, "worker 1:") {
		t.Errorf("no per-worker statistics:\n%s", stderr)
	}
	if n := tsharkCount(t, file); n >= 0 && n != len(frames) {
		t.Errorf("tshark reads %d packets, capfile %d", n, len(frames))
	}
}

// TestCaptureSIGINTMidTransfer: SIGINT while a bulk transfer is running
// leaves a complete, valid file (zstd-compressed here) with every packet
// the statistics count.
func TestCaptureSIGINTMidTransfer(t *testing.T) {
	p := ringtest.ForTest(t)
	file := filepath.Join(t.TempDir(), "cut.pcap.zst")
	lc := startCapture(t, p.NSB, "-i", p.IfB, "-s", "96", "-w", file)
	errc := make(chan error, 1)
	go func() { errc <- ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 40<<20) }()
	time.Sleep(300 * time.Millisecond)
	stderr := lc.stop(t, syscall.SIGINT)
	<-errc // the transfer itself is not the subject here
	frames := readAll(t, file)
	if len(frames) < 100 {
		t.Fatalf("only %d packets in the file after 300ms of bulk transfer", len(frames))
	}
	if n := capturedCount(t, stderr); n != len(frames) {
		t.Errorf("statistics say %d captured, file has %d", n, len(frames))
	}
}

// TestCaptureRotation: --rotate-size yields several numbered files, each
// valid for capfile and tshark, together holding every captured packet.
func TestCaptureRotation(t *testing.T) {
	p := ringtest.ForTest(t)
	dir := t.TempDir()
	lc := startCapture(t, p.NSB, "-i", p.IfB, "-s", "128", "-w", filepath.Join(dir, "rot.pcap"), "--rotate-size", "150kB")
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 3000, 200, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	stderr := lc.stop(t, syscall.SIGTERM)
	files, _ := filepath.Glob(filepath.Join(dir, "rot-*.pcap"))
	if len(files) < 3 {
		t.Fatalf("%d files after 3000 x 144 bytes with --rotate-size 150kB: %v", len(files), files)
	}
	total := 0
	for i, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > 150_000 {
			t.Errorf("%s is %d bytes, over the 150kB limit", f, st.Size())
		}
		n := len(readAll(t, f))
		// tshark takes seconds to start on a busy machine: it checks the
		// first file (closed by rotation) and the last (closed by SIGTERM).
		if i != 0 && i != len(files)-1 {
			total += n
			continue
		}
		if tn := tsharkCount(t, f); tn >= 0 && tn != n {
			t.Errorf("%s: tshark reads %d packets, capfile %d", f, tn, n)
		}
		total += n
	}
	if n := capturedCount(t, stderr); n != total || total < 3000 {
		t.Errorf("files hold %d packets, statistics say %d captured, 3000 datagrams sent", total, n)
	}
}

// TestCaptureFilterAndCount: -f keeps exactly what it names, the eBPF
// counters add up, and -c stops after exactly COUNT packets.
func TestCaptureFilterAndCount(t *testing.T) {
	p := ringtest.ForTest(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "udp5001.pcap")
	lc := startCapture(t, p.NSB, "-i", p.IfB, "-f", "udp dst port 5001", "-w", file)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 2000, 100, 0) }()
	go func() { defer wg.Done(); ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5001, 700, 100, 0) }()
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	stderr := lc.stop(t, syscall.SIGINT)
	frames := readAll(t, file)
	nums := map[uint64]bool{}
	for _, f := range frames {
		if len(f) < 50 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[23] != 17 || binary.BigEndian.Uint16(f[36:]) != 5001 {
			t.Fatalf("filter 'udp dst port 5001' kept % x", f)
		}
		nums[binary.BigEndian.Uint64(f[42:])] = true
	}
	if len(frames) != 700 || len(nums) != 700 {
		t.Errorf("file has %d packets (%d distinct) to port 5001, 700 sent", len(frames), len(nums))
	}
	if strings.Contains(stderr, "ebpf filter") { // eBPF was attached
		m := regexp.MustCompile(`eBPF filter: (\d+) seen, (\d+) accepted, (\d+) rejected`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no eBPF counters in:\n%s", stderr)
		}
		seen, _ := strconv.Atoi(m[1])
		acc, _ := strconv.Atoi(m[2])
		rej, _ := strconv.Atoi(m[3])
		if acc != len(frames) || seen != acc+rej || rej < 2000 {
			t.Errorf("eBPF counters seen %d accepted %d rejected %d; file has %d, 2000 others sent", seen, acc, rej, len(frames))
		}
	} else {
		t.Logf("eBPF not used:\n%s", stderr)
	}

	cfile := filepath.Join(dir, "count.pcapng")
	lc = startCapture(t, p.NSB, "-i", p.IfB, "-c", "250", "-w", cfile)
	go ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5003, 2000, 100, time.Millisecond)
	stderr = lc.stop(t, 0)
	if n := len(readAll(t, cfile)); n != 250 {
		t.Errorf("-c 250 wrote %d packets", n)
	}
	if n := capturedCount(t, stderr); n != 250 {
		t.Errorf("-c 250: statistics say %d captured", n)
	}
}

// TestCaptureAnalyze: --analyze tracks the flows live and prints a summary.
func TestCaptureAnalyze(t *testing.T) {
	p := ringtest.ForTest(t)
	lc := startCapture(t, p.NSB, "-i", p.IfB, "--analyze", "--workers", "2", "--summary-interval", "200ms")
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 3, 1<<20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	lc.stop(t, syscall.SIGINT)
	out := lc.stdout.String()
	if !strings.Contains(out, "summary packets=") {
		t.Fatalf("no periodic summary:\n%s", out)
	}
	m := regexp.MustCompile(`created=(\d+) \(tcp (\d+)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 || m[len(m)-1][2] != "3" {
		t.Errorf("3 TCP connections sent; last summary says %v:\n%s", m, out)
	}
	if n := strings.Count(out, "\nflow "); n != 3 {
		t.Errorf("%d flow lines at the end, want the 3 connections:\n%s", n, out)
	}
}

// TestCaptureAnalyzeReassembles: fragmented UDP datagrams are counted by
// live analysis as the datagrams they are, as file analysis counts them:
// four flows of ten 1,228-byte packets, with one worker (reassembled in user space)
// and with two (the kernel reassembles before the fanout picks a worker).
func TestCaptureAnalyzeReassembles(t *testing.T) {
	p := ringtest.ForTest(t)
	rng := rand.New(rand.NewPCG(7, 11))
	var frames [][]byte
	for i := range 40 {
		payload := make([]byte, 1200)
		binary.BigEndian.PutUint64(payload, uint64(i))
		f := ringtest.UDPFrame(p.MACA, p.MACB, -1, p.AddrA, p.AddrB, uint16(7000+i%4), 5001, payload)
		frames = append(frames, fragtest.Fragment4(f, uint16(100+i), rng)...)
	}
	for _, workers := range []string{"1", "2"} {
		t.Run("workers="+workers, func(t *testing.T) {
			lc := startCapture(t, p.NSB, "-i", p.IfB, "--analyze", "--workers", workers, "--summary-interval", "1h")
			if err := ringtest.SendRaw(p.NSA, p.IfA, frames); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			lc.stop(t, syscall.SIGINT)
			out := lc.stdout.String()
			m := regexp.MustCompile(`created=(\d+) \(tcp (\d+), udp (\d+)\)`).FindAllStringSubmatch(out, -1)
			if len(m) == 0 || m[len(m)-1][1] != "4" || m[len(m)-1][3] != "4" {
				t.Errorf("%d fragments of 40 datagrams on 4 port pairs; the last summary says %v, want 4 UDP flows:\n%s", len(frames), m, out)
			}
			for _, line := range regexp.MustCompile(`(?m)^flow .*$`).FindAllString(out, -1) {
				// 10 datagrams of 20+8+1200 bytes: only their first
				// fragments would be 10 packets of fewer bytes.
				if !strings.Contains(line, "proto 17 packets 10/0 bytes 12280/0 ") {
					t.Errorf("want 10 datagrams of 1228 bytes one way in every flow: %s", line)
				}
			}
		})
	}
}

// TestCaptureWithoutPrivileges: run without any capability, capture fails
// with exit status 2 and a message naming CAP_NET_RAW and CAP_BPF.
func TestCaptureWithoutPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop to an unprivileged user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	bin := captureBinary(t)
	// The unprivileged user must reach the binary through the temp dirs.
	os.Chmod(filepath.Dir(bin), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		bin, "capture", "-i", "lo", "-c", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitRuntime {
		t.Fatalf("unprivileged capture: %v, want exit status %d\n%s", err, exitRuntime, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "CAP_NET_RAW") || !strings.Contains(msg, "CAP_BPF") || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
		t.Errorf("error should be one line naming CAP_NET_RAW and CAP_BPF, got:\n%s", msg)
	}
}

// TestCaptureUsageErrors: bad command lines exit with status 1 before any
// socket is opened, with a message saying what is wrong.
func TestCaptureUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"capture"}, "-i IFACE is required"},
		{[]string{"capture", "-i", "lo", "--rotate-size", "10MB"}, "need -w FILE"},
		{[]string{"capture", "-i", "lo", "-w", "x.pcap", "--rotate-size", "ten"}, "not a size"},
		{[]string{"capture", "-i", "lo", "--fanout", "spray"}, "unknown fanout mode"},
		{[]string{"capture", "-i", "lo", "-f", "tcp port"}, "position"},
		{[]string{"capture", "-i", "lo", "-s", "0"}, "-s must be"},
	} {
		var out, errb bytes.Buffer
		code := runIO(tc.args, &out, &errb)
		if code != exitInput || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("netblame %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), exitInput, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "1500": 1500, "64k": 64000, "100MB": 100e6, "2MiB": 2 << 20, "1GiB": 1 << 30, " 3 kB ": 3000} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"MB", "-5MB", "12XB", "1.5GB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

// The plain capture output: one line a packet (IPv6 endpoints in
// brackets), and no allocation per packet.
func TestAppendPacketLine(t *testing.T) {
	ts := time.Date(2026, 11, 23, 14, 3, 59, 123456789, time.Local).UnixNano()
	var tcp, udp, ip6, arp decode.Packet
	tcp.Layer, tcp.Proto = decode.LayerTransport, decode.ProtoTCP
	tcp.SetAddrs(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))
	tcp.SrcPort, tcp.DstPort = 40000, 80
	tcp.TCPFlags, tcp.Seq, tcp.Ack, tcp.Window, tcp.PayloadLen = 0x118, 4000000000, 2, 502, 100
	udp.Layer, udp.Proto = decode.LayerTransport, decode.ProtoUDP
	udp.SetAddrs(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))
	udp.SrcPort, udp.DstPort, udp.PayloadLen = 5353, 53, 31
	ip6.Layer, ip6.Proto = decode.LayerNetwork, 58
	ip6.SetAddrs(netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2"))
	arp.EtherType = 0x806
	cases := []struct {
		p    *decode.Packet
		want string
	}{
		{&tcp, fmt.Sprintf("7 %s TCP 10.0.0.1:40000 > 10.0.0.2:80 flags 0x%03x seq 4000000000 ack 2 win 502 len 100\n", time.Unix(0, ts).Format("15:04:05.000000"), 0x118)},
		{&udp, "7 14:03:59.123456 UDP [fd00::1]:5353 > [fd00::2]:53 len 31\n"},
		{&ip6, "7 14:03:59.123456 IP proto 58 fd00::1 > fd00::2 len 98\n"},
		{&arp, "7 14:03:59.123456 ethertype 0x0806 len 98\n"},
	}
	for _, c := range cases {
		if got := string(appendPacketLine(nil, c.p, ts, 98, 7)); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = appendPacketLine(buf[:0], &tcp, ts, 98, 7) }); n != 0 {
		t.Errorf("%v allocations a line, want 0", n)
	}
}
