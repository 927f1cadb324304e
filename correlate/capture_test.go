package correlate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/netblame/netblame/decode"
)

// tcpPacket returns a decoded TCP packet as Decode would leave it.
func tcpPacket(src, dst string, sport, dport uint16, flags decode.TCPFlags, seq, ack uint32, plen int) decode.Packet {
	p := decode.Packet{
		Layer: decode.LayerTransport, Proto: decode.ProtoTCP,
		SrcPort: sport, DstPort: dport, TCPFlags: flags, Seq: seq, Ack: ack,
		Window: 512, PayloadLen: plen,
	}
	p.SetAddrs(netip.MustParseAddr(src), netip.MustParseAddr(dst))
	return p
}

// TestAddAllocs proves the per-packet path allocates nothing once a flow
// exists and the record chunk is in place.
func TestAddAllocs(t *testing.T) {
	c := NewCapture("allocs")
	p := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPAck, 1000, 2000, 100)
	frame := uint64(1)
	// Fill the first (growing) chunk so the measured adds land in a whole
	// one.
	for ; frame <= chunkLen+10; frame++ {
		c.Add(frame, int64(frame)*1000, &p, nil)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		p.Seq += 100
		c.Add(frame, int64(frame)*1000, &p, nil)
		frame++
	})
	if allocs != 0 {
		t.Errorf("Add allocates %.1f times per packet, want 0", allocs)
	}
}

// TestFlowInstances checks that a SYN with a new ISN on the same addresses
// and ports starts a new connection, while a repeated SYN does not, and
// that the direction follows the SYN.
func TestFlowInstances(t *testing.T) {
	c := NewCapture("instances")
	add := func(p decode.Packet) { c.Add(uint64(c.Packets+1), int64(c.Packets)*1e9, &p, nil) }
	add(tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPSyn, 100, 0, 0))
	add(tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPSyn, 100, 0, 0)) // retransmitted SYN
	add(tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, decode.TCPSyn|decode.TCPAck, 900, 101, 0))
	add(tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPRst, 101, 0, 0))
	add(tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPSyn, 5000, 0, 0)) // new connection
	if n := c.flows.len(); n != 2 {
		t.Fatalf("%d flows, want 2", n)
	}
	f0, f1 := c.flows.at(0), c.flows.at(1)
	if f0.pkts != [2]uint32{3, 1} || f1.pkts != [2]uint32{1, 0} {
		t.Errorf("packets by direction %v and %v, want [3 1] and [1 0]", f0.pkts, f1.pkts)
	}
	if f0.client.String() != "10.0.0.1:40000" || f0.isn != [2]uint32{100, 900} || f1.isn[c2s] != 5000 {
		t.Errorf("flow 0 client %s isn %v, flow 1 isn %v", f0.client, f0.isn, f1.isn)
	}
	if f0.nextSame != 1 || f1.firstSame != 0 || f0.rstBy != c2s {
		t.Errorf("instance links next %d first %d, reset by %d", f0.nextSame, f1.firstSame, f0.rstBy)
	}
}

func TestLowerEnvelopeSlope(t *testing.T) {
	// Points on y = 2x + 5 plus non-negative "queueing" on some.
	xs := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	ys := make([]float64, len(xs))
	extra := []float64{0, 7, 0, 3, 12, 0, 1, 9, 0, 4}
	for i, x := range xs {
		ys[i] = 2*x + 5 + extra[i]
	}
	if b := lowerEnvelopeSlope(xs, ys); b != 2 {
		t.Errorf("slope %v, want 2", b)
	}
}

