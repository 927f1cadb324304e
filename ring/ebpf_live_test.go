package ring

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/internal/ringtest"
)

// ebpfLoader loads filter's eBPF translation and keeps it for the test.
func ebpfLoader(t *testing.T, keep **filter.EBPF) func([]bpf.Instruction) (Program, error) {
	return func(insns []bpf.Instruction) (Program, error) {
		p, err := filter.NewEBPF(insns)
		if err != nil {
			return nil, err
		}
		*keep = p
		t.Cleanup(func() { p.Close() })
		return p, nil
	}
}

// TestEBPFCountersEqualPacketsSeen: the eBPF prefilter's counters say it
// ran on every packet the interface received and sent, accepted exactly
// the packets captured, and rejected the rest.
func TestEBPFCountersEqualPacketsSeen(t *testing.T) {
	p := ringtest.ForTest(t)
	insns, err := filter.Compile("udp dst port 5001", decode.LinkEthernet, 128)
	if err != nil {
		t.Fatal(err)
	}
	var prog *filter.EBPF
	c := openIn(t, p.NSB, Config{Interface: p.IfB, Filter: insns, EBPF: ebpfLoader(t, &prog), NumBlocks: 64})
	if c.FilterKind() != "ebpf" {
		t.Fatalf("filter attached as %q (%s), want ebpf", c.FilterKind(), c.FilterNotice())
	}
	finish := collect(t, c)
	rx0, tx0, _ := ringtest.Counters(p.NSB, p.IfB)
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5001, 700, 100, 0); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 1500, 100, 0); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5003, 1, 1<<20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	rx1, tx1, _ := ringtest.Counters(p.NSB, p.IfB)
	got := finish()
	fc, err := prog.Counters()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := c.Stats()
	onWire := (rx1 - rx0) + (tx1 - tx0)
	t.Logf("interface %d packets, eBPF %+v, captured %d, kernel %+v", onWire, fc, len(got), st.Total.Kernel)
	if fc.Seen != onWire {
		t.Errorf("eBPF filter saw %d packets, the interface carried %d", fc.Seen, onWire)
	}
	if fc.Accepted != uint64(len(got)) || len(got) != 700 {
		t.Errorf("eBPF accepted %d, captured %d, 700 sent to port 5001", fc.Accepted, len(got))
	}
	if fc.Rejected != fc.Seen-fc.Accepted || st.Total.Kernel.Packets != fc.Accepted {
		t.Errorf("counters do not add up: %+v, kernel accepted %d", fc, st.Total.Kernel.Packets)
	}
}

// TestEBPFFallbackToClassic: when the eBPF program cannot be loaded, the
// classic program is attached, with a notice, and filters the same.
func TestEBPFFallbackToClassic(t *testing.T) {
	p := ringtest.ForTest(t)
	insns, err := filter.Compile("udp dst port 5001", decode.LinkEthernet, 128)
	if err != nil {
		t.Fatal(err)
	}
	fail := func([]bpf.Instruction) (Program, error) { return nil, errors.New("no CAP_BPF here") }
	c := openIn(t, p.NSB, Config{Interface: p.IfB, Filter: insns, EBPF: fail})
	if c.FilterKind() != "classic" || !strings.Contains(c.FilterNotice(), "no CAP_BPF here") || strings.Contains(c.FilterNotice(), "\n") {
		t.Fatalf("kind %q notice %q", c.FilterKind(), c.FilterNotice())
	}
	finish := collect(t, c)
	ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 300, 100, 0)
	ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5001, 200, 100, 0)
	time.Sleep(30 * time.Millisecond)
	got := finish()
	for _, s := range got {
		if s.key.dport != 5001 {
			t.Fatalf("classic fallback let through %+v", s.key)
		}
	}
	if len(got) != 200 {
		t.Errorf("captured %d of 200", len(got))
	}
}
