package netlab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// buildTruth assembles the ground truth of a finished run.
func buildTruth(s *Scenario, l *lab, plan addrPlan, target netip.AddrPort, an *analysis, ir *impairerResult, cres, sres []EndResult) Truth {
	t := Truth{
		Scenario: s.Name, Description: s.Description, Generator: "netlab",
		Created: time.Now().UTC().Format(time.RFC3339), Seed: s.Seed,
		ExpectedBlame: s.ExpectedBlame, PerFlowBlame: map[string]string{},
		Connections: len(s.Conns), Parameters: *s,
		Topology: Topology{
			Namespaces: l.namespaces(), Client: plan.client, Server: plan.server, ServerPort: serverPort,
			Target: target.String(), RouterClientSide: plan.routerC, RouterServerSide: plan.routerS,
			ClientPorts: fmt.Sprintf("%d + conn index", clientPort),
			Path:        "client --- [span: router " + ifRouterClient + "] router (impairer, NAT, bottleneck) --- [server capture: " + ifServer + "] server",
		},
		Clock: ClockTruth{OffsetNs: int64(s.ClockOffset), DriftPPM: s.DriftPPM,
			Meaning: "server.pcap time = true time + offset + drift_ppm*1e-6*(true time - t0), t0 = true time of server.pcap's first packet; span.pcap is unmodified"},
		ClockOffsetS: s.ClockOffset.Seconds(), DriftPPM: s.DriftPPM,
		NAT:   []NATMapping{},
		Drops: []Drop{}, ImpairerDrops: []Drop{},
		MeasuredDelay: an.delays, OneWayDelayMs: an.medianDelay,
		ImpairerStats: ir.Stats, NFQueue: ir.NFQueue,
		Client: plan.client, Server: plan.server,
		Warnings: []string{},
	}
	t.Warnings = append(t.Warnings, ir.Errors...)

	flows := make([]FlowTruth, len(s.Conns))
	spanC := netip.AddrPortFrom(netip.MustParseAddr(plan.client), 0)
	for i := range flows {
		f := &flows[i]
		f.Conn, f.Spec = i, s.Conns[i]
		f.Client = netip.AddrPortFrom(spanC.Addr(), uint16(clientPort+i)).String()
		f.Server = target.String()
		f.ServerSeesServer = netip.AddrPortFrom(netip.MustParseAddr(plan.server), serverPort).String()
	}
	for peer, c := range an.peers {
		flows[c].ServerSeesClient = peer.String()
	}
	// Packet counts are frames of the files, not wire segments.
	for _, tg := range an.span {
		if tg.conn >= 0 && tg.f.Piece == 0 {
			flows[tg.conn].SpanPackets++
		}
	}
	for _, tg := range an.server {
		if tg.conn >= 0 && tg.f.Piece == 0 {
			flows[tg.conn].ServerPackets++
		}
	}
	for _, d := range an.lost {
		t.Drops = append(t.Drops, d)
		if d.Dir == "c2s" {
			t.NetLostC2S++
		} else {
			t.NetLostS2C++
		}
		if d.Conn >= 0 {
			if d.Dir == "c2s" {
				flows[d.Conn].LostBetween.C2S++
			} else {
				flows[d.Conn].LostBetween.S2C++
			}
		}
		if d.Reason != "tbf" && d.Reason != "unexplained" {
			t.ImpairerDrops = append(t.ImpairerDrops, d)
		}
	}
	for _, d := range ir.Drops {
		if d.Conn >= 0 && d.Conn < len(flows) {
			if d.Dir == "c2s" {
				flows[d.Conn].ImpairerDrops.C2S++
			} else {
				flows[d.Conn].ImpairerDrops.S2C++
			}
		}
	}
	for _, idx := range an.spanDropTags {
		tg := an.span[idx]
		st := an.server[tg.match]
		d := Drop{Conn: tg.conn, Dir: "s2c", Where: "span-capture", Reason: "span-capture", Time: tg.f.TS,
			Src: st.f.Src.String(), Dst: st.f.Dst.String(), IPID: tg.f.IPID, Seq: tg.f.Seq, Ack: tg.f.Ack,
			Len: tg.f.PayLen, Flags: tg.f.Flags, FlagNames: flagNames(tg.f.Flags), TSVal: tg.f.TSVal,
			ServerFrame: st.f.Num, RelSeq: an.relSeq(&tg)}
		if tg.c2s {
			d.Dir = "c2s"
		}
		t.Drops = append(t.Drops, d)
		t.CaptureDrops++
		flows[tg.conn].CaptureDrops++
	}
	slices.SortStableFunc(t.Drops, func(a, b Drop) int { return cmpInt64(a.Time, b.Time) })
	for i := range flows {
		f := &flows[i]
		f.ReorderedBetween, f.RetransAfterReordering, f.DuplicatedBetween = an.reordered[i], an.afterReorder[i], an.duplicated[i]
		f.ExpectedBlame, f.Reason = flowReason(&f.Spec, f.LostBetween.C2S, f.LostBetween.S2C, f, s)
		t.PerFlowBlame[f.Client] = f.ExpectedBlame
		if s.NAT && f.ServerSeesClient != "" {
			t.NAT = append(t.NAT, NATMapping{Conn: i, SpanClient: f.Client, SpanServer: f.Server,
				ServerClient: f.ServerSeesClient, ServerServer: f.ServerSeesServer})
		}
	}
	for i := range cres {
		if id := cres[i].ID; id >= 0 && id < len(flows) {
			flows[id].ClientResult = &cres[i]
		}
	}
	for i := range sres {
		if id := sres[i].ID; id >= 0 && id < len(flows) {
			flows[id].ServerResult = &sres[i]
		}
	}
	t.Flows = flows
	return t
}

