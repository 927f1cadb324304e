package filter

import (
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/netblame/netblame/decode"
)

// needRoot skips a test that loads programs into the kernel.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_NET_ADMIN) to load eBPF programs")
	}
}

// maxTestRun is the largest frame BPF_PROG_TEST_RUN takes for an skb
// program: a page less headroom and the shared-info tail.
const maxTestRun = 3000

// testRun runs a socket filter on one frame with BPF_PROG_TEST_RUN. The
// kernel strips a 14-byte Ethernet header before a socket filter sees the
// data, so a dummy header goes in front of the real frame.
func testRun(t testing.TB, p *ebpf.Program, frame []byte, repeat uint32) uint32 {
	t.Helper()
	data := make([]byte, 14+len(frame))
	data[12], data[13] = 0x08, 0x00
	copy(data[14:], frame)
	ret, err := p.Run(&ebpf.RunOptions{Data: data, Repeat: repeat})
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	return ret
}

func TestEBPFLoadsAndCounts(t *testing.T) {
	needRoot(t)
	insns, err := Compile("tcp port 80", decode.LinkEthernet, 96)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEBPF(insns)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	hit := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02).bytes()
	miss := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 81, 0x02).bytes()
	if got := testRun(t, e.Program(), hit, 1); got != 96 {
		t.Errorf("port 80 frame: returned %d, want 96", got)
	}
	if got := testRun(t, e.Program(), miss, 1); got != 0 {
		t.Errorf("port 81 frame: returned %d, want 0", got)
	}
	if got := testRun(t, e.Program(), hit[:30], 1); got != 0 {
		t.Errorf("truncated frame: returned %d, want 0", got)
	}
	c, err := e.Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{Seen: 3, Accepted: 1, Rejected: 2, Aborted: 1}
	if c != want {
		t.Errorf("counters = %+v, want %+v", c, want)
	}
}

// TestKernelTestRunDifferential loads the live-mode program of every table
// expression as eBPF and runs it with BPF_PROG_TEST_RUN. A test-run skb
// carries no VLAN metadata, so live "vlan" falls back to the tag in the
// frame and must agree with tcpdump's offline program frame by frame.
func TestKernelTestRunDifferential(t *testing.T) {
	needRoot(t)
	empty := needTcpdump(t, 1)
	// Every crafted frame and a quarter of the shared ones keep this to a
	// few seconds; the VM test covers every shared frame.
	frames := append([][]byte{}, craftedSet()...)
	for i, fr := range sharedFrames(t, decode.LinkEthernet) {
		if i%4 == 0 {
			frames = append(frames, fr)
		}
	}
	prefetchTcpdump(empty, diffExprs)
	for _, expr := range diffExprs {
		refVM := tcpdumpVM(t, empty, expr)
		if refVM == nil {
			continue
		}
		mine, err := Compile(expr, decode.LinkEthernet, 262144)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		e, err := NewEBPF(mine)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		bad, accepted := 0, uint64(0)
		for i, fr := range frames {
			if len(fr) < 14 || len(fr) > maxTestRun {
				continue // BPF_PROG_TEST_RUN takes an Ethernet header to a page
			}
			want := run(t, refVM, fr) > 0
			got := testRun(t, e.Program(), fr, 1) > 0
			if got {
				accepted++
			}
			if want != got {
				bad++
				if bad <= 3 {
					t.Errorf("%q: frame %d (% x): tcpdump accepts=%v, eBPF accepts=%v", expr, i, fr[:min(len(fr), 64)], want, got)
				}
			}
		}
		c, err := e.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c.Accepted != accepted || c.Seen != c.Accepted+c.Rejected {
			t.Errorf("%q: counters %+v, but %d frames were accepted", expr, c, accepted)
		}
		e.Close()
	}
}
