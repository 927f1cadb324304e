package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/live"
	"github.com/netblame/netblame/ring"
)

// needXDP skips the test when an XDP capture cannot be opened on the
// pair's B end (kernel without AF_XDP, driver refusing native mode).
func needXDP(t *testing.T, p *ringtest.Pair) {
	t.Helper()
	err := ringtest.InNS(p.NSB, func() error {
		s, err := live.Open(live.Config{Ring: ring.Config{Interface: p.IfB, XDP: ring.XDPNative}, Filter: "udp"})
		if err == nil {
			s.Close()
		}
		return err
	})
	if errors.Is(err, ring.ErrXDPUnavailable) {
		t.Skip("XDP capture unavailable: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// ifaceDropped is an interface's tx_dropped counter in namespace ns.
func ifaceDropped(t *testing.T, ns, iface string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/sys/class/net/"+iface+"/statistics/tx_dropped").Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// TestCaptureXDPMatchesTPacket: `capture --xdp -f 'udp port 5002' -w`
// on the receiving end writes exactly the datagrams a TPACKET_V3 capture
// of the sending end (-Q out) wrote, byte for byte; a TCP transfer the
// filter rejects completes meanwhile; SIGINT leaves valid files.
func TestCaptureXDPMatchesTPacket(t *testing.T) {
	p := ringtest.ForTest(t)
	needXDP(t, p)
	dir := t.TempDir()
	xfile, rfile := filepath.Join(dir, "xdp.pcapng"), filepath.Join(dir, "ref.pcap")
	ref := startCapture(t, p.NSA, "-i", p.IfA, "-Q", "out", "-f", "udp port 5002", "-s", "256", "-w", rfile, "--blocks", "64")
	xc := startCapture(t, p.NSB, "-i", p.IfB, "--xdp", "-f", "udp port 5002", "-s", "256", "-w", xfile)
	drops0 := ifaceDropped(t, p.NSA, p.IfA)
	tcp := make(chan error, 1)
	go func() { tcp <- ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 2<<20) }()
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 2000, 200, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-tcp:
		if err != nil {
			t.Fatalf("TCP transfer the XDP filter rejects: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("TCP transfer the XDP filter rejects did not complete in 30s")
	}
	time.Sleep(50 * time.Millisecond)
	dropped := ifaceDropped(t, p.NSA, p.IfA) - drops0
	xerr := xc.stop(t, syscall.SIGINT)
	ref.stop(t, syscall.SIGINT)
	got, want := readAll(t, xfile), readAll(t, rfile)
	if len(want) != 2000 {
		t.Fatalf("the sender's capture holds %d datagrams, 2000 sent", len(want))
	}
	count := map[string]int{}
	for _, f := range want {
		count[string(f)]++
	}
	for _, f := range got {
		count[string(f)]--
	}
	missing, extra := 0, 0
	for _, n := range count {
		if n > 0 {
			missing += n
		} else {
			extra -= n
		}
	}
	t.Logf("XDP file %d frames, sender's %d, %d dropped by the sending veth\n%s", len(got), len(want), dropped, xerr)
	if extra != 0 || missing > dropped {
		t.Errorf("XDP file: %d frames missing (sending veth dropped %d), %d extra or duplicated", missing, dropped, extra)
	}
	if n := capturedCount(t, xerr); n != len(got) {
		t.Errorf("statistics say %d captured, file has %d", n, len(got))
	}
	m := regexp.MustCompile(`XDP filter: (\d+) seen, (\d+) accepted, (\d+) rejected`).FindStringSubmatch(xerr)
	if m == nil {
		t.Fatalf("no XDP filter counters in:\n%s", xerr)
	}
	if acc, _ := strconv.Atoi(m[2]); acc != len(got) {
		t.Errorf("XDP filter accepted %d, file has %d", acc, len(got))
	}
	if !strings.Contains(xerr, "AF_XDP") || !strings.Contains(xerr, "0 dropped (AF_XDP") {
		t.Errorf("no AF_XDP start line or kernel drops reported:\n%s", xerr)
	}
	if n := tsharkCount(t, xfile); n >= 0 && n != len(got) {
		t.Errorf("tshark reads %d packets, capfile %d", n, len(got))
	}
}

// TestCaptureXDPAnalyze: --xdp --analyze tracks the flows it captures.
func TestCaptureXDPAnalyze(t *testing.T) {
	p := ringtest.ForTest(t)
	needXDP(t, p)
	lc := startCapture(t, p.NSB, "-i", p.IfB, "--xdp", "--analyze", "-f", "udp", "--summary-interval", "200ms")
	for port := 6001; port <= 6003; port++ {
		if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, port, 300, 100, 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	lc.stop(t, syscall.SIGINT)
	out := lc.stdout.String()
	m := regexp.MustCompile(`summary packets=(\d+) .*udp (\d+)\)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 || m[len(m)-1][2] != "3" {
		t.Errorf("3 UDP flows sent; summaries say %v:\n%s", m, out)
	}
}

// TestCaptureXDPUsageErrors: options XDP cannot honour exit with status 1.
func TestCaptureXDPUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"capture", "-i", "lo", "--xdp", "--xdp-mode", "turbo"}, "want native or skb"},
		{[]string{"capture", "-i", "lo", "--xdp-mode", "skb"}, "needs --xdp"},
		{[]string{"capture", "-i", "lo", "--xdp", "--fanout", "cpu"}, "do not apply to --xdp"},
		{[]string{"capture", "-i", "lo", "--xdp", "-p"}, "do not apply to --xdp"},
	} {
		var out, errb bytes.Buffer
		code := runIO(tc.args, &out, &errb)
		if code != exitInput || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("netblame %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errb.String(), exitInput, tc.want)
		}
	}
}
