// Package ringtest builds throw-away network namespaces joined by a veth
// pair and sends real traffic through them, for the live-capture tests of
// ring and of `netblame capture`. It needs root and the ip(8) command.
//
// It is for tests and the capture benchmark only: every name it creates carries the caller's prefix,
// every address lives inside the namespaces it created, and Close removes
// them (deleting a namespace deletes its end of the pair).
package ringtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/netblame/netblame/internal/ipsum"
	"golang.org/x/sys/unix"
)

// Available returns nil when namespaces and veth pairs can be made here,
// otherwise the reason to skip.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF) to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs the ip command (iproute2)")
	}
	return nil
}

// Pair is two namespaces, A and B, with a veth pair between them:
// A's end is IfA with AddrA, B's end is IfB with AddrB.
type Pair struct {
	NSA, NSB     string
	IfA, IfB     string
	AddrA, AddrB netip.Addr
	MACA, MACB   string
}

// TB is the part of testing.TB that ForTest uses.
type TB interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
	Cleanup(func())
}

var seq atomic.Int32

// ForTest makes a pair for one test, removed when the test ends, or skips
// the test with the reason when pairs cannot be made here.
//
// t is a testing.TB; the package does not import testing itself, so that
// the benchmark suites (package bench, linked into the netblame binary)
// can make pairs with NewPair.
func ForTest(t TB) *Pair {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip("live capture test skipped: ", err)
	}
	p, err := NewPair("rg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewPair creates the namespaces "<prefix><pid>x<n>a" and "...b" and a veth
// pair between them with IPv4 addresses, IPv6 disabled, static neighbour
// entries (no ARP) and every offload off, so only the traffic a test sends
// crosses the link and TCP segments are MTU-sized.
func NewPair(prefix string) (*Pair, error) {
	n := seq.Add(1)
	base := fmt.Sprintf("%s%dx%d", prefix, os.Getpid(), n)
	subnet := 1 + int(n)%250
	p := &Pair{
		NSA: base + "a", NSB: base + "b", IfA: base + "a", IfB: base + "b",
		AddrA: netip.AddrFrom4([4]byte{10, 213, byte(subnet), 1}),
		AddrB: netip.AddrFrom4([4]byte{10, 213, byte(subnet), 2}),
		MACA:  fmt.Sprintf("02:72:67:%02x:%02x:01", subnet, os.Getpid()&0xff),
		MACB:  fmt.Sprintf("02:72:67:%02x:%02x:02", subnet, os.Getpid()&0xff),
	}
	if len(p.IfA) > 15 {
		return nil, fmt.Errorf("ringtest: interface name %q too long", p.IfA)
	}
	steps := [][]string{
		{"ip", "netns", "add", p.NSA},
		{"ip", "netns", "add", p.NSB},
	}
	for _, ns := range []string{p.NSA, p.NSB} {
		steps = append(steps,
			[]string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"},
			[]string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"})
	}
	steps = append(steps,
		[]string{"ip", "-n", p.NSA, "link", "add", p.IfA, "address", p.MACA, "type", "veth", "peer", "name", p.IfB, "address", p.MACB, "netns", p.NSB},
		[]string{"ip", "-n", p.NSA, "addr", "add", p.AddrA.String() + "/24", "dev", p.IfA},
		[]string{"ip", "-n", p.NSB, "addr", "add", p.AddrB.String() + "/24", "dev", p.IfB},
		[]string{"ip", "-n", p.NSA, "neigh", "add", p.AddrB.String(), "lladdr", p.MACB, "dev", p.IfA, "nud", "permanent"},
		[]string{"ip", "-n", p.NSB, "neigh", "add", p.AddrA.String(), "lladdr", p.MACA, "dev", p.IfB, "nud", "permanent"},
	)
	for _, s := range steps {
		if err := run(s...); err != nil {
			p.Close()
			return nil, err
		}
	}
	// Offloads off: no GSO/GRO super-packets, checksums computed in software.
	if _, err := exec.LookPath("ethtool"); err == nil {
		run("ip", "netns", "exec", p.NSA, "ethtool", "-K", p.IfA, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off")
		run("ip", "netns", "exec", p.NSB, "ethtool", "-K", p.IfB, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off")
	}
	for _, s := range [][]string{
		{"ip", "-n", p.NSA, "link", "set", p.IfA, "up"},
		{"ip", "-n", p.NSB, "link", "set", p.IfB, "up"},
		{"ip", "-n", p.NSA, "link", "set", "lo", "up"},
		{"ip", "-n", p.NSB, "link", "set", "lo", "up"},
	} {
		if err := run(s...); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// SendRaw transmits frames as they are (link header included) on iface
// in namespace ns through an AF_PACKET socket, e.g. VLAN-tagged frames on
// a kernel without 802.1Q support.
func SendRaw(ns, iface string, frames [][]byte) error {
	return InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		for _, f := range frames {
			copy(sa.Addr[:], f[:6])
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				return fmt.Errorf("ringtest: send on %s: %w", iface, err)
			}
		}
		return nil
	})
}

// UDPFrame builds an Ethernet frame carrying an IPv4 UDP datagram from
// (srcMAC, src:sport) to (dstMAC, dst:dport) with payload, tagged with
// VLAN vlan when vlan >= 0.
func UDPFrame(srcMAC, dstMAC string, vlan int, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC(dstMAC)
	f := append([]byte{}, dmac...)
	f = append(f, smac...)
	if vlan >= 0 {
		f = append(f, 0x81, 0x00, byte(vlan>>8), byte(vlan))
	}
	f = append(f, 0x08, 0x00)
	ip := make([]byte, 28, 28+len(payload))
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(28+len(payload)))
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ipsum.Checksum(0, ip[:20]))
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], uint16(8+len(payload)))
	return append(append(f, ip...), payload...)
}

