package filter

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// vethPair creates network namespace name with a veth pair bfA-bfB inside
// (IPv6 off, so the kernel sends nothing of its own) and removes it at
// the end of the test.
func vethPair(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed")
	}
	sh := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", name).Run()
	sh("ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	sh("ip", "-n", name, "link", "add", "bfA", "type", "veth", "peer", "name", "bfB")
	sh("ip", "-n", name, "link", "set", "bfA", "up")
	sh("ip", "-n", name, "link", "set", "bfB", "up")
}

// inNetns runs fn on a thread switched into the named namespace. Sockets
// made there stay in that namespace after the thread switches back.
func inNetns(t testing.TB, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
	}()
	fn()
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens an AF_PACKET socket on ifindex; attach (when not
// nil) installs a filter before bind, so no packet slips in unfiltered.
// The caller closes it.
func packetSocket(t testing.TB, ifindex int, attach func(fd int) error) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if attach != nil {
		if err := attach(fd); err != nil {
			t.Fatalf("attach filter: %v", err)
		}
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		t.Fatal(err)
	}
	return fd
}

// drain reads every queued frame without blocking.
func drain(fd int, buf []byte, out [][]byte) [][]byte {
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return out
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
}

// asKernelDelivers is a frame as a packet socket on the receiving veth
// sees it: the kernel moves an outer 802.1Q/802.1ad tag into metadata.
func asKernelDelivers(fr []byte) []byte {
	if len(fr) >= 18 && (fr[12] == 0x81 && fr[13] == 0x00 || fr[12] == 0x88 && fr[13] == 0xa8) {
		return append(append([]byte{}, fr[:12]...), fr[16:]...)
	}
	return fr
}

