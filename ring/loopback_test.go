package ring

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/ringtest"
	"github.com/netblame/netblame/track"
)

var loNS atomic.Int32

// loopbackNS makes a network namespace of the test's own with only its
// lo, brought up, and removes it when the test ends; it skips the test
// when namespaces cannot be made here.
func loopbackNS(t *testing.T) string {
	t.Helper()
	if err := ringtest.Available(); err != nil {
		t.Skip("loopback capture test skipped: ", err)
	}
	ns := fmt.Sprintf("nblo%dx%d", os.Getpid(), loNS.Add(1))
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "netns", "del", ns).Run()
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	return ns
}

// trackedRun is what one capture's worker saw, fed through track.
type trackedRun struct {
	packets, outgoing uint64
	flows             flowtable.TableStats
	err               error
}

// trackRing reads worker 0 of c into a flow table in the background, the
// way `netblame capture --analyze` does; finish stops c and returns the
// counts.
func trackRing(t *testing.T, c *Capture) (finish func() trackedRun) {
	tr, err := track.New(track.Options{Flows: &flowtable.Config{IgnoreVLAN: true}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan trackedRun, 1)
	go func() {
		var res trackedRun
		var p Packet
		var cp capfile.Packet
		r := c.Workers()[0]
		for {
			err := r.Next(&p)
			if errors.Is(err, ErrTimeout) {
				continue
			}
			if err != nil {
				if !errors.Is(err, ErrStopped) {
					res.err = err
				}
				break
			}
			res.packets++
			if p.Outgoing() {
				res.outgoing++
			}
			cp = capfile.Packet{Frame: res.packets, Timestamp: p.Timestamp, Data: p.Data, OrigLen: p.OrigLen, Link: c.Link()}
			tr.Feed(&cp)
		}
		tr.Finish()
		res.flows = tr.Table().Stats()
		done <- res
	}()
	return func() trackedRun {
		c.Stop()
		return <-done
	}
}

var tcpdumpDropsRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// TestLoopbackEachPacketOnce: on a loopback interface the kernel shows
// every packet twice, once as sent (PACKET_OUTGOING) and once as
// received. In a namespace of its own, real TCP and UDP traffic over
// 127.0.0.1 is captured at the same time by tcpdump (`-i lo -w`), by a
// ring with the default direction, by one that keeps only the sent
// copies and by one that keeps every copy. The default and the sent-only
// rings see exactly tcpdump's packets, none outgoing for the default, and
// the default's flow table has the events the flow table and tshark find
// in tcpdump's file (no retransmission, unless a full receive buffer made
// a real one); the ring that keeps every copy sees twice as many and
// false retransmissions (the bug the default avoids).
func TestLoopbackEachPacketOnce(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("loopback capture test skipped: needs tcpdump to compare with")
	}
	ns := loopbackNS(t)
	cfg := Config{Interface: "lo", Snaplen: 128, NumBlocks: 64}
	auto := openIn(t, ns, cfg)
	if !auto.Loopback() || auto.Direction() != DirectionIn {
		t.Fatalf("lo: Loopback() = %v, Direction() = %v; want true, in", auto.Loopback(), auto.Direction())
	}
	cfg.Direction = DirectionOut
	out := openIn(t, ns, cfg)
	cfg.Direction = DirectionInOut
	both := openIn(t, ns, cfg)
	// The default direction with an eBPF filter: the outgoing copies are
	// left out by the eBPF program, which counts them as rejected.
	insns, err := filter.Compile("tcp or udp", decode.LinkEthernet, 128)
	if err != nil {
		t.Fatal(err)
	}
	var prog *filter.EBPF
	ecfg := Config{Interface: "lo", Snaplen: 128, NumBlocks: 64, Filter: insns, EBPF: ebpfLoader(t, &prog)}
	withEBPF := openIn(t, ns, ecfg)
	if withEBPF.FilterKind() != "ebpf" {
		t.Fatalf("filter kind %q (%s), want ebpf", withEBPF.FilterKind(), withEBPF.FilterNotice())
	}
	file := filepath.Join(t.TempDir(), "lo.pcap")
	if d := os.Getenv("NB_KEEP"); d != "" {
		file = filepath.Join(d, "lo.pcap")
	}
	td, err := ringtest.StartInNS(ns, "listening on", tcpdump, "-i", "lo", "-n", "-s", "128", "-B", "16384", "--immediate-mode", "-Z", "root", "-w", file)
	if err != nil {
		t.Fatal(err)
	}
	defer td.Cmd.Process.Kill()
	finishAuto, finishOut, finishBoth, finishEBPF := trackRing(t, auto), trackRing(t, out), trackRing(t, both), trackRing(t, withEBPF)

	lo := netip.MustParseAddr("127.0.0.1")
	if err := ringtest.TCPBulk(ns, ns, lo, 5001, 4, 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := ringtest.UDPBurst(ns, ns, lo, 5002, 500, 200, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the last blocks retire; tcpdump has read all it will write
	tdErr, err := td.Stop()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, tdErr)
	}
	a, o, b, e := finishAuto(), finishOut(), finishBoth(), finishEBPF()
	for _, r := range []trackedRun{a, o, b, e} {
		if r.err != nil {
			t.Fatal(r.err)
		}
	}
	m := tcpdumpDropsRE.FindStringSubmatch(tdErr)
	if m == nil || m[1] != "0" {
		t.Fatalf("tcpdump dropped packets (or did not say): %s", tdErr)
	}
	inFile := countPackets(t, file)
	fileFlows, fileStats, err := track.File(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Capture{auto, out, both, withEBPF} {
		if st, err := c.Stats(); err != nil || st.Total.Kernel.Drops != 0 {
			t.Fatalf("ring statistics %+v, %v: the comparison needs no drops", st.Total, err)
		}
	}
	retrans := func(s *flowtable.TableStats) uint64 { return s.FilterCount(flowtable.Retransmission) }
	t.Logf("tcpdump said: %s", strings.ReplaceAll(tdErr, "\n", " | "))
	t.Logf("tcpdump: %d packets, %d flows, %d retransmissions; ring auto: %d (%d outgoing), %d retransmissions; out: %d; inout: %d, %d retransmissions",
		inFile, len(fileFlows), retrans(&fileStats), a.packets, a.outgoing, retrans(&a.flows), o.packets, b.packets, retrans(&b.flows))

	if inFile < 100 || fileStats.TCPFlows != 4 || fileStats.UDPFlows != 1 {
		t.Fatalf("tcpdump's file: %d packets, %d TCP and %d UDP flows; the test sent 4 TCP connections and 1 UDP flow",
			inFile, fileStats.TCPFlows, fileStats.UDPFlows)
	}
	if a.packets != inFile || a.outgoing != 0 {
		t.Errorf("ring (auto) captured %d packets, %d of them outgoing copies; tcpdump captured %d", a.packets, a.outgoing, inFile)
	}
	if o.packets != inFile || o.outgoing != o.packets {
		t.Errorf("ring (out) captured %d packets, %d of them outgoing; tcpdump captured %d", o.packets, o.outgoing, inFile)
	}
	if b.packets != 2*inFile || b.outgoing != inFile {
		t.Errorf("ring (inout) captured %d packets, %d outgoing; want every packet twice: %d, %d", b.packets, b.outgoing, 2*inFile, inFile)
	}
	if fc, err := prog.Counters(); err != nil || e.packets != inFile || e.outgoing != 0 || fc.Accepted != inFile || fc.Seen != 2*inFile {
		t.Errorf("ring (auto, eBPF filter) captured %d packets, %d outgoing; eBPF counters %+v (%v); want %d captured and accepted of %d seen",
			e.packets, e.outgoing, fc, err, inFile, 2*inFile)
	}
	// Real traffic over lo can hold a real retransmission (a receiver
	// whose buffer is full prunes a segment): the ring's count must be the
	// file's, which must be tshark's; with none in the file, none.
	if n, f := retrans(&a.flows), retrans(&fileStats); n != f {
		t.Errorf("ring (auto): the flow table reports %d retransmissions, on tcpdump's file %d", n, f)
	}
	if n := tsharkRetransmissions(t, file); n >= 0 && uint64(n) != retrans(&fileStats) {
		t.Errorf("tshark finds %d retransmissions in tcpdump's file, the flow table %d", n, retrans(&fileStats))
	}
	if a.flows.Packets != fileStats.Packets || a.flows.Events != fileStats.Events || a.flows.TCPFlows != 4 || a.flows.UDPFlows != 1 {
		t.Errorf("ring (auto) flow totals differ from tcpdump's file:\n ring %+v\n file %+v", a.flows, fileStats)
	}
	if retrans(&b.flows) <= retrans(&fileStats) {
		t.Errorf("ring (inout) saw every packet twice but no more retransmissions than the file: the check above proves nothing")
	}
}

// tsharkRetransmissions counts the packets tshark's
// tcp.analysis.retransmission matches in path, -1 without tshark.
func tsharkRetransmissions(t *testing.T, path string) int {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not installed: its retransmission count is not compared")
		return -1
	}
	out, err := exec.Command(bin, "-n", "-r", path, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if _, err := strconv.Atoi(l); err == nil {
			n++
		}
	}
	return n
}
