package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Interface names inside the lab's own namespaces (so they cannot collide
// with anything outside them).
const (
	ifClient       = "nlc0" // client's only interface
	ifRouterClient = "nlrc" // router, client-facing (the span capture point)
	ifRouterServer = "nlrs" // router, server-facing
	ifServer       = "nls0" // server's only interface (the server capture point)

	serverPort = 5201
	natPort    = 80 // the port the client dials when the router NATs
	clientPort = 40000
)

// Addresses, all private and only ever configured inside the lab's namespaces.
var (
	v4 = addrPlan{client: "10.201.1.2", routerC: "10.201.1.1", routerS: "10.201.2.1", server: "10.201.2.2", bits: 24}
	v6 = addrPlan{client: "fd00:201:1::2", routerC: "fd00:201:1::1", routerS: "fd00:201:2::1", server: "fd00:201:2::2", bits: 64}
)

type addrPlan struct {
	client, routerC, routerS, server string
	bits                             int
}

// tools the lab needs on PATH.
var tools = []string{"ip", "tcpdump", "iptables", "ethtool", "tc", "sysctl"}

var (
	availOnce sync.Once
	availErr  error
	runSeq    atomic.Int64
)

// ErrNotRoot is returned (wrapped) by Available and Run when the process
// cannot create network namespaces.
var ErrNotRoot = errors.New("netlab needs root (network namespaces, veth, iptables, tcpdump)")

// Available reports why the lab cannot run here, or nil when it can:
// root, the tools on PATH, and a namespace with a veth pair actually
// created and removed. Callers skip their tests on a non-nil error.
func Available() error {
	availOnce.Do(func() { availErr = probe() })
	return availErr
}

func probe() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("netlab: %s not found on PATH", t)
		}
	}
	sweepStale()
	ns := fmt.Sprintf("nl%d-probe", os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("netlab: cannot create a network namespace: %w", err)
	}
	defer run(context.Background(), "ip", "netns", "del", ns)
	if err := run(ctx, "ip", "-n", ns, "link", "add", "nlpa", "type", "veth", "peer", "name", "nlpb"); err != nil {
		return fmt.Errorf("netlab: cannot create a veth pair: %w", err)
	}
	return nil
}

// run runs a command and returns its output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// staleNS matches the lab's namespace names: nl<pid>-<n><role>.
var staleNS = regexp.MustCompile(`^nl(\d+)-(\d+|probe)[crs]?$`)

// sweepStale deletes lab namespaces left by processes that no longer
// exist (a run killed before its cleanup).
func sweepStale() {
	out, err := output(context.Background(), "ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := staleNS.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its owner is alive
		}
		// Programs of the dead run may still hold the namespace: end them
		// (by pid; they are all ours), then delete it.
		if pids, err := output(context.Background(), "ip", "netns", "pids", f[0]); err == nil {
			for _, p := range strings.Fields(pids) {
				if n, err := strconv.Atoi(p); err == nil && n > 1 {
					_ = syscall.Kill(n, syscall.SIGKILL)
				}
			}
		}
		_ = run(context.Background(), "ip", "netns", "del", f[0])
	}
}

// lab is one three-namespace topology.
type lab struct {
	id                     string
	client, router, server string // namespace names
}

func newLab() *lab {
	id := fmt.Sprintf("nl%d-%d", os.Getpid(), runSeq.Add(1))
	return &lab{id: id, client: id + "c", router: id + "r", server: id + "s"}
}

// namespaces lists the lab's namespace names.
func (l *lab) namespaces() []string { return []string{l.client, l.router, l.server} }

// destroy deletes the namespaces (and with them the veths and rules).
func (l *lab) destroy() {
	for _, ns := range l.namespaces() {
		_ = run(context.Background(), "ip", "netns", "del", ns)
	}
}

