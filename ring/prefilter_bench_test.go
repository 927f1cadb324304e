package ring

import (
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/internal/ringtest"
)

// TestPrefilterLiveCost measures what the eBPF prefilter costs per packet
// on live traffic, from the kernel's own accounting (BPF_ENABLE_STATS:
// run time and run count of the attached program, counters included).
// The classic program has no such accounting once attached (the kernel
// converts it internally); filter's PROG_TEST_RUN benchmark compares
// the two on the same frames. Run with
//
//	go test ./ring -run TestPrefilterLiveCost -v -capturebench
func TestPrefilterLiveCost(t *testing.T) {
	if !*captureBench {
		t.Skip("prefilter cost: run with -capturebench")
	}
	p := ringtest.ForTest(t)
	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		t.Skip("BPF_ENABLE_STATS: ", err)
	}
	defer stats.Close()
	for _, expr := range []string{
		"udp dst port 5001",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 or (udp and portrange 5000-5100)",
		"host 10.9.9.9 or net 192.168.0.0/16 or (tcp and (port 80 or port 443)) or (ip6 and udp port 53) or vlan 5",
	} {
		insns, err := filter.Compile(expr, decode.LinkEthernet, 128)
		if err != nil {
			t.Fatal(err)
		}
		var prog *filter.EBPF
		c := openIn(t, p.NSB, Config{Interface: p.IfB, Filter: insns, EBPF: ebpfLoader(t, &prog), NumBlocks: 64})
		if c.FilterKind() != "ebpf" {
			t.Skip("eBPF not attached: ", c.FilterNotice())
		}
		finish := collect(t, c)
		if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5001, 100000, 100, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		finish()
		ps, err := prog.Program().Stats()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if ps.RunCount == 0 {
			t.Fatalf("%q: the kernel counted no runs", expr)
		}
		t.Logf("%-100s %3d classic insns: %6d runs, %5.1f ns/packet", expr, len(insns), ps.RunCount,
			float64(ps.Runtime.Nanoseconds())/float64(ps.RunCount))
	}
}