// TestUnansweredSYNs: a connection whose SYNs pass the client side and
// never reach a server the server side is capturing is network loss, with
// each SYN as evidence; to a server the server side does not capture, it
// is only listed as seen at one point.
func TestUnansweredSYNs(t *testing.T) {
	build := func(serverSeesY bool) *Report {
		a, b := NewCapture("a"), NewCapture("b")
		add := func(c *Capture, ts int64, p decode.Packet) { c.Add(uint64(c.Packets+1), ts, &p, nil) }
		ms := int64(1e6)
		type pk struct {
			t   int64
			c2s bool
			p   decode.Packet
		}
		y := []pk{
			{0, true, tcpPacket("10.0.0.1", "10.0.0.2", 40001, 80, decode.TCPSyn, 100, 0, 0)},
			{10 * ms, false, tcpPacket("10.0.0.2", "10.0.0.1", 80, 40001, decode.TCPSyn|decode.TCPAck, 900, 101, 0)},
			{11 * ms, true, tcpPacket("10.0.0.1", "10.0.0.2", 40001, 80, decode.TCPAck, 101, 901, 0)},
			{12 * ms, true, tcpPacket("10.0.0.1", "10.0.0.2", 40001, 80, decode.TCPAck|decode.TCPPsh, 101, 901, 50)},
			{22 * ms, false, tcpPacket("10.0.0.2", "10.0.0.1", 80, 40001, decode.TCPAck, 901, 151, 0)},
		}
		for i, x := range []int64{5, 1005, 3005} {
			p := tcpPacket("10.0.0.1", "10.0.0.2", 40002, 80, decode.TCPSyn, 7000, 0, 0)
			p.IPID = uint32(i)
			add(a, x*ms, p)
			if x == 5 {
				add(a, 12*ms, y[3].p) // interleave with Y
			}
		}
		for _, x := range y {
			if x.t != 12*ms {
				add(a, x.t, x.p)
			}
		}
		if serverSeesY {
			for _, x := range y {
				d := 5 * ms
				if !x.c2s {
					d = -d
				}
				add(b, x.t+d, x.p)
			}
		} else {
			add(b, 0, tcpPacket("10.0.0.9", "10.0.0.1", 443, 50000, decode.TCPAck, 1, 1, 0))
		}
		return Correlate(a, b, Options{})
	}

	rep := build(true)
	if rep.Verdict != Network {
		t.Errorf("verdict %s, want network: %s", rep.Verdict, rep.Reason)
	}
	var x *FlowReport
	for i := range rep.Flows {
		if rep.Flows[i].Client == netip.MustParseAddrPort("10.0.0.1:40002") {
			x = &rep.Flows[i]
		}
	}
	if x == nil {
		t.Fatalf("unanswered connection not reported; flows %+v, only client side %v", rep.Flows, rep.OnlyClientSide)
	}
	if x.Verdict != Network || x.LostBetween != (DirCount{C2S: 3}) || len(x.Evidence) != 3 || x.Evidence[0].Kind != LostSYN || x.Evidence[0].SpanFrame != 1 {
		t.Errorf("unanswered connection: %+v", *x)
	}
	if len(rep.OnlyClientSide) != 0 {
		t.Errorf("also listed as seen at one point: %v", rep.OnlyClientSide)
	}

	rep = build(false)
	if rep.Verdict != Inconclusive || len(rep.OnlyClientSide) != 2 {
		t.Errorf("server side without that server: verdict %s, only client side %v; want inconclusive with both listed", rep.Verdict, rep.OnlyClientSide)
	}
}

// TestSuperSegments checks that a packet longer than its direction's
// MSS (a TSO or GRO super-segment) is kept as the wire segments it stands
// for: MSS-sized seq ranges with consecutive IPv4 IDs, PSH on the last.
func TestSuperSegments(t *testing.T) {
	c := NewCapture("offload")
	add := func(p decode.Packet) { c.Add(uint64(c.Packets+1), int64(c.Packets)*1e6, &p, nil) }
	syn := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPSyn, 100, 0, 0)
	syn.Flags |= decode.HasMSS | decode.HasTimestamps
	syn.MSS = 1460
	add(syn)
	sa := tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, decode.TCPSyn|decode.TCPAck, 900, 101, 0)
	sa.Flags |= decode.HasMSS | decode.HasTimestamps
	sa.MSS = 1400
	add(sa)
	big := tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, decode.TCPAck|decode.TCPPsh, 901, 101, 3*1448+100)
	big.Flags |= decode.HasTimestamps
	big.IPVersion, big.IPID, big.TSVal = 4, 7000, 55
	add(big)
	up := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPAck, 101, 901, 1388+1)
	up.Flags |= decode.HasTimestamps
	add(up)
	if c.SuperSegments != 2 {
		t.Fatalf("%d super-segments, want 2", c.SuperSegments)
	}
	c.finish()
	var got []string
	for _, i := range c.flowRecs(0) {
		r := c.recs.at(i)
		if r.plen > 0 {
			got = append(got, fmt.Sprintf("%d+%d/%x", r.seq, r.plen, r.flags))
		}
	}
	// s2c wire segments are 1460-12 bytes, c2s 1400-12.
	want := []string{"901+1448/10", "2349+1448/10", "3797+1448/10", "5245+100/18", "101+1388/10", "1489+1/10"}
	if !slices.Equal(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	recs := c.flowRecs(0)
	// The wire segments carry consecutive IP IDs, as the NIC gives them.
	if a, b := c.recs.at(recs[2]), c.recs.at(recs[3]); a.ident != packetIdent(7000, 55) || b.ident != packetIdent(7001, 55) {
		t.Errorf("IP IDs of the first two wire segments not 7000 and 7001: idents %x %x", a.ident, b.ident)
	}
}