// Close deletes both namespaces and with them the veth pair.
func (p *Pair) Close() {
	run("ip", "netns", "del", p.NSA)
	run("ip", "netns", "del", p.NSB)
}

// Counters returns an interface's rx_packets and tx_packets as the kernel
// counts them inside namespace ns.
func Counters(ns, iface string) (rx, tx uint64, err error) {
	out, err := exec.Command("ip", "netns", "exec", ns, "cat",
		"/sys/class/net/"+iface+"/statistics/rx_packets",
		"/sys/class/net/"+iface+"/statistics/tx_packets").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ringtest: counters of %s in %s: %w", iface, ns, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("ringtest: counters of %s: unexpected %q", iface, out)
	}
	rx, err1 := strconv.ParseUint(f[0], 10, 64)
	tx, err2 := strconv.ParseUint(f[1], 10, 64)
	return rx, tx, errors.Join(err1, err2)
}

// InNS runs f on an OS thread switched into network namespace ns. Sockets
// f creates belong to ns and may be used afterwards from any goroutine. The
// thread is never switched back: it stays locked and exits with f's
// goroutine, so no other goroutine ever runs in ns by accident.
func InNS(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("ringtest: open namespace %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("ringtest: setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ringtest: %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Proc is a command StartInNS started in a namespace; its stderr is kept.
type Proc struct {
	Cmd   *exec.Cmd // Cmd.ProcessState holds its resource use once Stop returned
	lines chan string
	log   []string
}

// StartInNS starts args in namespace ns and returns once a line of the
// command's stderr contains ready ("listening on" for tcpdump). After 10 s
// without it, or when the command ends first, it kills it and fails.
func StartInNS(ns, ready string, args ...string) (*Proc, error) {
	p := &Proc{Cmd: exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...), lines: make(chan string, 64)}
	stderr, err := p.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				p.Cmd.Wait()
				return nil, fmt.Errorf("%s ended before saying %q: %s", args[0], ready, strings.Join(p.log, "\n"))
			}
			p.log = append(p.log, l)
			if strings.Contains(l, ready) {
				return p, nil
			}
		case <-timeout:
			p.Cmd.Process.Kill()
			p.Cmd.Wait()
			return nil, fmt.Errorf("%s did not say %q within 10 s: %s", args[0], ready, strings.Join(p.log, "\n"))
		}
	}
}

// Stop interrupts the command (SIGINT, as Ctrl-C), waits for it to end and
// returns all it wrote to stderr.
func (p *Proc) Stop() (string, error) {
	p.Cmd.Process.Signal(os.Interrupt)
	for l := range p.lines {
		p.log = append(p.log, l)
	}
	err := p.Cmd.Wait()
	return strings.Join(p.log, "\n"), err
}
