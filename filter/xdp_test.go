package filter

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
)

// xdpAccepts runs an XDP program on one frame with BPF_PROG_TEST_RUN and
// reports whether the filter accepted it (by its accepted counter: with no
// socket in the map both verdicts return XDP_PASS) and what it returned.
func xdpAccepts(t testing.TB, x *XDP, frame []byte) (bool, uint32) {
	t.Helper()
	before, err := x.Counters()
	if err != nil {
		t.Fatal(err)
	}
	ret, err := x.Program().Run(&ebpf.RunOptions{Data: frame})
	if err != nil {
		t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
	}
	after, err := x.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return after.Accepted > before.Accepted, ret
}

func TestXDPLoadsAndCounts(t *testing.T) {
	needRoot(t)
	insns, err := Compile("tcp port 80", decode.LinkEthernet, 96)
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewXDP(insns, 2, XDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	hit := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02).bytes()
	miss := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 81, 0x02).bytes()
	for _, c := range []struct {
		name  string
		frame []byte
		want  bool
	}{{"port 80", hit, true}, {"port 81", miss, false}, {"truncated", hit[:30], false}} {
		got, ret := xdpAccepts(t, x, c.frame)
		if got != c.want || ret != xdpPass {
			t.Errorf("%s frame: accepted=%v ret=%d, want accepted=%v ret=%d (XDP_PASS: no socket bound)", c.name, got, ret, c.want, xdpPass)
		}
	}
	c, err := x.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counters{Seen: 3, Accepted: 1, Rejected: 2, Aborted: 1}); c != want {
		t.Errorf("counters = %+v, want %+v", c, want)
	}
	if err := x.Bind(2, 0); err == nil {
		t.Error("Bind(2) on a 2-queue map succeeded")
	}
}

func TestXDPConfigErrors(t *testing.T) {
	if _, err := NewXDP(nil, 0, XDPOptions{}); err == nil {
		t.Error("0 queues accepted")
	}
	// An ancillary load XDP has no equivalent for (SKF_AD_PKTTYPE).
	raw, _ := bpf.Assemble([]bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtType}, bpf.RetA{}})
	if _, err := translate(raw, -1, &xdpTarget{xskFD: 0}); err == nil {
		t.Error("pkttype load translated for XDP")
	}
}

// TestXDPTestRunDifferential runs the XDP translation of every table
// expression on the frames of the eBPF differential test and compares its
// verdicts with tcpdump's program, frame by frame.
func TestXDPTestRunDifferential(t *testing.T) {
	needRoot(t)
	empty := needTcpdump(t, 1)
	frames := append([][]byte{}, craftedSet()...)
	for i, fr := range sharedFrames(t, decode.LinkEthernet) {
		if i%4 == 0 {
			frames = append(frames, fr)
		}
	}
	prefetchTcpdump(empty, diffExprs)
	for _, ts := range []bool{false, true} {
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
			x, err := NewXDP(mine, 1, XDPOptions{NoTimestamp: !ts})
			if err != nil {
				t.Errorf("%q: %v", expr, err)
				continue
			}
			bad := 0
			for i, fr := range frames {
				if len(fr) < 14 || len(fr) > maxTestRun {
					continue
				}
				want := run(t, refVM, fr) > 0
				got, _ := xdpAccepts(t, x, fr)
				if want != got {
					bad++
					if bad <= 3 {
						t.Errorf("%q (timestamp %v): frame %d (% x): tcpdump accepts=%v, XDP accepts=%v", expr, ts, i, fr[:min(len(fr), 64)], want, got)
					}
				}
			}
			x.Close()
			if !ts {
				break // the timestamp variant once is enough: it only changes the exit
			}
		}
	}
}