// nsRun runs a command inside namespace ns.
func nsRun(ctx context.Context, ns string, args ...string) error {
	return run(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// build creates the namespaces, links, addresses, routes and offload
// settings. On error the caller still calls destroy.
func (l *lab) build(ctx context.Context, s *Scenario) error {
	for _, ns := range l.namespaces() {
		if err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
		// Without IPv6 the captures carry no ICMPv6 chatter.
		v6off := "1"
		if s.IPv6 {
			v6off = "0"
		}
		sysctls := []string{"net.ipv6.conf.all.disable_ipv6=" + v6off, "net.ipv6.conf.default.disable_ipv6=" + v6off}
		if s.IPv6 {
			// No duplicate address detection, not even for link-local
			// addresses: while those are tentative the router cannot send
			// neighbour solicitations and the first SYNs wait ~1 s.
			sysctls = append(sysctls, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		}
		for _, k := range sysctls {
			if err := nsRun(ctx, ns, "sysctl", "-q", "-w", k); err != nil {
				return err
			}
		}
		if err := run(ctx, "ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	steps := [][]string{
		{"ip", "link", "add", ifClient, "netns", l.client, "type", "veth", "peer", "name", ifRouterClient, "netns", l.router},
		{"ip", "link", "add", ifServer, "netns", l.server, "type", "veth", "peer", "name", ifRouterServer, "netns", l.router},
	}
	for _, st := range steps {
		if err := run(ctx, st[0], st[1:]...); err != nil {
			return err
		}
	}
	type end struct{ ns, dev string }
	ends := []end{{l.client, ifClient}, {l.router, ifRouterClient}, {l.router, ifRouterServer}, {l.server, ifServer}}
	for _, e := range ends {
		// Offloads off: the captures then show packets as they are on a
		// wire (no 64 KB super-segments) with real checksums.
		if err := nsRun(ctx, e.ns, "ethtool", "-K", e.dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"); err != nil {
			return err
		}
	}
	addr := func(ns, dev, a string, bits int, v6 bool) error {
		args := []string{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", a, bits), "dev", dev}
		if v6 {
			args = append(args, "nodad") // usable at once, no 1-2 s DAD wait
		}
		return run(ctx, "ip", args...)
	}
	plans := []struct {
		p  addrPlan
		v6 bool
	}{{v4, false}}
	if s.IPv6 {
		plans = append(plans, struct {
			p  addrPlan
			v6 bool
		}{v6, true})
	}
	for _, pl := range plans {
		p := pl.p
		for _, st := range []struct{ ns, dev, a string }{
			{l.client, ifClient, p.client}, {l.router, ifRouterClient, p.routerC},
			{l.router, ifRouterServer, p.routerS}, {l.server, ifServer, p.server},
		} {
			if err := addr(st.ns, st.dev, st.a, p.bits, pl.v6); err != nil {
				return err
			}
		}
	}
	for _, e := range ends {
		if err := run(ctx, "ip", "-n", e.ns, "link", "set", e.dev, "up"); err != nil {
			return err
		}
	}
	for _, pl := range plans {
		fam := "-4"
		if pl.v6 {
			fam = "-6"
		}
		if err := run(ctx, "ip", fam, "-n", l.client, "route", "add", "default", "via", pl.p.routerC); err != nil {
			return err
		}
		if err := run(ctx, "ip", fam, "-n", l.server, "route", "add", "default", "via", pl.p.routerS); err != nil {
			return err
		}
	}
	fw := []string{"net.ipv4.ip_forward=1"}
	if s.IPv6 {
		fw = append(fw, "net.ipv6.conf.all.forwarding=1")
	}
	for _, k := range fw {
		if err := nsRun(ctx, l.router, "sysctl", "-q", "-w", k); err != nil {
			return err
		}
	}
	return l.bottlenecks(ctx, s)
}

// bottlenecks installs the TBF qdiscs: c2s on the server-facing egress,
// s2c on the client-facing egress (before the span capture, which sees
// what leaves the qdisc).
func (l *lab) bottlenecks(ctx context.Context, s *Scenario) error {
	for _, b := range []struct {
		imp Impairment
		dev string
	}{{s.C2S, ifRouterServer}, {s.S2C, ifRouterClient}} {
		if b.imp.RateKbit <= 0 {
			continue
		}
		q := b.imp.QueueMs
		if q <= 0 {
			q = 20
		}
		// Burst: a few MTU-sized packets, at least rate/HZ-ish so TBF can
		// reach its rate with coarse timers.
		burst := max(b.imp.RateKbit*1000/8/250, 4*1514)
		if err := run(ctx, "ip", "netns", "exec", l.router, "tc", "qdisc", "add", "dev", b.dev, "root", "tbf",
			"rate", fmt.Sprintf("%dkbit", b.imp.RateKbit), "burst", strconv.Itoa(burst), "latency", fmt.Sprintf("%dms", q)); err != nil {
			return err
		}
	}
	return nil
}

// tbfDrops reads the drop counters of the router's qdiscs.
func (l *lab) tbfDrops(ctx context.Context) int {
	total := 0
	for _, dev := range []string{ifRouterClient, ifRouterServer} {
		out, err := output(ctx, "ip", "netns", "exec", l.router, "tc", "-s", "qdisc", "show", "dev", dev)
		if err != nil {
			continue
		}
		if !strings.Contains(out, "tbf") {
			continue
		}
		// "Sent 123 bytes 4 pkt (dropped 5, overlimits 6 requeues 0)"
		if i := strings.Index(out, "dropped "); i >= 0 {
			rest := out[i+len("dropped "):]
			if j := strings.IndexAny(rest, ", )"); j > 0 {
				n, _ := strconv.Atoi(rest[:j])
				total += n
			}
		}
	}
	return total
}
