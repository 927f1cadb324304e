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
