package netlab

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
)

// This file recovers the ground truth from the two raw captures: which
// packet of which connection went which way, which packets passed the
// upstream point and never reached the downstream one, how long the path
// between the points took, and how NAT rewrote the tuples. The impairer's
// own log is then checked against it packet by packet.

// pktKey identifies one transmission of a TCP segment at both points.
// NAT changes addresses, ports and checksums but none of these fields;
// IPv4 IDs differ between a segment and its retransmission, TSval nearly
// always (and the occurrence count covers the rest).
type pktKey struct {
	conn     int
	c2s      bool
	seq, ack uint32
	flags    uint16
	len      int
	ipid     uint32
	tsval    uint32
}

// tagged is a frame with the connection and direction it belongs to.
type tagged struct {
	f    *frame
	conn int
	c2s  bool
	// match is the index of the same transmission in the other capture, -1 if none.
	match int
}

func keyOf(t *tagged) pktKey {
	return pktKey{conn: t.conn, c2s: t.c2s, seq: t.f.Seq, ack: t.f.Ack, flags: t.f.Flags, len: t.f.PayLen, ipid: t.f.IPID, tsval: t.f.TSVal}
}

// endpoints of the lab as addresses.
type labAddrs struct {
	client netip.Addr // client's address (v4 or v6, as used)
	server netip.Addr
}

// tagSpan assigns span frames to connections: the client owns port
// clientPort+conn.
func tagSpan(frames []frame, a labAddrs, nconn int) []tagged {
	out := make([]tagged, len(frames))
	for i := range frames {
		f := &frames[i]
		t := tagged{f: f, conn: -1, match: -1}
		if f.TCP {
			switch {
			case f.Src.Addr() == a.client:
				t.c2s, t.conn = true, int(f.Src.Port())-clientPort
			case f.Dst.Addr() == a.client:
				t.conn = int(f.Dst.Port()) - clientPort
			}
			if t.conn < 0 || t.conn >= nconn {
				t.conn = -1
			}
		}
		out[i] = t
	}
	return out
}

// synKey names a client's SYN in a way NAT leaves alone: its initial
// sequence number and its timestamp. NAT rewrites the client's port, not
// these. The ISN alone is not enough: among 20,000 connections two shared
// one in about one run in twenty, and the later connection's server
// packets were credited to the earlier one.
type synKey struct{ seq, tsval uint32 }

// tagServer assigns server frames to connections through the client's
// SYNs seen at the span point (synConn), as the server sees them.
func tagServer(frames []frame, a labAddrs, synConn map[synKey]int) ([]tagged, map[netip.AddrPort]int) {
	byPeer := map[netip.AddrPort]int{}
	for i := range frames {
		f := &frames[i]
		if f.TCP && f.Dst.Addr() == a.server && f.Flags&0x12 == 0x02 {
			if c, ok := synConn[synKey{f.Seq, f.TSVal}]; ok {
				byPeer[f.Src] = c
			}
		}
	}
	out := make([]tagged, len(frames))
	for i := range frames {
		f := &frames[i]
		t := tagged{f: f, conn: -1, match: -1}
		if f.TCP {
			if f.Dst.Addr() == a.server {
				if c, ok := byPeer[f.Src]; ok {
					t.conn, t.c2s = c, true
				}
			} else if f.Src.Addr() == a.server {
				if c, ok := byPeer[f.Dst]; ok {
					t.conn = c
				}
			}
		}
		out[i] = t
	}
	return out, byPeer
}

// matchCaptures pairs every transmission seen at both points, in order of
// occurrence for identical keys.
func matchCaptures(span, server []tagged) {
	idx := map[pktKey][]int{}
	for i := range server {
		if server[i].conn >= 0 {
			k := keyOf(&server[i])
			idx[k] = append(idx[k], i)
		}
	}
	for i := range span {
		if span[i].conn < 0 {
			continue
		}
		k := keyOf(&span[i])
		if l := idx[k]; len(l) > 0 {
			span[i].match, server[l[0]].match = l[0], i
			idx[k] = l[1:]
		}
	}
}

