package flowtable_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// A table fed three handshake packets and a retransmitted data segment;
// Flush hands the flow out at the end of the input.
func Example() {
	tab, err := flowtable.New(flowtable.Config{
		Capacity: 1024,
		OnEvent: func(e *flowtable.EventRecord) {
			fmt.Printf("frame %d %s %s seq=%d len=%d\n", e.Frame, e.Dir, e.Kind, e.Seq, e.Len)
		},
		OnExpire: func(r *flowtable.FlowRecord) {
			fmt.Printf("%v -> %v %s: packets %v, handshake %v, retransmissions %d\n",
				r.Client, r.Server, r.State, r.Packets, r.SynToSynAck, r.FilterCount(flowtable.Retransmission))
		},
	})
	if err != nil {
		panic(err)
	}
	cli, srv := netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("198.51.100.7:443")
	pkt := func(from, to netip.AddrPort, seq, ack uint32, flags decode.TCPFlags, n int) *decode.Packet {
		p := &decode.Packet{Layer: decode.LayerTransport, Proto: decode.ProtoTCP,
			SrcPort: from.Port(), DstPort: to.Port(),
			Seq: seq, Ack: ack, TCPFlags: flags, Window: 1000, PayloadLen: n, IPLen: 40 + n}
		p.SetAddrs(from.Addr(), to.Addr())
		return p
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	ms := int64(time.Millisecond)
	var out flowtable.PacketResult
	tab.Update(pkt(cli, srv, 100, 0, decode.TCPSyn, 0), start, 1, &out)
	tab.Update(pkt(srv, cli, 900, 101, decode.TCPSyn|decode.TCPAck, 0), start+30*ms, 2, &out)
	tab.Update(pkt(cli, srv, 101, 901, decode.TCPAck, 0), start+31*ms, 3, &out)
	tab.Update(pkt(cli, srv, 101, 901, decode.TCPAck|decode.TCPPsh, 50), start+32*ms, 4, &out)
	tab.Update(pkt(cli, srv, 101, 901, decode.TCPAck|decode.TCPPsh, 50), start+300*ms, 5, &out)
	tab.Flush()
	// Output:
	// frame 5 c2s retransmission seq=1 len=50
	// 192.0.2.1:50000 -> 198.51.100.7:443 established: packets [4 1], handshake 30ms, retransmissions 1
}
