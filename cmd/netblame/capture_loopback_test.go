package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netblame/netblame/internal/ringtest"
)

// TestCaptureLoopbackOnce: `netblame capture -i lo --analyze -w FILE` in a
// namespace of the test's own records each packet of real TCP traffic
// over 127.0.0.1 once (as tcpdump does): the file holds no packet twice,
// the start line says the sent copies are left out, and the analysis
// counts the file's packets and no more retransmissions than `analyze`
// finds in the file.
func TestCaptureLoopbackOnce(t *testing.T) {
	if err := ringtest.Available(); err != nil {
		t.Skip("loopback capture test skipped: ", err)
	}
	ns := fmt.Sprintf("nbclo%d", os.Getpid())
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", ns).Run()
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	file := filepath.Join(t.TempDir(), "lo.pcap")
	lc := startCapture(t, ns, "-i", "lo", "-s", "128", "-w", file, "--analyze", "--workers", "2", "--blocks", "32")
	if err := ringtest.TCPBulk(ns, ns, netip.MustParseAddr("127.0.0.1"), 5001, 3, 1<<20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	stderr := lc.stop(t, syscall.SIGINT)
	if !strings.Contains(stderr, "loopback: sent copies left out") {
		t.Errorf("the start line does not say the sent copies are left out:\n%s", stderr)
	}
	frames := readAll(t, file)
	seen := map[string]int{}
	for _, f := range frames {
		// IP ID, addresses, ports, sequence number and flags: a packet
		// and its sent copy are identical in all of them.
		if len(f) >= 14+20+14 {
			seen[string(f[14+4:14+6])+string(f[14+12:14+20])+string(f[14+20:14+34])]++
		}
	}
	for k, n := range seen {
		if n > 1 {
			t.Fatalf("a packet is in the file %d times (% x)", n, k)
		}
	}
	if len(frames) < 50 || capturedCount(t, stderr) != len(frames) {
		t.Fatalf("%d packets in the file, statistics: %s", len(frames), stderr)
	}
	out := lc.stdout.String()
	m := regexp.MustCompile(`summary packets=(\d+) `).FindAllStringSubmatch(out, -1)
	if len(m) == 0 || m[len(m)-1][1] != fmt.Sprint(len(frames)) {
		t.Errorf("the final summary counts %v packets, the file has %d:\n%s", m, len(frames), out)
	}
	var want string
	if got, err := exec.Command(captureBinary(t), "analyze", "--stats", "--format", "json", file).Output(); err == nil {
		want = regexp.MustCompile(`"retransmission":(\d+)`).FindStringSubmatch(string(got))[1]
	} else {
		t.Fatal(err)
	}
	live := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "flow ") {
			var r int
			if _, err := fmt.Sscanf(l[strings.Index(l, "retrans "):], "retrans %d", &r); err == nil {
				live += r
			}
		}
	}
	if fmt.Sprint(live) != want {
		t.Errorf("live analysis: %d retransmissions over the flows; analyze of the file: %s", live, want)
	}
}
