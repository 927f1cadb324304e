package ring

import (
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/bpf"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/internal/ringtest"
)

// xdpLoader loads filter's XDP translation and keeps it for the test.
func xdpLoader(t *testing.T, keep **filter.XDP) func([]bpf.Instruction, int) (XDPProgram, error) {
	return func(insns []bpf.Instruction, queues int) (XDPProgram, error) {
		x, err := filter.NewXDP(insns, queues, filter.XDPOptions{})
		if err != nil {
			return nil, err
		}
		*keep = x
		t.Cleanup(func() { x.Close() })
		return x, nil
	}
}

// openXDPIn opens an XDP capture in namespace ns, skipping the test when
// the kernel or the driver cannot.
func openXDPIn(t *testing.T, ns string, cfg Config) *Capture {
	t.Helper()
	var c *Capture
	err := ringtest.InNS(ns, func() (err error) {
		c, err = Open(cfg)
		return err
	})
	if errors.Is(err, ErrXDPUnavailable) {
		t.Skip("XDP capture unavailable here: ", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestXDPCaptureMatchesSender: UDP datagrams the filter accepts, captured
// with AF_XDP on the receiving end of a veth pair, are exactly the frames
// a TPACKET_V3 capture on the sending end saw leave, byte for byte, each
// once; a TCP transfer the filter rejects still completes (XDP_PASS) and
// none of it is captured.
func TestXDPCaptureMatchesSender(t *testing.T) {
	for _, mode := range []XDPMode{XDPNative, XDPGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			p := ringtest.ForTest(t)
			insns, err := filter.Compile("udp port 5002", decode.LinkEthernet, 256)
			if err != nil {
				t.Fatal(err)
			}
			ref := openIn(t, p.NSA, Config{Interface: p.IfA, Snaplen: 256, NumBlocks: 64, Filter: insns, Direction: DirectionOut})
			var prog *filter.XDP
			c := openXDPIn(t, p.NSB, Config{Interface: p.IfB, Snaplen: 256, Filter: insns, XDP: mode, XDPProgram: xdpLoader(t, &prog)})
			if c.FilterKind() != "xdp" || len(c.Workers()) != 1 {
				t.Fatalf("filter kind %q, %d workers", c.FilterKind(), len(c.Workers()))
			}
			finishRef, finish := collectFull(t, ref), collectFull(t, c)
			drops0 := txDropped(t, p.NSA, p.IfA)
			start := time.Now()
			tcpDone := make(chan error, 1)
			go func() { tcpDone <- ringtest.TCPBulk(p.NSA, p.NSB, p.AddrB, 5001, 2, 2<<20) }()
			if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 3000, 200, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-tcpDone:
				if err != nil {
					t.Fatalf("TCP transfer the filter rejects: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("TCP transfer the filter rejects did not complete in 30s")
			}
			time.Sleep(50 * time.Millisecond)
			got, want := finish(), finishRef()
			end := time.Now()
			if len(want) != 3000 {
				t.Errorf("sender side captured %d datagrams, want 3000", len(want))
			}
			for _, f := range got {
				if f.ts < start.UnixNano()-1e9 || f.ts > end.UnixNano()+1e9 {
					t.Fatalf("timestamp %v outside the test's %v to %v", time.Unix(0, f.ts), start, end)
				}
			}
			// In native mode the sending veth queues frames for the receiving
			// end's NAPI poll (a 256-slot ring) and drops, counting them in its
			// tx_dropped, what does not fit: before XDP runs.
			vethDrops := txDropped(t, p.NSA, p.IfA) - drops0
			if d := diffFrames(want, got, int(vethDrops)); d != "" {
				t.Error(d)
			}
			// The receive time follows the send time closely (the sender's
			// capture stamps the frame as it leaves).
			sent := map[string]int64{}
			for _, f := range want {
				sent[f.data] = f.ts
			}
			var lags []int64
			for _, f := range got {
				if ts, ok := sent[f.data]; ok {
					lags = append(lags, f.ts-ts)
				}
			}
			sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
			if len(lags) > 0 {
				t.Logf("receive minus send time: min %v median %v max %v", time.Duration(lags[0]), time.Duration(lags[len(lags)/2]), time.Duration(lags[len(lags)-1]))
				if med := lags[len(lags)/2]; med < -time.Millisecond.Nanoseconds() || med > 100*time.Millisecond.Nanoseconds() {
					t.Errorf("median receive minus send time %v: the XDP timestamps are off", time.Duration(med))
				}
			}
			st, err := c.Stats()
			if err != nil {
				t.Fatal(err)
			}
			fc, err := prog.Counters()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d dropped by the sending veth; captured %d, kernel %+v, filter %+v, copy mode %v", mode, vethDrops, len(got), st.Total.Kernel, fc, c.XDPCopyMode())
			if st.Total.Delivered != uint64(len(got)) || st.Total.Kernel.Drops != 0 {
				t.Errorf("stats: delivered %d, drops %d; test read %d", st.Total.Delivered, st.Total.Kernel.Drops, len(got))
			}
			if fc.Accepted != uint64(len(got)) || fc.Rejected < 1000 {
				t.Errorf("filter counters %+v: want %d accepted and the TCP transfer rejected", fc, len(got))
			}
		})
	}
}

// frame is a captured frame, copied.
type frame struct {
	data    string
	origLen int
	ts      int64
}

// collectFull reads every worker of c in the background, keeping whole
// frames; finish stops the capture and returns them.
func collectFull(t *testing.T, c *Capture) (finish func() []frame) {
	var all []frame
	done := make(chan error, len(c.Workers()))
	out := make(chan []frame, len(c.Workers()))
	for _, r := range c.Workers() {
		go func(r *Ring) {
			var mine []frame
			var p Packet
			for {
				err := r.Next(&p)
				if errors.Is(err, ErrTimeout) {
					continue
				}
				if err != nil {
					if errors.Is(err, ErrStopped) {
						err = nil
					}
					out <- mine
					done <- err
					return
				}
				mine = append(mine, frame{string(p.Data), p.OrigLen, p.Timestamp})
			}
		}(r)
	}
	return func() []frame {
		t.Helper()
		c.Stop()
		for range c.Workers() {
			all = append(all, <-out...)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		return all
	}
}

// txDropped is an interface's tx_dropped counter in namespace ns.
func txDropped(t *testing.T, ns, iface string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/sys/class/net/"+iface+"/statistics/tx_dropped").Output()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// diffFrames compares two captures as multisets of frames: got must be
// want less at most dropped frames, none twice.
func diffFrames(want, got []frame, dropped int) string {
	count := map[string]int{}
	for _, f := range want {
		count[f.data]++
	}
	for _, f := range got {
		count[f.data]--
	}
	var missing, extra int
	for _, n := range count {
		if n > 0 {
			missing += n
		} else {
			extra -= n
		}
	}
	if missing <= dropped && extra == 0 {
		return ""
	}
	return fmt.Sprintf("want %d frames, got %d: %d missing (the kernel counted %d dropped), %d extra or duplicated", len(want), len(got), missing, dropped, extra)
}

// TestXDPNextAllocs: reading AF_XDP packets allocates nothing.
func TestXDPNextAllocs(t *testing.T) {
	p := ringtest.ForTest(t)
	var prog *filter.XDP
	c := openXDPIn(t, p.NSB, Config{Interface: p.IfB, Snaplen: 128, XDP: XDPNative, XDPProgram: xdpLoader(t, &prog), PollTimeout: time.Second})
	// Queue the packets first (the UMEM holds 4096), then read them.
	if err := ringtest.UDPBurst(p.NSA, p.NSB, p.AddrB, 5002, 3000, 100, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r := c.Workers()[0]
	var pkt Packet
	var failed error
	allocs := testing.AllocsPerRun(2500, func() {
		if err := r.Next(&pkt); err != nil && failed == nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Errorf("Next allocates %.2f times a packet, want 0", allocs)
	}
	if !r.xp.PerPacketTime {
		t.Log("no per-packet receive time in the XDP metadata: packets carry their batch's clock read")
	}
	if len(pkt.Data) == 0 || len(pkt.Data) > 128 || pkt.OrigLen < len(pkt.Data) {
		t.Errorf("last packet: %d bytes of %d (snaplen 128)", len(pkt.Data), pkt.OrigLen)
	}
}

// TestXDPConfigErrors: what XDP cannot do is refused with a clear error.
func TestXDPConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"no program", Config{Interface: "lo", XDP: XDPNative}},
		{"direction out", Config{Interface: "lo", XDP: XDPNative, Direction: DirectionOut, XDPProgram: noProgram}},
		{"promiscuous", Config{Interface: "lo", XDP: XDPNative, Promiscuous: true, XDPProgram: noProgram}},
		{"loopback", Config{Interface: "lo", XDP: XDPGeneric, XDPProgram: noProgram}},
	} {
		if _, err := Open(c.cfg); err == nil {
			t.Errorf("%s: Open succeeded", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	if _, err := ParseXDPMode("turbo"); err == nil {
		t.Error(`ParseXDPMode("turbo") succeeded`)
	}
}

func noProgram([]bpf.Instruction, int) (XDPProgram, error) {
	return nil, errors.New("no program in this test")
}
