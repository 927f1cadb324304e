package correlate

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
)

// tcpPacket returns a decoded TCP packet as Decode would leave it.
func tcpPacket(src, dst string, sport, dport uint16, flags uint16, seq, ack uint32, plen int) decode.Packet {
	return decode.Packet{
		Layer: decode.LayerTransport, Proto: decode.ProtoTCP, IPVersion: 4,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, TCPFlags: flags, Seq: seq, Ack: ack,
		Window: 512, PayloadLen: plen,
	}
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
	add := func(p decode.Packet) { c.Add(uint64(c.Packets+1), int64(c.Packets)*1e6, &p, nil) }
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
