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
	// maxConns keeps client ports below 65536 and out of the kernel's
	// default ephemeral range's top.
	maxConns = 20000
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

// script is a list of commands run by one shell inside one namespace:
// one `ip netns exec` (which remounts /sys, the slow part) per namespace
// instead of one per command.
type script [][]string

func (sc *script) add(args ...string) { *sc = append(*sc, args) }

// run executes the script in ns, stopping at the first failing command.
func (sc script) run(ctx context.Context, ns string) error {
	var b strings.Builder
	for _, c := range sc {
		for i, a := range c {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
		b.WriteByte('\n')
	}
	return nsRun(ctx, ns, "sh", "-ec", b.String())
}

// build creates the namespaces, links, addresses, routes, offload
// settings, bottlenecks and the router's firewall rules. On error the
// caller still calls destroy.
func (l *lab) build(ctx context.Context, s *Scenario) error {
	// Namespaces and both veth pairs in one ip batch.
	if err := raiseBacklog(labBacklog); err != nil {
		return err
	}
	batch := strings.Join([]string{
		"netns add " + l.client, "netns add " + l.router, "netns add " + l.server,
		fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s", ifClient, l.client, ifRouterClient, l.router),
		fmt.Sprintf("link add %s netns %s type veth peer name %s netns %s", ifServer, l.server, ifRouterServer, l.router),
	}, "\n")
	cmd := exec.CommandContext(ctx, "ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(batch + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -batch: %w: %s", err, strings.TrimSpace(string(out)))
	}

	plan := v4
	if s.IPv6 {
		plan = v6
	}
	scripts := map[string]*script{l.client: {}, l.router: {}, l.server: {}}
	for _, ns := range l.namespaces() {
		sc := scripts[ns]
		// Without IPv6 the captures carry no ICMPv6 chatter.
		v6off := "1"
		if s.IPv6 {
			v6off = "0"
		}
		sc.add("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6="+v6off, "net.ipv6.conf.default.disable_ipv6="+v6off)
		if s.IPv6 {
			// No duplicate address detection, not even for link-local
			// addresses: while those are tentative the router cannot send
			// neighbour solicitations and the first SYNs wait ~1 s.
			sc.add("sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
		}
		sc.add("ip", "link", "set", "lo", "up")
	}
	// Room for every connection a scenario opens at once: a full SYN
	// queue would answer with SYN cookies and a full accept queue drop
	// handshakes, neither of which the truth describes.
	scripts[l.server].add("sysctl", "-q", "-w", "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535")
	type end struct {
		ns, dev, v4, v6 string
	}
	ends := []end{
		{l.client, ifClient, v4.client, v6.client}, {l.router, ifRouterClient, v4.routerC, v6.routerC},
		{l.router, ifRouterServer, v4.routerS, v6.routerS}, {l.server, ifServer, v4.server, v6.server},
	}
	for _, e := range ends {
		sc := scripts[e.ns]
		// The veths exist already, so the namespace defaults above do
		// not reach them: set them per interface too.
		if s.IPv6 {
			sc.add("sysctl", "-q", "-w", "net.ipv6.conf."+e.dev+".accept_dad=0")
		} else {
			sc.add("sysctl", "-q", "-w", "net.ipv6.conf."+e.dev+".disable_ipv6=1")
		}
		// Offloads off: the captures then show packets as they are on a
		// wire (no 64 KB super-segments) with real checksums.
		// A scenario can leave them on at an endpoint, as real hosts run.
		offload := "off"
		if (e.dev == ifServer && s.ServerOffloads) || (e.dev == ifClient && s.ClientOffloads) {
			offload = "on"
		}
		sc.add("ethtool", "-K", e.dev, "tso", offload, "gso", offload, "gro", offload, "tx", offload, "rx", offload)
		if offload == "on" {
			// A veth polls once per packet the router forwards, so GRO
			// would never see two at once; a flush timeout holds them
			// across polls as a NIC's interrupt coalescing does.
			sc.add("sh", "-c", "echo 200000 > /sys/class/net/"+e.dev+"/gro_flush_timeout; echo 2 > /sys/class/net/"+e.dev+"/napi_defer_hard_irqs")
		}
		sc.add("ip", "addr", "add", fmt.Sprintf("%s/%d", e.v4, v4.bits), "dev", e.dev)
		if s.IPv6 {
			sc.add("ip", "addr", "add", fmt.Sprintf("%s/%d", e.v6, v6.bits), "dev", e.dev, "nodad")
		}
		sc.add("ip", "link", "set", e.dev, "up")
	}
	r := scripts[l.router]
	r.add("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	if s.IPv6 {
		r.add("sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1")
	}
	l.bottlenecks(r, s)
	routerRules(r, s, plan)
	for _, side := range []struct {
		ns string
		gw func(addrPlan) string
	}{{l.client, func(p addrPlan) string { return p.routerC }}, {l.server, func(p addrPlan) string { return p.routerS }}} {
		sc := scripts[side.ns]
		sc.add("ip", "-4", "route", "add", "default", "via", side.gw(v4))
		if s.IPv6 {
			sc.add("ip", "-6", "route", "add", "default", "via", side.gw(v6))
		}
	}
	// The router first: its ends must be up before the others route via it.
	for _, ns := range []string{l.router, l.client, l.server} {
		if err := scripts[ns].run(ctx, ns); err != nil {
			return err
		}
	}
	return nil
}

// bottlenecks adds the TBF qdiscs: c2s on the server-facing egress, s2c on
// the client-facing egress (before the span capture, which sees what
// leaves the qdisc).
func (l *lab) bottlenecks(sc *script, s *Scenario) {
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
		sc.add("tc", "qdisc", "add", "dev", b.dev, "root", "tbf",
			"rate", fmt.Sprintf("%dkbit", b.imp.RateKbit), "burst", strconv.Itoa(burst), "latency", fmt.Sprintf("%dms", q))
	}
}

// tbfDropped sums the drop counters of the tbf qdiscs in `tc -s qdisc`
// output ("qdisc tbf ... Sent N bytes M pkt (dropped D, overlimits ...)").
func tbfDropped(out string) int {
	total := 0
	for _, blk := range strings.Split(out, "qdisc ")[1:] {
		if !strings.HasPrefix(blk, "tbf") {
			continue
		}
		if i := strings.Index(blk, "dropped "); i >= 0 {
			rest := blk[i+len("dropped "):]
			if j := strings.IndexAny(rest, ", )"); j > 0 {
				n, _ := strconv.Atoi(rest[:j])
				total += n
			}
		}
	}
	return total
}

// labBacklog is the per-CPU input queue a lab needs. A veth delivers
// through the receiving CPU's backlog (net.core.netdev_max_backlog,
// machine-wide, default 1000); 20,000 connections opened in seven seconds
// on a machine busy with other tests overflowed it (softnet_stat counted
// thousands of drops), losing packets no impairer chose and failing the
// truth's checks.
const labBacklog = 65536

// raiseBacklog raises net.core.netdev_max_backlog to at least n. It is left
// raised: labs run concurrently, and a larger queue harms nothing.
func raiseBacklog(n int) error {
	const path = "/proc/sys/net/core/netdev_max_backlog"
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("netlab: %w", err)
	}
	if cur, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && cur >= n {
		return nil
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644); err != nil {
		return fmt.Errorf("netlab: raising netdev_max_backlog: %w", err)
	}
	return nil
}
