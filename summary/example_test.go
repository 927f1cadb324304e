package summary_test

import (
	"fmt"
	"net/netip"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/summary"
)

// A line a packet, as tshark prints by default, with the flow table's
// relative sequence numbers; one buffer serves every line.
func ExampleAppendLine() {
	cli := netip.MustParseAddrPort("10.0.0.1:46656")
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	frames := [][]byte{
		pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1000, Flags: pkttest.SYN, Win: 64240, Opts: pkttest.Pad4(pkttest.OptMSS(1460))}, nil),
		pkttest.TCPFrame(srv, cli, pkttest.TCP{Seq: 5000, Ack: 1001, Flags: pkttest.SYN | pkttest.ACK, Win: 65160}, nil),
		pkttest.UDPFrame(netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("224.0.0.251:5353"), []byte("query")),
	}
	tab, _ := flowtable.New(flowtable.Config{Capacity: 16})
	var (
		d    decode.Packet
		res  flowtable.PacketResult
		line []byte
	)
	for i, f := range frames {
		err := d.Decode(f, linktype.Ethernet)
		ts := int64(i) * 1_250_000 // ns
		tab.Update(&d, ts, uint64(i+1), &res)
		p := summary.Packet{Frame: uint64(i + 1), Time: ts, Len: len(f), Decoded: &d, Result: &res, DecodeErr: err}
		line = summary.AppendLine(line[:0], &p)
		fmt.Println(string(line))
	}
	// Output:
	//     1    0.000000        10.0.0.1 → 10.0.0.2        TCP 58 46656 → 80 [SYN] Seq=0 Win=64240 Len=0 MSS=1460
	//     2    0.001250        10.0.0.2 → 10.0.0.1        TCP 54 80 → 46656 [SYN, ACK] Seq=0 Ack=1 Win=65160 Len=0
	//     3    0.002500        10.0.0.1 → 224.0.0.251     UDP 47 5353 → 5353 Len=5
}
