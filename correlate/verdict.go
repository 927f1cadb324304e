package correlate

import (
	"fmt"
	"strings"
	"time"
)

// Thresholds of the verdict; the package documentation explains them.
const (
	// perceptible is the least endpoint delay worth blaming: 100 ms is
	// where people start to notice a response is not instant.
	perceptible = 100e6 // ns
	// queueFloor is the least queueing (median transit above the minimum)
	// that counts as congestion, and it must also at least double the
	// minimum: a few ms of jitter is normal.
	queueFloor = 50e6 // ns
)

// judgeFlow gives one connection its verdict and reason.
func judgeFlow(st *flowState) {
	fr := st.fr
	lo := min(fr.Packets.ClientSide, fr.Packets.ServerSide)
	if fr.MatchedPackets*2 < lo {
		fr.Verdict = Inconclusive
		fr.Reason = fmt.Sprintf("only %d of its %d client-side and %d server-side packets are the same packets: the captures may hold different connections that share addresses",
			fr.MatchedPackets, fr.Packets.ClientSide, fr.Packets.ServerSide)
		return
	}

	// Every turn of the conversation (the handshake, each request and
	// response) pays the round trip between the points once.
	turns := fr.Exchanges
	if fr.Handshake != nil {
		turns++
	}
	net := st.recovery + st.congest + st.latency*float64(max(turns, 1))
	srv := st.slowThink + float64(fr.ZeroWindowBy.Server)
	cli := float64(fr.ZeroWindowBy.Client)
	if h := fr.Handshake; h != nil && h.Server >= perceptible {
		srv += float64(h.Server)
	}
	fr.Blame = Blame{Network: msec(net), Server: msec(srv), Client: msec(cli)}

	netSig := st.harmful > 0 || st.reorderHarm > 0 || st.congest > 0 || st.latency > 0
	srvSig := srv >= perceptible || fr.ResetBy == ServerParty
	cliSig := cli >= perceptible || fr.ResetBy == ClientParty

	best, bestT := None, -1.0
	for _, c := range []struct {
		v   Verdict
		sig bool
		t   float64
	}{{Network, netSig, net}, {Server, srvSig, srv}, {Client, cliSig, cli}} {
		if c.sig && c.t > bestT {
			best, bestT = c.v, c.t
		}
	}
	fr.Verdict = best
	switch best {
	case Network:
		fr.Reason = networkReason(st)
	case Server:
		fr.Reason = endpointReason(st, ServerParty, srv)
	case Client:
		fr.Reason = endpointReason(st, ClientParty, cli)
	default:
		fr.Reason = fmt.Sprintf("no loss between the points, transit %.1f/%.1f ms (c2s/s2c median), server think %.1f ms",
			mss(fr.Transit.C2S.Median), mss(fr.Transit.S2C.Median), mss(fr.Think))
		if fr.CaptureDrops > 0 {
			fr.Reason += fmt.Sprintf("; %d packet(s) missing from one capture were delivered (capture drops, not the network)", fr.CaptureDrops)
		}
		if n, m := fr.ReorderedBetween.Total(), fr.DuplicatedBetween.Total(); n+m > 0 {
			fr.Reason += fmt.Sprintf("; the network reordered %d and duplicated %d packet(s), at no cost", n, m)
		}
	}
}