// TestLiveSocketDifferential attaches each table expression's live-mode
// program to AF_PACKET sockets on a veth, once as classic BPF
// (SO_ATTACH_FILTER) and once as eBPF (SO_ATTACH_BPF), next to a socket
// carrying tcpdump's own live program for that interface ("tcpdump -ddd
// -i"), sends the frames through the pair, and checks that our sockets
// receive exactly what tcpdump's does, cut to the snap length, that this
// is also what a model of libpcap's live semantics predicts, and that the
// eBPF counters agree. Tagged frames arrive with the tag stripped, so
// "vlan" here exercises the ancillary VLAN loads.
func TestLiveSocketDifferential(t *testing.T) {
	needRoot(t)
	empty := needTcpdump(t, 1)
	const ns = "bfdiff"
	vethPair(t, ns)
	const snap = 100
	var frames [][]byte
	for _, fr := range craftedSet() {
		if len(fr) >= 14 && len(fr) <= 1514 {
			frames = append(frames, fr)
		}
	}
	for i, fr := range sharedFrames(t, decode.LinkEthernet) {
		if i%64 == 0 && len(fr) <= 1514 {
			frames = append(frames, fr)
		}
	}
	var tx, all, ifA, ifB int
	inNetns(t, ns, func() {
		a, err := net.InterfaceByName("bfA")
		if err != nil {
			t.Fatal(err)
		}
		b, err := net.InterfaceByName("bfB")
		if err != nil {
			t.Fatal(err)
		}
		ifA, ifB = a.Index, b.Index
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: a.Index}); err != nil {
			t.Fatal(err)
		}
		tx = fd
		all = packetSocket(t, ifB, nil)
		t.Cleanup(func() { unix.Close(all) })
	})
	// tcpdump's live programs for bfB, fetched a few processes at a time.
	liveRefs := make([][]bpf.Instruction, len(diffExprs))
	liveErrs := make([]error, len(diffExprs))
	parallel(len(diffExprs), func(i int) {
		liveRefs[i], liveErrs[i] = runTcpdump("ip", "netns", "exec", ns, "tcpdump", "-s", fmt.Sprint(snap), "-ddd", "-i", "bfB", "--", diffExprs[i])
	})
	buf := make([]byte, 65536)
	for ei, expr := range diffExprs {
		refVM := tcpdumpVM(t, empty, expr)
		if refVM == nil {
			continue
		}
		prog, err := Compile(expr, decode.LinkEthernet, snap)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		raw, err := bpf.Assemble(prog)
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEBPF(prog)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		liveRef, err := liveRefs[ei], liveErrs[ei]
		if err != nil {
			t.Fatalf("%q: tcpdump's live program: %v", expr, err)
		}
		liveRaw, err := bpf.Assemble(liveRef)
		if err != nil {
			t.Fatal(err)
		}
		var classicFD, ebpfFD, tcpdumpFD int
		inNetns(t, ns, func() {
			classicFD = packetSocket(t, ifB, attachRaw(raw))
			tcpdumpFD = packetSocket(t, ifB, attachRaw(liveRaw))
			ebpfFD = packetSocket(t, ifB, func(fd int) error {
				return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, e.FD())
			})
		})
		drain(all, buf, nil)
		var want, gotClassic, gotEBPF, gotTcpdump [][]byte
		for start := 0; start < len(frames); start += 64 {
			chunk := frames[start:min(start+64, len(frames))]
			for _, fr := range chunk {
				if err := unix.Sendto(tx, fr, 0, &unix.SockaddrLinklayer{Ifindex: ifA}); err != nil {
					t.Fatalf("send: %v", err)
				}
				delivered := asKernelDelivers(fr)
				// Live libpcap semantics: "vlan" sees the original tag (in
				// metadata or in the frame); everything else sees the
				// frame as delivered.
				judge := delivered
				if strings.Contains(expr, "vlan") {
					judge = fr
				}
				if run(t, refVM, judge) > 0 {
					want = append(want, delivered[:min(len(delivered), snap)])
				}
			}
			seen := 0
			deadline := time.Now().Add(3 * time.Second)
			for seen < len(chunk) && time.Now().Before(deadline) {
				seen += len(drain(all, buf, nil))
				if seen < len(chunk) {
					time.Sleep(time.Millisecond)
				}
			}
			if seen != len(chunk) {
				t.Fatalf("%q: the unfiltered socket saw %d of %d frames", expr, seen, len(chunk))
			}
			gotClassic = drain(classicFD, buf, gotClassic)
			gotEBPF = drain(ebpfFD, buf, gotEBPF)
			gotTcpdump = drain(tcpdumpFD, buf, gotTcpdump)
		}
		for name, got := range map[string][][]byte{"classic": gotClassic, "eBPF": gotEBPF} {
			if err := sameFrames(gotTcpdump, got); err != nil {
				t.Errorf("%q: our %s program vs tcpdump's live program: %v", expr, name, err)
			}
		}
		if err := sameFrames(want, gotTcpdump); err != nil {
			t.Errorf("%q: the model of libpcap's live semantics vs tcpdump's live program: %v", expr, err)
		}
		c, err := e.Counters()
		if err != nil {
			t.Fatal(err)
		}
		if c.Seen != uint64(len(frames)) || c.Accepted != uint64(len(gotEBPF)) {
			t.Errorf("%q: eBPF counters %+v; sent %d frames, socket got %d", expr, c, len(frames), len(gotEBPF))
		}
		unix.Close(classicFD)
		unix.Close(tcpdumpFD)
		unix.Close(ebpfFD)
		e.Close()
	}
}

// attachRaw installs a classic program with SO_ATTACH_FILTER.
func attachRaw(raw []bpf.RawInstruction) func(fd int) error {
	return func(fd int) error {
		filter := make([]unix.SockFilter, len(raw))
		for i, r := range raw {
			filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
		}
		return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]})
	}
}

func sameFrames(want, got [][]byte) error {
	if len(want) != len(got) {
		return fmt.Errorf("received %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			return fmt.Errorf("frame %d of the accepted ones differs:\n got % x\nwant % x", i, got[i], want[i])
		}
	}
	return nil
}