// TestCaptureDuplicates checks that a packet recorded twice within the
// window is left out and counted, while a copy after the window (a real
// retransmission would also change its IP ID) and RSTs are kept.
func TestCaptureDuplicates(t *testing.T) {
	c := NewCapture("dups")
	p := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPAck, 1000, 2000, 100)
	p.IPVersion, p.IPID = 4, 1
	c.Add(1, 0, &p, nil)
	c.Add(2, 20e3, &p, nil) // 20 µs later: the mirror's second copy
	c.Add(3, 5e6, &p, nil)  // 5 ms later: kept
	p.IPID = 2
	c.Add(4, 5.01e6, &p, nil) // a new IP ID: another packet
	rst := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, decode.TCPRst, 1100, 0, 0)
	c.Add(5, 6e6, &rst, nil)
	c.Add(6, 6.01e6, &rst, nil)
	if c.Duplicates != 1 || c.recs.len() != 5 || c.flows.at(0).dups != 1 {
		t.Errorf("%d duplicates, %d records, flow dups %d; want 1, 5, 1", c.Duplicates, c.recs.len(), c.flows.at(0).dups)
	}
}

// TestLostBeforeClientSide: a client segment lost between the client and
// the client-side point reaches neither capture; its retransmission
// reaches both. That is a loss before the client side, not a capture drop
// and not a loss between the points.
func TestLostBeforeClientSide(t *testing.T) {
	a, b := NewCapture("span"), NewCapture("server")
	const transit = 5e6
	var now int64 = 1e9
	var id uint32
	send := func(fromClient bool, flags decode.TCPFlags, seq, ack uint32, plen int) {
		id++
		p := tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, flags, seq, ack, plen)
		if !fromClient {
			p = tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, flags, seq, ack, plen)
		}
		p.IPVersion, p.IPID = 4, id
		if fromClient {
			a.Add(uint64(a.Packets+1), now, &p, nil)
			b.Add(uint64(b.Packets+1), now+transit, &p, nil)
		} else {
			b.Add(uint64(b.Packets+1), now, &p, nil)
			a.Add(uint64(a.Packets+1), now+transit, &p, nil)
		}
		now += 20e6
	}
	const ack = decode.TCPAck
	send(true, decode.TCPSyn, 100, 0, 0)
	send(false, decode.TCPSyn|ack, 900, 101, 0)
	send(true, ack, 101, 901, 0)
	id++ // [101, 201) leaves the client and is lost before the span
	send(true, ack, 201, 901, 100)
	send(false, ack, 901, 101, 0)  // duplicate ACK
	send(true, ack, 101, 901, 100) // the retransmission
	send(false, ack, 901, 301, 0)
	for i := range 6 {
		send(true, ack, 301+uint32(i*100), 901, 100)
		send(false, ack, 901, 401+uint32(i*100), 0)
	}
	rep := Correlate(a, b, Options{})
	if len(rep.Flows) != 1 {
		t.Fatalf("%d flows", len(rep.Flows))
	}
	f := rep.Flows[0]
	if f.RetransmissionKinds.LostBeforeClientSide != 1 || f.LostBetween.Total() != 0 || f.CaptureDrops != 0 {
		t.Errorf("lost before client side %d, lost between %+v, capture drops %d; want 1, none, 0",
			f.RetransmissionKinds.LostBeforeClientSide, f.LostBetween, f.CaptureDrops)
	}
}