// delayStats summarises one-way delays in nanoseconds as milliseconds.
func delayStats(ns []int64) DelayStats {
	if len(ns) == 0 {
		return DelayStats{}
	}
	slices.Sort(ns)
	ms := func(v int64) float64 { return float64(v/1000) / 1000 }
	return DelayStats{Packets: len(ns), Min: ms(ns[0]), P50: ms(ns[len(ns)/2]), P99: ms(ns[len(ns)*99/100]), Max: ms(ns[len(ns)-1])}
}

// analysis is everything Run learns from the raw captures.
type analysis struct {
	span, server []tagged
	peers        map[netip.AddrPort]int // server-side client endpoint -> conn
	lost         []Drop                 // between the points, with reasons
	unverified   []Drop                 // impairer drops not found missing downstream
	extra        int                    // downstream transmissions with no upstream copy
	// Per connection: data segments reordered between the points, their
	// retransmissions, and second copies downstream of a packet that
	// passed the upstream point once.
	reordered, afterReorder, duplicated []DirCount
	reorderedKeys                       []pktKey          // the reordered segments, as sent upstream
	spanDrops                           []int             // raw span frame indexes (Num-1) to remove, ascending
	spanDropTags                        []int             // the same as indexes into span
	isn                                 map[[2]int]uint32 // {conn, 1 for c2s} -> the sender's initial sequence number
	delays                              map[string]DelayStats
	medianDelay                         float64
}

func analyze(s *Scenario, a labAddrs, spanF, serverF []frame, imp *impairerResult) *analysis {
	an := &analysis{span: tagSpan(spanF, a, len(s.Conns))}
	syns := map[synKey]int{}
	for _, t := range an.span {
		if t.conn >= 0 && t.c2s && t.f.Flags&0x12 == 0x02 {
			syns[synKey{t.f.Seq, t.f.TSVal}] = t.conn
		}
	}
	an.server, an.peers = tagServer(serverF, a, syns)
	an.isn = map[[2]int]uint32{}
	for _, ts := range [][]tagged{an.span, an.server} {
		for _, t := range ts {
			if t.conn >= 0 && t.f.Flags&0x02 != 0 {
				an.isn[[2]int{t.conn, b2i(t.c2s)}] = t.f.Seq
			}
		}
	}
	matchCaptures(an.span, an.server)

	// Impairer decisions, by key, to explain each loss.
	decided := map[pktKey][]int{}
	for i, d := range imp.Drops {
		k := pktKey{conn: d.Conn, c2s: d.Dir == "c2s", seq: d.Seq, ack: d.Ack, flags: d.Flags, len: d.Len, ipid: d.IPID, tsval: d.TSVal}
		decided[k] = append(decided[k], i)
	}
	used := make([]bool, len(imp.Drops))
	var d2s, s2d []int64
	// Walk upstream files: span for c2s, server for s2c.
	for i := range an.span {
		t := &an.span[i]
		if t.conn < 0 || !t.c2s {
			continue
		}
		if t.match >= 0 {
			d2s = append(d2s, an.server[t.match].f.TS-t.f.TS)
			continue
		}
		an.lost = append(an.lost, an.lostDrop(t, s.C2S, decided, used, imp, t.f.Num, 0))
	}
	for i := range an.server {
		t := &an.server[i]
		if t.conn < 0 || t.c2s {
			continue
		}
		if t.match >= 0 {
			s2d = append(s2d, an.span[t.match].f.TS-t.f.TS)
			continue
		}
		an.lost = append(an.lost, an.lostDrop(t, s.S2C, decided, used, imp, 0, t.f.Num))
	}
	for i, u := range used {
		if !u {
			an.unverified = append(an.unverified, imp.Drops[i])
		}
	}
	an.duplicated = make([]DirCount, len(s.Conns))
	an.extra = an.countExtra(an.span, false) + an.countExtra(an.server, true)
	an.findReordering(len(s.Conns))
	slices.SortStableFunc(an.lost, func(x, y Drop) int { return cmpInt64(x.Time, y.Time) })
	an.delays = map[string]DelayStats{"c2s": delayStats(d2s), "s2c": delayStats(s2d)}
	all := append(append([]int64(nil), d2s...), s2d...)
	if len(all) > 0 {
		slices.Sort(all)
		an.medianDelay = float64(all[len(all)/2]/1000) / 1000
	}
	an.pickSpanDrops(s)
	for i := range an.lost {
		if f := an.lost[i].SpanFrame; f > 0 {
			an.lost[i].SpanFrame = an.finalSpanFrame(f - 1)
		}
	}
	return an
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lostDrop describes upstream transmission t that never reached the other
// point, explained by the impairer's record when it has one.
func (an *analysis) lostDrop(t *tagged, imp Impairment, decided map[pktKey][]int, used []bool, ir *impairerResult, spanFrame, serverFrame int) Drop {
	d := Drop{Conn: t.conn, Dir: "s2c", Where: "between", Time: t.f.TS,
		Src: t.f.Src.String(), Dst: t.f.Dst.String(), IPID: t.f.IPID, Seq: t.f.Seq, Ack: t.f.Ack,
		Len: t.f.PayLen, Flags: t.f.Flags, FlagNames: flagNames(t.f.Flags), TSVal: t.f.TSVal,
		SpanFrame: spanFrame, ServerFrame: serverFrame}
	if t.c2s {
		d.Dir = "c2s"
	}
	d.RelSeq = an.relSeq(t)
	k := keyOf(t)
	switch l := decided[k]; {
	case len(l) > 0:
		decided[k] = l[1:]
		used[l[0]] = true
		d.Reason = ir.Drops[l[0]].Reason
		d.Time = ir.Drops[l[0]].Time
	case imp.RateKbit > 0:
		d.Reason = "tbf"
	default:
		d.Reason = "unexplained"
	}
	return d
}

// pickSpanDrops chooses, with a generator seeded from the scenario, the
// data segments removed from span.pcap: only segments that reached both
// points, so their data was delivered and acknowledged.
func (an *analysis) pickSpanDrops(s *Scenario) {
	if s.SpanDropPct <= 0 {
		return
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), 99))
	for i, t := range an.span {
		// A piece of a super-segment cannot leave the file alone.
		if t.conn < 0 || t.match < 0 || t.f.PayLen == 0 || t.f.Flags&0x07 != 0 || t.f.Pieces > 0 {
			continue
		}
		if rng.Float64()*100 < s.SpanDropPct {
			an.spanDrops = append(an.spanDrops, t.f.Num-1)
			an.spanDropTags = append(an.spanDropTags, i)
		}
	}
}

