package flowtable_test

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/linktype"
)

// TestOthers: ICMP both ways is one conversation with two directions, a
// non-IP EtherType its own, TCP is left to the table; counting a packet
// of a known conversation allocates nothing; past Max, packets of new
// conversations are dropped and counted.
func TestOthers(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	icmp := func(src, dst netip.Addr) []byte {
		return pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: 1, Src: src, Dst: dst}.Bytes([]byte{8, 0, 0, 0, 0, 1, 0, 1}))
	}
	frames := [][]byte{
		icmp(a, b), icmp(b, a), icmp(a, b),
		pkttest.Ether(0x0806, make([]byte, 28)),
		pkttest.TCPFrame(netip.AddrPortFrom(a, 1), netip.AddrPortFrom(b, 2), pkttest.TCP{Flags: pkttest.SYN}, nil),
	}
	decs := make([]decode.Packet, len(frames))
	for i, f := range frames {
		_ = decs[i].Decode(f, linktype.Ethernet)
	}
	var o flowtable.Others
	for i := range decs {
		o.Add(&decs[i], int64(i)*1e6, uint64(i+1), len(frames[i]))
	}
	cs := o.Conversations()
	if len(cs) != 2 {
		t.Fatalf("%d conversations, want ICMP and ARP: %+v", len(cs), cs)
	}
	if c := cs[0]; !c.IP || c.Proto != decode.ProtoICMP || c.A != a || c.B != b || c.Packets != [2]uint64{2, 1} ||
		c.FirstFrame != 1 || c.LastFrame != 3 || c.Bytes[0] != 2*28 {
		t.Errorf("ICMP conversation %+v", c)
	}
	if c := cs[1]; c.IP || c.EtherType != 0x0806 || c.Packets != [2]uint64{1, 0} || c.Bytes[0] != uint64(len(frames[3])) {
		t.Errorf("ARP conversation %+v", c)
	}
	if n := testing.AllocsPerRun(100, func() { o.Add(&decs[1], 1, 2, len(frames[1])) }); n != 0 {
		t.Errorf("%v allocations counting a known conversation", n)
	}
	small := flowtable.Others{Max: 1}
	small.Add(&decs[0], 0, 1, 0)
	small.Add(&decs[3], 0, 2, 0)
	if len(small.Conversations()) != 1 || small.Dropped != 1 {
		t.Errorf("Max 1: %d conversations, %d dropped", len(small.Conversations()), small.Dropped)
	}
}
