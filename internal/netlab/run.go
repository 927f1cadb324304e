package netlab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Result is one finished run: the two capture files and the ground truth.
type Result struct {
	Dir        string
	SpanPcap   string // capture on the router's client-facing interface (after span-capture drops)
	ServerPcap string // capture on the server's interface (clock-shifted if asked)
	TruthPath  string
	Truth      Truth
}

// Run builds the lab, runs scenario s, and writes span.pcap, server.pcap
// and truth.json into dir (created if needed; raw captures and the role
// programs' reports are left beside them). The namespaces are always torn
// down before Run returns. A run whose truth fails its own checks still
// returns the Result, with an error naming the failed checks.
func Run(ctx context.Context, dir string, s Scenario) (*Result, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if err := validate(&s); err != nil {
		return nil, err
	}
	unlock, err := lockLab(ctx, filepath.Join(os.TempDir(), "netlab.lock"), s.heavy())
	if err != nil {
		return nil, err
	}
	defer unlock()
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	exe, exeNote, err := roleExecutable()
	if err != nil {
		return nil, err
	}
	l := newLab()
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.kill()
		}
		l.destroy()
	}()
	if err := l.build(ctx, &s); err != nil {
		return nil, fmt.Errorf("netlab: building the topology: %w", err)
	}
	plan := v4
	if s.IPv6 {
		plan = v6
	}

	// Captures first, confirmed listening, so they see every packet.
	// --immediate-mode: without it packets still in an unretired
	// TPACKET_V3 block are lost when tcpdump is interrupted.
	snap := s.Snaplen
	if snap <= 0 {
		snap = 262144
	}
	rawSpan, rawServer := filepath.Join(dir, "raw-span.pcap"), filepath.Join(dir, "raw-server.pcap")
	var mu sync.Mutex // procs is appended to from two goroutines
	track := func(p *proc) {
		if p != nil {
			mu.Lock()
			procs = append(procs, p)
			mu.Unlock()
		}
	}
	tcpdump := func(ns, dev, file string) (*proc, error) {
		// Ahead of the tests around them, with a 64 MiB kernel buffer, so
		// the captures keep up: with 8 MiB a full test run made them drop
		// 9,682 and 17,050 packets of many-connections.
		p, err := startInNS(ctx, "tcpdump "+dev, ns, nil, "listening on",
			"nice", "-n", "-10", "tcpdump", "-Z", "root", "-i", dev, "-U", "--immediate-mode", "-n", "-s", strconv.Itoa(snap), "-B", "65536",
			"--time-stamp-precision=nano", "-w", file)
		track(p)
		return p, err
	}
	var spanCap, serverCap *proc
	if err := both(
		func() (err error) { spanCap, err = tcpdump(l.router, ifRouterClient, rawSpan); return err },
		func() (err error) { serverCap, err = tcpdump(l.server, ifServer, rawServer); return err },
	); err != nil {
		return nil, err
	}

	target := netip.AddrPortFrom(netip.MustParseAddr(plan.server), serverPort)
	if s.NAT {
		target = netip.AddrPortFrom(netip.MustParseAddr(plan.routerC), natPort)
	}
	cfgs := map[string]roleConfig{
		"impairer": {Scenario: s, Out: filepath.Join(dir, "impairer.json"), ClientAddrs: []string{v4.client, v6.client}},
		"server":   {Scenario: s, Out: filepath.Join(dir, "server.json"), Listen: net.JoinHostPort("", strconv.Itoa(serverPort))},
		"client":   {Scenario: s, Out: filepath.Join(dir, "client.json"), Target: target.String(), LocalAddr: plan.client},
	}
	role := func(name, ns string) (*proc, error) {
		cfgPath := filepath.Join(dir, name+"-config.json")
		if err := writeJSON(cfgPath, cfgs[name]); err != nil {
			return nil, err
		}
		// The lab's programs run ahead of the tests around them. On a
		// machine busy with other tests, a starved impairer queued the
		// router's packets by 65-95 ms and a starved server answered 100-550
		// ms late (many-connections, 2,000 to 8,000 connections): blame
		// rightly called that network or server, where the truth, knowing
		// only what the scenario asks, expects neither.
		p, err := startInNS(ctx, name, ns, []string{envRole + "=" + name, envConfig + "=" + cfgPath}, "ready", "nice", "-n", "-15", exe)
		track(p)
		return p, err
	}
	var impairer, server *proc
	if err := both(
		func() (err error) { impairer, err = role("impairer", l.router); return err },
		func() (err error) { server, err = role("server", l.server); return err },
	); err != nil {
		return nil, err
	}
	client, err := role("client", l.client)
	if err != nil {
		return nil, err
	}
	var warnings []string
	if exeNote != "" {
		warnings = append(warnings, exeNote)
	}
	if exeNote != "" {
		warnings = append(warnings, exeNote)
	}
	select {
	case <-client.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("netlab: client still running after 60 s: %s", client.output())
	}
	if client.err != nil {
		return nil, fmt.Errorf("netlab: client failed (%v): %s", client.err, client.output())
	}
	if !server.wait(5 * time.Second) {
		warnings = append(warnings, "server did not finish on its own; stopped")
		server.stop(syscall.SIGTERM, 2*time.Second)
	}
	// Let the last ACKs cross the delaying router, then take the impairer
	// out of the path before stopping it, so no packet meets an unbound
	// queue; read the bottleneck's counters in the same visit.
	time.Sleep(time.Duration(2*max(s.C2S.DelayMs, s.S2C.DelayMs)+200) * time.Millisecond)
	tbf := l.unhookImpairer(ctx, &s)
	impairer.stop(syscall.SIGTERM, 5*time.Second)
	spanCap.stop(syscall.SIGINT, 5*time.Second)
	serverCap.stop(syscall.SIGINT, 5*time.Second)
	if impairer.err != nil {
		return nil, fmt.Errorf("netlab: impairer failed (%v): %s", impairer.err, impairer.output())
	}

	var ir impairerResult
	if err := readJSON(cfgs["impairer"].Out, &ir); err != nil {
		return nil, fmt.Errorf("netlab: impairer report: %w", err)
	}
	var cres, sres []EndResult
	if err := readJSON(cfgs["client"].Out, &cres); err != nil {
		return nil, fmt.Errorf("netlab: client report: %w", err)
	}
	if err := readJSON(cfgs["server"].Out, &sres); err != nil {
		warnings = append(warnings, "server report: "+err.Error())
	}
	spanF, link, _, err := readFrames(rawSpan)
	if err != nil {
		return nil, err
	}
	serverF, slink, _, err := readFrames(rawServer)
	if err != nil {
		return nil, err
	}
	if len(spanF) == 0 || len(serverF) == 0 {
		return nil, fmt.Errorf("netlab: empty capture (span %d packets, server %d)", len(spanF), len(serverF))
	}

	addrs := labAddrs{client: netip.MustParseAddr(plan.client), server: netip.MustParseAddr(plan.server)}
	// The truth is in wire segments, as the impairer decided them.
	an := analyze(&s, addrs, wireSegments(spanF), wireSegments(serverF), &ir)

	res := &Result{Dir: dir, SpanPcap: filepath.Join(dir, "span.pcap"), ServerPcap: filepath.Join(dir, "server.pcap"),
		TruthPath: filepath.Join(dir, "truth.json")}
	// span.pcap: the raw capture minus the span-capture drops.
	kept := make([]frame, 0, len(spanF))
	for i := range spanF {
		if an.finalSpanFrame(i) > 0 {
			kept = append(kept, spanF[i])
		}
	}
	if s.SpanDuplicates {
		two := make([]frame, 0, 2*len(kept))
		for _, f := range kept {
			c := f
			c.TS += 20e3
			two = append(two, f, c)
		}
		kept = two
		for i := range an.lost {
			if n := an.lost[i].SpanFrame; n > 0 {
				an.lost[i].SpanFrame = 2*n - 1 // the original of the two
			}
		}
	}
	if err := writeFrames(res.SpanPcap, link, s.Snaplen, kept, func(f *frame) int64 { return f.TS }); err != nil {
		return nil, err
	}
	// server.pcap: the raw capture on a shifted, drifting clock.
	t0 := serverF[0].TS
	shift := func(f *frame) int64 { return shiftTime(f.TS, t0, s.ClockOffset, s.DriftPPM) }
	if err := writeFrames(res.ServerPcap, slink, s.Snaplen, serverF, shift); err != nil {
		return nil, err
	}

	t := buildTruth(&s, l, plan, target, an, &ir, cres, sres)
	t.CaptureDuplicates = map[string]int{"span": 0, "server": 0}
	t.Offload = map[string]bool{"span": hasSuperSegments(spanF), "server": hasSuperSegments(serverF)}
	if s.SpanDuplicates {
		// One copy of every frame kept in span.pcap (not of a
		// super-segment's pieces, nor of span-capture drops).
		for _, tg := range an.span {
			if tg.conn >= 0 && tg.f.Piece == 0 && an.finalSpanFrame(tg.f.Num-1) > 0 {
				t.Flows[tg.conn].SpanDuplicates++
				t.CaptureDuplicates["span"]++
			}
		}
	}
	t.TBFDrops = tbf
	t.Clock.T0Ns = t0
	t.Captures = map[string]CaptureInfo{
		"span": {File: "span.pcap", Namespace: "router", Interface: ifRouterClient, Packets: len(kept), Snaplen: s.Snaplen,
			KernelDrops: kernelDrops(spanCap.output()),
			Where:       "router's client-facing interface, upstream of every impairment c2s and downstream s2c (a SPAN near the client)"},
		"server": {File: "server.pcap", Namespace: "server", Interface: ifServer, Packets: len(serverF), Snaplen: s.Snaplen,
			KernelDrops: kernelDrops(serverCap.output()), Where: "server's own interface"},
	}
	t.Warnings = append(t.Warnings, warnings...)
	t.Checks = checks(&s, &t, an, spanF, serverF, &ir)
	t.WallSeconds = time.Since(start).Seconds()
	res.Truth = t
	if err := t.WriteFile(res.TruthPath); err != nil {
		return nil, err
	}
	if failed := t.FailedChecks(); len(failed) > 0 {
		return res, fmt.Errorf("netlab: scenario %s: truth checks failed: %s", s.Name, strings.Join(failed, "; "))
	}
	return res, nil
}