// finalSpanFrame maps a raw span frame index (Num-1) to its number in the final
// span.pcap (after removing the span-capture drops), 0 if removed.
func (an *analysis) finalSpanFrame(idx int) int {
	n, found := slices.BinarySearch(an.spanDrops, idx)
	if found {
		return 0
	}
	return idx + 1 - n
}

// flowReason derives a connection's expected blame and its reason from
// its spec, its measured losses and the retransmissions reordering
// between the points caused.
func flowReason(c *Conn, lostC2S, lostS2C int, f *FlowTruth, s *Scenario) (string, string) {
	lost := lostC2S + lostS2C
	switch {
	case c.Blame == BlameNetwork && lost == 0:
		return c.Blame, fmt.Sprintf("the path between the points adds %d ms c2s and %d ms s2c", s.C2S.DelayMs, s.S2C.DelayMs)
	case c.Blame != "":
		return c.Blame, "set by the scenario"
	case lost > 0:
		return BlameNetwork, fmt.Sprintf("%d packet(s) lost between the points (c2s %d, s2c %d)", lost, lostC2S, lostS2C)
	case f.RetransAfterReordering.C2S+f.RetransAfterReordering.S2C > 0:
		return BlameNetwork, fmt.Sprintf("%d segment(s) reordered between the points caused %d needless retransmission(s)",
			f.ReorderedBetween.C2S+f.ReorderedBetween.S2C, f.RetransAfterReordering.C2S+f.RetransAfterReordering.S2C)
	case c.ServerStallMs > 0:
		return BlameServer, fmt.Sprintf("server stops reading for %d ms (zero window)", c.ServerStallMs)
	case c.ServerThinkMs > 0:
		return BlameServer, fmt.Sprintf("server waits %d ms before each response", c.ServerThinkMs)
	case c.ClientStallMs > 0:
		return BlameClient, fmt.Sprintf("client stops reading for %d ms (zero window)", c.ClientStallMs)
	case c.ClientRST:
		return BlameClient, "client aborts the connection with RST"
	}
	return BlameNone, "no loss between the points and no endpoint stall"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// relSeq is t's sequence number relative to its sender's ISN (as
// Wireshark shows it), or 0 when the handshake was not seen.
func (an *analysis) relSeq(t *tagged) uint32 {
	if isn, ok := an.isn[[2]int{t.conn, b2i(t.c2s)}]; ok {
		return t.f.Seq - isn
	}
	return 0
}

// countExtra counts direction c2s's (or s2c's) transmissions in down, its
// downstream file, that have no upstream copy, less the second copies of
// one that has: those the network duplicated.
func (an *analysis) countExtra(down []tagged, c2s bool) int {
	seen := map[pktKey]bool{}
	for i := range down {
		if t := &down[i]; t.conn >= 0 && t.c2s == c2s && t.match >= 0 {
			seen[keyOf(t)] = true
		}
	}
	extra := 0
	for i := range down {
		t := &down[i]
		if t.conn < 0 || t.c2s != c2s || t.match >= 0 {
			continue
		}
		if !seen[keyOf(t)] {
			extra++
			continue
		}
		if c2s {
			an.duplicated[t.conn].C2S++
		} else {
			an.duplicated[t.conn].S2C++
		}
	}
	return extra
}

// findReordering finds, per connection and direction, the data segments
// that reached the downstream point after a segment that left the
// upstream point later, and counts the retransmissions whose earlier copy
// (the latest transmission before them holding their first byte) was one
// of those.
func (an *analysis) findReordering(nconn int) {
	an.reordered = make([]DirCount, nconn)
	an.afterReorder = make([]DirCount, nconn)
	for _, c2s := range []bool{true, false} {
		up, down := an.span, an.server
		if !c2s {
			up, down = an.server, an.span
		}
		count := func(dc *DirCount) *int {
			if c2s {
				return &dc.C2S
			}
			return &dc.S2C
		}
		reordered := map[int]bool{}  // upstream indexes
		latest := make([]int, nconn) // per conn, the latest-sent upstream index arrived
		for i := range latest {
			latest[i] = -1
		}
		for i := range down {
			t := &down[i]
			if t.conn < 0 || t.c2s != c2s || t.match < 0 {
				continue
			}
			if t.match > latest[t.conn] {
				latest[t.conn] = t.match
				continue
			}
			if t.f.PayLen == 0 {
				continue // pure ACKs: see correlate's reorder
			}
			reordered[t.match] = true
			an.reorderedKeys = append(an.reorderedKeys, keyOf(&up[t.match]))
			*count(&an.reordered[t.conn])++
		}
		sentEnd := map[int]uint32{} // per conn, the highest sequence number sent + 1
		for i := range up {
			r := &up[i]
			if r.conn < 0 || r.c2s != c2s || r.f.PayLen == 0 {
				continue
			}
			end, seen := sentEnd[r.conn]
			if rEnd := r.f.Seq + uint32(r.f.PayLen); !seen || int32(rEnd-end) > 0 {
				sentEnd[r.conn] = rEnd
			}
			if !seen || int32(r.f.Seq-end) >= 0 {
				continue // new data
			}
			for j := i - 1; j >= 0; j-- {
				u := &up[j]
				if u.conn == r.conn && u.c2s == c2s && u.f.PayLen > 0 &&
					int32(r.f.Seq-u.f.Seq) >= 0 && int32(r.f.Seq-u.f.Seq) < int32(u.f.PayLen) {
					if reordered[j] {
						*count(&an.afterReorder[r.conn])++
					}
					break
				}
			}
		}
	}
}