// checks evaluates the run's self-consistency and the scenario's intended
// effects on the raw captures.
func checks(s *Scenario, t *Truth, an *analysis, spanF, serverF []frame, ir *impairerResult) []Check {
	var cs []Check
	add := func(name string, ok bool, format string, args ...any) {
		cs = append(cs, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	add("span.packets>0", len(spanF) > 0, "%d", len(spanF))
	add("server.packets>0", len(serverF) > 0, "%d", len(serverF))
	add("kernel_drops==0", t.Captures["span"].KernelDrops == 0 && t.Captures["server"].KernelDrops == 0,
		"span %d, server %d", t.Captures["span"].KernelDrops, t.Captures["server"].KernelDrops)
	qd := 0
	for _, l := range ir.NFQueue {
		// queue peer total copy_mode copy_range queue_dropped user_dropped id_seq 1
		f := strings.Fields(l)
		if len(f) >= 7 {
			var a, b int
			fmt.Sscan(f[5], &a)
			fmt.Sscan(f[6], &b)
			qd += a + b
		}
	}
	add("nfqueue_kernel_drops==0", qd == 0 && len(ir.NFQueue) > 0, "%v", ir.NFQueue)
	add("drops_unverified==0", len(an.unverified) == 0, "%d impairer drop(s) not missing downstream", len(an.unverified))
	unexplained := 0
	tbfLost := 0
	for _, d := range an.lost {
		switch d.Reason {
		case "unexplained":
			unexplained++
		case "tbf":
			tbfLost++
		}
	}
	add("lost_unexplained==0", unexplained == 0, "%d packet(s) missing downstream that neither the impairer nor a bottleneck dropped", unexplained)
	add("extra_downstream==0", an.extra == 0, "%d packet(s) downstream without an upstream copy", an.extra)
	reorderChecks(add, s, t, an, ir)
	impC2S, impS2C := 0, 0
	for _, d := range ir.Drops {
		if d.Dir == "c2s" {
			impC2S++
		} else {
			impS2C++
		}
	}
	if s.C2S.RateKbit == 0 {
		add("net_lost_c2s==impairer_drops_c2s", t.NetLostC2S == impC2S, "%d vs %d", t.NetLostC2S, impC2S)
	}
	if s.S2C.RateKbit == 0 {
		add("net_lost_s2c==impairer_drops_s2c", t.NetLostS2C == impS2C, "%d vs %d", t.NetLostS2C, impS2C)
	}
	if s.C2S.RateKbit > 0 || s.S2C.RateKbit > 0 {
		add("tbf_lost==tc_dropped", tbfLost == t.TBFDrops, "lost at the bottleneck %d, tc says %d", tbfLost, t.TBFDrops)
		add("tbf_drops>0", t.TBFDrops > 0, "%d", t.TBFDrops)
	}
	if s.C2S.DropPct > 0 || len(s.C2S.DropNth) > 0 {
		add("net_lost_c2s>0", t.NetLostC2S > 0, "%d", t.NetLostC2S)
	}
	if s.S2C.DropPct > 0 || len(s.S2C.DropNth) > 0 {
		add("net_lost_s2c>0", t.NetLostS2C > 0, "%d", t.NetLostS2C)
	}
	if s.C2S.DropPct == 0 && len(s.C2S.DropNth) == 0 && len(s.C2S.DropSYNOfConns) == 0 && s.C2S.RateKbit == 0 {
		add("net_lost_c2s==0", t.NetLostC2S == 0, "%d", t.NetLostC2S)
	}
	if s.S2C.DropPct == 0 && len(s.S2C.DropNth) == 0 && s.S2C.RateKbit == 0 {
		add("net_lost_s2c==0", t.NetLostS2C == 0, "%d", t.NetLostS2C)
	}
	if n := len(s.C2S.DropSYNOfConns); n > 0 {
		syn := func(ts []tagged) int {
			c := 0
			for _, x := range ts {
				if x.conn >= 0 && x.c2s && x.f.Flags&0x12 == 0x02 {
					c++
				}
			}
			return c
		}
		add("span.syn==server.syn+dropped", syn(an.span) == syn(an.server)+n, "span %d, server %d, dropped %d", syn(an.span), syn(an.server), n)
	}
	for i, f := range t.Flows {
		add(fmt.Sprintf("conn%d_seen_at_both_points", i), f.SpanPackets > 0 && f.ServerPackets > 0, "span %d, server %d", f.SpanPackets, f.ServerPackets)
		if r := f.ClientResult; r != nil && r.Err != "" && !f.Spec.ClientRST {
			add(fmt.Sprintf("conn%d_client_ok", i), false, "%s", r.Err)
		}
	}
	zeroWin := func(ts []tagged, c2s bool) int {
		n := 0
		for _, x := range ts {
			if x.conn >= 0 && x.c2s == c2s && x.f.Win == 0 && x.f.Flags&0x04 == 0 && x.f.Flags&0x10 != 0 {
				n++
			}
		}
		return n
	}
	for _, c := range s.Conns {
		if c.ServerStallMs > 0 {
			n := zeroWin(an.server, false)
			add("server.zero_window>0", n > 0, "%d zero-window segments from the server", n)
			break
		}
	}
	for _, c := range s.Conns {
		if c.ClientStallMs > 0 {
			n := zeroWin(an.span, true)
			add("span.client_zero_window>0", n > 0, "%d zero-window segments from the client", n)
			break
		}
	}
	for _, c := range s.Conns {
		if c.ClientRST {
			n := 0
			for _, x := range an.span {
				if x.conn >= 0 && x.c2s && x.f.Flags&0x04 != 0 {
					n++
				}
			}
			add("span.client_rst>0", n > 0, "%d RST segments from the client", n)
			break
		}
	}
	if s.NAT {
		changed := len(t.NAT) == len(s.Conns)
		for _, m := range t.NAT {
			if m.SpanClient == m.ServerClient || m.SpanServer == m.ServerServer {
				changed = false
			}
		}
		add("nat_changes_tuples", changed, "%d mapping(s)", len(t.NAT))
	}
	if s.IPv6 {
		v6 := 0
		for _, x := range an.span {
			if x.conn >= 0 && x.f.V6 {
				v6++
			}
		}
		add("span.ipv6_tcp>0", v6 > 0, "%d", v6)
	}
	if s.Snaplen > 0 {
		over, cut := 0, 0
		for _, fs := range [][]frame{spanF, serverF} {
			for _, f := range fs {
				if len(f.Data) > s.Snaplen {
					over++
				}
				if len(f.Data) < f.OrigLen {
					cut++
				}
			}
		}
		add("snaplen_applied", over == 0 && cut > 0, "%d frame(s) over snaplen, %d cut", over, cut)
	}
	if s.SpanDropPct > 0 {
		add("capture_drops>0", t.CaptureDrops > 0, "%d", t.CaptureDrops)
	}
	// Offloads are off unless the scenario leaves them on; on, the
	// server's TSO and GRO make super-segments for any bulk transfer.
	if s.ServerOffloads {
		add("server.offload", t.Offload["server"], "super-segments in server.pcap: %v", t.Offload["server"])
	} else {
		add("server.no_offload", !t.Offload["server"], "super-segments in server.pcap: %v", t.Offload["server"])
	}
	if !s.ClientOffloads {
		add("span.no_offload", !t.Offload["span"], "super-segments in span.pcap: %v", t.Offload["span"])
	}
	// The copies span.pcap holds are those of the connections' frames.
	dups := 0
	for _, f := range t.Flows {
		dups += f.SpanDuplicates
	}
	sd := t.CaptureDuplicates["span"]
	add("capture_duplicates_consistent", sd == dups && (sd > 0) == s.SpanDuplicates && 2*sd <= t.Captures["span"].Packets && t.CaptureDuplicates["server"] == 0,
		"span %d (flows %d, of %d frames), server %d", sd, dups, t.Captures["span"].Packets, t.CaptureDuplicates["server"])
	for _, d := range []struct {
		name string
		imp  Impairment
	}{{"c2s", s.C2S}, {"s2c", s.S2C}} {
		if d.imp.DelayMs > 0 {
			m := an.delays[d.name]
			add("one_way_delay_"+d.name+">=delay_ms", m.Packets > 0 && m.Min >= float64(d.imp.DelayMs),
				"min %.3f ms over %d packets, configured %d ms", m.Min, m.Packets, d.imp.DelayMs)
		}
	}
	hasBlame := false
	for _, f := range t.Flows {
		if f.ExpectedBlame == s.ExpectedBlame {
			hasBlame = true
		}
	}
	add("a_flow_carries_the_overall_blame", hasBlame, "overall %s", s.ExpectedBlame)
	return cs
}

// reorderChecks checks reordering and duplication between the points
// against what the impairer did: every reordered segment was one it held
// back, and every second copy downstream one it sent.
func reorderChecks(add func(string, bool, string, ...any), s *Scenario, t *Truth, an *analysis, ir *impairerResult) {
	held := map[pktKey]bool{}
	for _, d := range ir.Holds {
		held[pktKey{conn: d.Conn, c2s: d.Dir == "c2s", seq: d.Seq, ack: d.Ack, flags: d.Flags, len: d.Len, ipid: d.IPID, tsval: d.TSVal}] = true
	}
	unheld := 0
	for _, k := range an.reorderedKeys {
		if !held[k] {
			unheld++
		}
	}
	n := len(an.reorderedKeys)
	add("reordered_were_held", unheld == 0, "%d of %d reordered segment(s) not held by the impairer", unheld, n)
	if s.C2S.holds() || s.S2C.holds() {
		add("reordered>0", n > 0, "%d reordered of %d held", n, len(ir.Holds))
	}
	dups := 0
	for _, f := range t.Flows {
		dups += f.DuplicatedBetween.C2S + f.DuplicatedBetween.S2C
	}
	add("duplicated==impairer_dups", dups == len(ir.Dups), "%d second copies downstream, the impairer sent %d", dups, len(ir.Dups))
	if s.C2S.dups() || s.S2C.dups() {
		add("duplicated>0", dups > 0, "%d", dups)
	}
}