// shiftTime applies the server clock model: t' = t + offset + drift_ppm*1e-6*(t - t0).
func shiftTime(t, t0 int64, offset time.Duration, ppm float64) int64 {
	return t + int64(offset) + int64(math.Round(ppm*1e-6*float64(t-t0)))
}

func validate(s *Scenario) error {
	switch {
	case s.Name == "":
		return errors.New("netlab: scenario needs a name")
	case len(s.Conns) == 0:
		return errors.New("netlab: scenario has no connections")
	case len(s.Conns) > maxConns:
		return fmt.Errorf("netlab: at most %d connections (client ports %d and up)", maxConns, clientPort)
	case s.NAT && s.IPv6:
		return errors.New("netlab: NAT is IPv4 only")
	case s.Snaplen != 0 && s.Snaplen < 96:
		return errors.New("netlab: snaplen below 96 would cut TCP headers")
	case (s.C2S.dups() || s.S2C.dups()) && (s.IPv6 || s.NAT || s.ServerOffloads || s.ClientOffloads):
		// The copy is sent before SNAT and must be a wire-sized IPv4 packet.
		return errors.New("netlab: duplication is IPv4 only, without NAT or offloads")
	}
	for i, c := range s.Conns {
		switch c.Mode {
		case "bulk", "upload", "rr":
		default:
			return fmt.Errorf("netlab: conn %d: unknown mode %q", i, c.Mode)
		}
	}
	return nil
}

