package summary

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/tsharktest"
	"github.com/netblame/netblame/linktype"
)

// TestInfoMatchesTshark writes frames of the kinds whose Info netblame
// words exactly as tshark does (TCP with its options and analysis tags,
// UDP, fragments that do not complete a datagram) into a capture, and
// compares each Info with tshark's _ws.col.Info. Ports have no dissector
// in tshark, so its Info is TCP's or UDP's own.
func TestInfoMatchesTshark(t *testing.T) {
	tsharktest.Path(t)
	c := netip.MustParseAddrPort("10.0.0.1:41000")
	s := netip.MustParseAddrPort("10.0.0.2:42000")
	opts := pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptWScale(7), pkttest.OptSACKPerm(), pkttest.OptTS(100, 0))
	frames := [][]byte{
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1000, Flags: pkttest.SYN, Win: 64240, Opts: opts}, nil),
		pkttest.TCPFrame(s, c, pkttest.TCP{Seq: 5000, Ack: 1001, Flags: pkttest.SYN | pkttest.ACK, Win: 65160, Opts: opts}, nil),
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.ACK, Win: 502}, nil),
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, make([]byte, 100)),
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, make([]byte, 100)),
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1301, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, make([]byte, 100)),
		pkttest.TCPFrame(s, c, pkttest.TCP{Seq: 5001, Ack: 1101, Flags: pkttest.ACK, Win: 0}, nil),
		pkttest.TCPFrame(s, c, pkttest.TCP{Seq: 5001, Ack: 1401, Flags: pkttest.FIN | pkttest.ACK, Win: 509}, nil),
		pkttest.TCPFrame(c, s, pkttest.TCP{Seq: 1401, Ack: 5002, Flags: pkttest.RST | pkttest.ACK, Win: 502}, nil),
		pkttest.UDPFrame(c, s, make([]byte, 33)),
		pkttest.UDPFrame(netip.MustParseAddrPort("[2001:db8::1]:41000"), netip.MustParseAddrPort("[2001:db8::2]:42000"), nil),
		pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: pkttest.ProtoUDP, ID: 0x1234, MF: true}.Bytes(pkttest.UDP{Sport: 41000, Dport: 42000, Len: 1008}.Bytes(make([]byte, 64)))),
		pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: pkttest.ProtoTCP, ID: 0xab, FragOff: 1480}.Bytes(make([]byte, 40))),
		pkttest.Ether(pkttest.EtherIPv6, pkttest.IPv6{Next: 44}.Bytes(pkttest.Frag6(pkttest.ProtoUDP, 0, true, 0xa5d33a2d, pkttest.UDP{Sport: 41000, Dport: 42000, Len: 1008}.Bytes(make([]byte, 64))))),
	}
	const t0, gap = 1_700_000_000_000_000_000, 100_000_000 // 100 ms: past every analysis threshold
	recs := make([]pkttest.Record, len(frames))
	for i, f := range frames {
		recs[i] = pkttest.Record{TS: t0 + int64(i)*gap, Data: f}
	}
	path := pkttest.WriteFile(t, "kinds.pcap", pkttest.Pcap(1, recs...))
	want := tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"_ws.col.Info"}})
	if len(want) != len(frames) {
		t.Fatalf("tshark read %d frames, wrote %d", len(want), len(frames))
	}
	tab, err := flowtable.New(flowtable.Config{Capacity: 16, Seed: 1, IgnoreVLAN: true})
	if err != nil {
		t.Fatal(err)
	}
	var d decode.Packet
	var res flowtable.PacketResult
	for i, f := range frames {
		err := d.Decode(f, linktype.Ethernet)
		tab.Update(&d, t0+int64(i)*gap, uint64(i+1), &res)
		got := string(AppendInfo(nil, &Packet{Decoded: &d, Result: &res, DecodeErr: err}))
		if got != want[i][0] {
			t.Errorf("frame %d:\n netblame %q\n tshark   %q", i+1, got, want[i][0])
		}
	}
}