func networkReason(st *flowState) string {
	fr := st.fr
	var parts []string
	if st.harmful > 0 {
		s := fmt.Sprintf("%d packet(s) lost between the capture points (c2s %d = %.1f%%, s2c %d = %.1f%%)",
			fr.LostBetween.Total(), fr.LostBetween.C2S, fr.LostPct.C2S, fr.LostBetween.S2C, fr.LostPct.S2C)
		if st.synLost > 0 && fr.Handshake != nil {
			s += fmt.Sprintf(", the handshake waited %.0f ms for a SYN retransmission", mss(fr.Handshake.C2S))
		} else if st.recovery > 0 {
			s += fmt.Sprintf(", recovery took %.0f ms", st.recovery/1e6)
		}
		parts = append(parts, s)
	}
	if st.reorderHarm > 0 {
		parts = append(parts, fmt.Sprintf("%d packet(s) reordered between the points (c2s %d, s2c %d) caused %d needless retransmission(s)",
			fr.ReorderedBetween.Total(), fr.ReorderedBetween.C2S, fr.ReorderedBetween.S2C, st.reorderHarm))
	}
	if st.congest > 0 {
		parts = append(parts, fmt.Sprintf("queueing between the points: transit median %.1f/%.1f ms against a minimum of %.1f/%.1f ms (c2s/s2c)",
			mss(fr.Transit.C2S.Median), mss(fr.Transit.S2C.Median), mss(fr.Transit.C2S.Min), mss(fr.Transit.S2C.Min)))
	}
	if st.latency > 0 {
		parts = append(parts, fmt.Sprintf("the round trip between the points alone is %.0f ms (transit %.1f/%.1f ms c2s/s2c), paid on each of %d turn(s)",
			st.latency/1e6, mss(fr.Transit.C2S.Median), mss(fr.Transit.S2C.Median), max(fr.Exchanges+btoi(fr.Handshake != nil), 1)))
	}
	return strings.Join(parts, "; ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func endpointReason(st *flowState, who Party, t float64) string {
	fr := st.fr
	var parts []string
	z := fr.ZeroWindowBy.Client
	if who == ServerParty {
		z = fr.ZeroWindowBy.Server
	}
	if z >= perceptible/10 {
		parts = append(parts, fmt.Sprintf("the %s advertised a zero window for %.2f s (its application stopped reading)", who, z.Seconds()))
	}
	if who == ServerParty && st.slowThink > 0 {
		parts = append(parts, fmt.Sprintf("the server took %.0f ms (median, max %.0f ms) to answer %d request(s) while transit was %.1f/%.1f ms each way",
			mss(fr.Think), mss(fr.ThinkMax), fr.Exchanges, mss(fr.Transit.C2S.Median), mss(fr.Transit.S2C.Median)))
	}
	if h := fr.Handshake; who == ServerParty && h != nil && h.Server >= perceptible {
		parts = append(parts, fmt.Sprintf("the server took %.0f ms to answer the SYN", mss(h.Server)))
	}
	if fr.ResetBy == who {
		parts = append(parts, fmt.Sprintf("the %s reset the connection", who))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("the %s cost %.2f s", who, t/1e9)
	}
	return strings.Join(parts, "; ")
}

// judgeOverall gives the captures' verdict from the flows'.
func judgeOverall(rep *Report, a, b *Capture, npairs int) {
	switch {
	case a.TCPPackets == 0 || b.TCPPackets == 0:
		which := "client-side"
		if a.TCPPackets != 0 {
			which = "server-side"
		}
		rep.Verdict, rep.Reason = Inconclusive, "the "+which+" capture holds no TCP packets"
		return
	case npairs == 0 && len(rep.Flows) == 0:
		rep.Verdict = Inconclusive
		rep.Reason = fmt.Sprintf("no connection appears in both captures (%d on the client side, %d on the server side): they do not hold the same traffic, or not from the same time",
			a.flows.len(), b.flows.len())
		return
	case len(rep.Flows) == 0:
		rep.Verdict, rep.Reason = Inconclusive, "no connection seen in both captures matches the filter"
		return
	}
	var total, worstT [3]time.Duration
	var count, worst [3]int
	parties := [3]Verdict{Network, Server, Client}
	inconclusive := 0
	for i := range rep.Flows {
		fr := &rep.Flows[i]
		t := [3]time.Duration{fr.Blame.Network, fr.Blame.Server, fr.Blame.Client}
		for k, v := range parties {
			if fr.Verdict != v {
				continue
			}
			if count[k] == 0 || t[k] > worstT[k] {
				worst[k], worstT[k] = i, t[k]
			}
			total[k] += t[k]
			count[k]++
		}
		if fr.Verdict == Inconclusive {
			inconclusive++
		}
	}
	best := -1
	for k := range parties {
		if count[k] == 0 {
			continue
		}
		if best < 0 || total[k] > total[best] || total[k] == total[best] && count[k] > count[best] {
			best = k
		}
	}
	if best >= 0 {
		fr := &rep.Flows[worst[best]]
		rep.Verdict = parties[best]
		rep.Reason = fmt.Sprintf("%d of %d connection(s) point at the %s (%.2f s in all); worst %s -> %s: %s",
			count[best], len(rep.Flows), parties[best], total[best].Seconds(), fr.Client, fr.Server, fr.Reason)
		return
	}
	if inconclusive == len(rep.Flows) {
		rep.Verdict = Inconclusive
		rep.Reason = "no connection could be followed through both captures: " + rep.Flows[0].Reason
		return
	}
	rep.Verdict = None
	var lost, drops int
	for i := range rep.Flows {
		lost += rep.Flows[i].LostBetween.Total()
		drops += rep.Flows[i].CaptureDrops
	}
	rep.Reason = fmt.Sprintf("%d connection(s) in both captures, none slowed by loss between the points, queueing or a slow endpoint", len(rep.Flows))
	if lost > 0 {
		rep.Reason += fmt.Sprintf(" (%d lost packet(s) carried no data and cost no retransmission)", lost)
	}
	if drops > 0 {
		rep.Reason += fmt.Sprintf("; %d packet(s) were missed by a capture, not lost", drops)
	}
}

// msec rounds ns to the millisecond, the precision blame is given in.
func msec(ns float64) time.Duration { return time.Duration(int64(ns/1e6+0.5)) * time.Millisecond }

// mss is d in milliseconds, for reasons.
func mss(d time.Duration) float64 { return float64(d) / 1e6 }