var droppedByKernel = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// kernelDrops parses tcpdump's closing statistics.
func kernelDrops(out string) int {
	if m := droppedByKernel.FindStringSubmatch(out); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1 // unknown
}

// routerRules adds the impairer's NFQUEUE hooks and the NAT rules, in
// chains of their own.
func routerRules(sc *script, s *Scenario, plan addrPlan) {
	ipt := []string{"iptables"}
	if s.IPv6 {
		ipt = append(ipt, "ip6tables")
	}
	for _, t := range ipt {
		sc.add(t, "-w", "-N", "nlimpair")
		// A direction the impairer leaves alone bypasses it: user space
		// is the slowest part of the path.
		if s.C2S.queued() {
			sc.add(t, "-w", "-A", "nlimpair", "-i", ifRouterClient, "-o", ifRouterServer, "-p", "tcp", "-j", "NFQUEUE", "--queue-num", strconv.Itoa(queueC2S))
		}
		if s.S2C.queued() {
			sc.add(t, "-w", "-A", "nlimpair", "-i", ifRouterServer, "-o", ifRouterClient, "-p", "tcp", "-j", "NFQUEUE", "--queue-num", strconv.Itoa(queueS2C))
		}
		sc.add(t, "-w", "-A", "FORWARD", "-j", "nlimpair")
	}
	if !s.NAT {
		return
	}
	sc.add("iptables", "-w", "-t", "nat", "-N", "nldnat")
	sc.add("iptables", "-w", "-t", "nat", "-A", "nldnat", "-i", ifRouterClient, "-p", "tcp", "-d", plan.routerC, "--dport", strconv.Itoa(natPort),
		"-j", "DNAT", "--to-destination", net.JoinHostPort(plan.server, strconv.Itoa(serverPort)))
	sc.add("iptables", "-w", "-t", "nat", "-A", "PREROUTING", "-j", "nldnat")
	sc.add("iptables", "-w", "-t", "nat", "-N", "nlsnat")
	sc.add("iptables", "-w", "-t", "nat", "-A", "nlsnat", "-o", ifRouterServer, "-p", "tcp", "-j", "SNAT", "--to-source", plan.routerS+":20000-29999")
	sc.add("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-j", "nlsnat")
}

// unhookImpairer removes the FORWARD jump to the impairer's chain and
// returns the TBF qdiscs' drop counters (-1 if unreadable).
func (l *lab) unhookImpairer(ctx context.Context, s *Scenario) int {
	sh := "iptables -w -D FORWARD -j nlimpair\n"
	if s.IPv6 {
		sh += "ip6tables -w -D FORWARD -j nlimpair\n"
	}
	sh += "tc -s qdisc show dev " + ifRouterClient + "\ntc -s qdisc show dev " + ifRouterServer + "\n"
	out, err := output(ctx, "ip", "netns", "exec", l.router, "sh", "-ec", sh)
	if err != nil {
		return -1
	}
	return tbfDropped(out)
}

// both runs f and g concurrently (starting two programs and waiting for
// them to be ready) and returns the first error.
func both(f, g func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- g() }()
	err := f()
	if err2 := <-ch; err == nil {
		err = err2
	}
	return err
}