// TestLongConnection follows a download of 6 GB, beyond the 32-bit
// sequence space, with one segment lost between the points at 4.5 GB and
// retransmitted. Both captures hold one segment of every megabyte (as a
// sampled capture would), so the test stays small: every count must be
// the same as for a short connection.
func TestLongConnection(t *testing.T) {
	a, b := NewCapture("a"), NewCapture("b")
	ms := int64(1e6)
	const (
		segs   = 6000
		lostAt = 4500
		step   = 1 << 20
		plen   = 1000
		isn    = 0xfff00000 // the absolute sequence space wraps early too
	)
	var ipid uint32
	both := func(ts int64, c2s, inA bool, p decode.Packet) {
		ipid++
		p.IPID = ipid
		transit := 5 * ms
		if !c2s {
			transit = -transit // the server side is upstream
		}
		if inA {
			a.Add(uint64(a.Packets+1), ts, &p, nil)
		}
		b.Add(uint64(b.Packets+1), ts+transit, &p, nil)
	}
	c2s := func(ts int64, flags decode.TCPFlags, seq, ack uint32, n int) {
		both(ts, true, true, tcpPacket("10.0.0.1", "10.0.0.2", 40000, 80, flags, seq, ack, n))
	}
	s2c := func(ts int64, inA bool, seq, ack uint32, n int) {
		both(ts, false, inA, tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, decode.TCPAck, seq, ack, n))
	}
	c2s(0, decode.TCPSyn, 100, 0, 0)
	both(10*ms, false, true, tcpPacket("10.0.0.2", "10.0.0.1", 80, 40000, decode.TCPSyn|decode.TCPAck, isn, 101, 0))
	c2s(11*ms, decode.TCPAck, 101, isn+1, 0)
	c2s(12*ms, decode.TCPAck|decode.TCPPsh, 101, isn+1, 100)
	seq := func(k int) uint32 { return isn + 1 + uint32(k)*step } // wraps, as it should
	ts := 30 * ms
	acked := seq(0)
	for k := 0; k < segs; k++ {
		ts += ms / 10
		s2c(ts, k != lostAt, seq(k), 201, plen)
		if k < lostAt || k > lostAt+3 {
			acked = seq(k) + plen
		}
		c2s(ts+ms/20, decode.TCPAck, 201, acked, 0)
		if k == lostAt+3 {
			ts += ms / 10
			s2c(ts, true, seq(lostAt), 201, plen) // the fast retransmission
			acked = seq(k) + plen
			c2s(ts+ms/20, decode.TCPAck, 201, acked, 0)
		}
	}
	rep := Correlate(a, b, Options{})
	if len(rep.Flows) != 1 {
		t.Fatalf("%d flows, want 1: %+v", len(rep.Flows), rep)
	}
	f := rep.Flows[0]
	if f.LostBetween != (DirCount{S2C: 1}) || f.CaptureDrops != 0 || f.Retransmissions != 1 || f.RetransmissionKinds.AfterLossBetween != 1 {
		t.Errorf("lost %+v, %d capture drops, %d retransmissions (%+v); want 1 lost s2c, its retransmission after that loss, nothing else",
			f.LostBetween, f.CaptureDrops, f.Retransmissions, f.RetransmissionKinds)
	}
	if f.Verdict != Network || f.WindowShrinks != (PartyCount{}) {
		t.Errorf("verdict %s (%s), window shrinks %+v; want network and none", f.Verdict, f.Reason, f.WindowShrinks)
	}
}

// TestPacketIdentTellsRetransmissions: a retransmission differs from its
// original by a small step in IP ID and TCP timestamp, and the folded
// identity must differ too, not only for random values. The pair from a
// lab run that the earlier XOR folding confused, and every step up to 64
// in both from many bases: collisions at about the rate of random 16-bit
// values (one in 65,536), not more.
func TestPacketIdentTellsRetransmissions(t *testing.T) {
	if packetIdent(0xff28, 3948663490) == packetIdent(0xff37, 3948663517) {
		t.Errorf("the lab run's original and retransmission fold to one identity")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pairs, same := 0, 0
	for range 40 {
		id, ts := rng.Uint32()&0xffff, rng.Uint32()
		a := packetIdent(id, ts)
		for k := uint32(1); k <= 64; k++ {
			for m := uint32(0); m <= 64; m++ {
				pairs++
				if packetIdent((id+k)&0xffff, ts+m) == a {
					same++
				}
			}
		}
	}
	if limit := pairs/65536*4 + 4; same > limit {
		t.Errorf("%d of %d nearby pairs fold to one identity, want at most %d", same, pairs, limit)
	}
}
