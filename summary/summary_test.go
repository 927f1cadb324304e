package summary

import (
	"math"
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/linktype"
)

var (
	cli  = netip.MustParseAddrPort("10.0.0.1:46656")
	srv  = netip.MustParseAddrPort("10.0.0.2:80")
	cli6 = netip.MustParseAddrPort("[2001:db8::1]:5353")
	srv6 = netip.MustParseAddrPort("[2001:db8::2]:40000")
)

// icmp is an ICMP or ICMPv6 header (checksum left 0: decode does not
// check it) with an echo's identifier and sequence number.
func icmp(typ, code uint8) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1} }

// analysed is a flow-table result for a segment the TCP analysis ran on.
func analysed(relSeq, relAck uint32, win int64, events ...flowtable.Event) *flowtable.PacketResult {
	r := &flowtable.PacketResult{Tracked: true, Analyzed: true, RelSeq: relSeq, RelAck: relAck, Window: win}
	for _, e := range events {
		r.Events = r.Events.Add(e)
	}
	return r
}

type infoCase struct {
	name  string
	link  linktype.Type // 0: Ethernet
	frame []byte
	res   *flowtable.PacketResult
	proto string
	ports bool
	info  string
}

// infoCases are one packet of each kind the summary words.
var infoCases = []infoCase{
	{
		name:  "TCP SYN raw, options in fixed order",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1000, Flags: pkttest.SYN, Win: 64240, Opts: pkttest.Pad4(pkttest.OptTS(100, 0), pkttest.OptSACKPerm(), pkttest.OptMSS(1460), pkttest.OptWScale(7))}, nil),
		proto: "TCP", ports: true,
		info: "46656 → 80 [SYN] Seq=1000 Win=64240 Len=0 MSS=1460 WS=128 SACK_PERM TSval=100 TSecr=0",
	},
	{
		// A SYN's window is never scaled: the table says -1.
		name:  "TCP SYN analysed",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1000, Flags: pkttest.SYN, Win: 64240}, nil),
		res:   analysed(0, 0, -1),
		proto: "TCP", ports: true,
		info: "46656 → 80 [SYN] Seq=0 Win=64240 Len=0",
	},
	{
		name:  "TCP retransmission, relative and scaled",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, []byte("hello")),
		res:   analysed(1, 1, 502*128, flowtable.Retransmission),
		proto: "TCP", ports: true,
		info: "[TCP Retransmission] 46656 → 80 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=5",
	},
	{
		// Tags in the events' order; Reset has none (the flags say it).
		name:  "TCP several tags",
		frame: pkttest.TCPFrame(srv, cli, pkttest.TCP{Seq: 5001, Ack: 1006, Flags: pkttest.ACK}, nil),
		res:   analysed(1, 6, 0, flowtable.ZeroWindow, flowtable.DuplicateAck, flowtable.Reset),
		proto: "TCP", ports: true,
		info: "[TCP Dup ACK] [TCP ZeroWindow] 80 → 46656 [ACK] Seq=1 Ack=6 Win=0 Len=0",
	},
	{
		name:  "TCP SACK edges relative to the ACK's base",
		frame: pkttest.TCPFrame(srv, cli, pkttest.TCP{Seq: 5001, Ack: 1006, Flags: pkttest.ACK, Win: 100, Opts: pkttest.Pad4(pkttest.OptSACK(2006, 3006, 4006, 5006))}, nil),
		res:   analysed(1, 6, 100, flowtable.DuplicateAck),
		proto: "TCP", ports: true,
		info: "[TCP Dup ACK] 80 → 46656 [ACK] Seq=1 Ack=6 Win=100 Len=0 SLE=1006 SRE=2006 SLE=3006 SRE=4006",
	},
	{
		name:  "TCP SACK raw when not analysed",
		frame: pkttest.TCPFrame(srv, cli, pkttest.TCP{Seq: 5001, Ack: 1006, Flags: pkttest.ACK, Win: 100, Opts: pkttest.Pad4(pkttest.OptSACK(2006, 3006))}, nil),
		res:   &flowtable.PacketResult{Tracked: true, RelSeq: 1, RelAck: 6, Window: 12800},
		proto: "TCP", ports: true,
		info: "80 → 46656 [ACK] Seq=5001 Ack=1006 Win=100 Len=0 SLE=2006 SRE=3006",
	},
	{
		name:  "TCP urgent, window scale capped at 14",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 7, Ack: 9, Flags: pkttest.URG | pkttest.ACK | pkttest.SYN, Win: 1, Urg: 3, Opts: pkttest.Pad4(pkttest.OptWScale(15))}, []byte("x")),
		proto: "TCP", ports: true,
		info: "46656 → 80 [SYN, ACK, URG] Seq=7 Ack=9 Win=1 Urg=3 Len=1 WS=16384",
	},
	{
		name:  "TCP every flag",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Flags: 0x1ff}, nil),
		proto: "TCP", ports: true,
		info: "46656 → 80 [FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS] Seq=0 Ack=0 Win=0 Urg=0 Len=0",
	},
	{
		name:  "UDP over IPv6",
		frame: pkttest.UDPFrame(cli6, srv6, []byte("abcd")),
		proto: "UDP", ports: true,
		info: "5353 → 40000 Len=4",
	},
	{
		name:  "UDP in a VLAN",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: pkttest.ProtoUDP}.Bytes(pkttest.UDP{Sport: 1, Dport: 2}.Bytes(nil)), pkttest.Tag{TPID: pkttest.EtherVLAN, TCI: 100}),
		proto: "UDP", ports: true,
		info: "1 → 2 Len=0",
	},
	{
		name:  "ICMP echo request",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: 1}.Bytes(icmp(8, 0))),
		proto: "ICMP",
		info:  "Echo (ping) request (type=8, code=0)",
	},
	{
		name:  "ICMP type without a name",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: 1}.Bytes(icmp(42, 3))),
		proto: "ICMP",
		info:  "(type=42, code=3)",
	},
	{
		name:  "ICMPv6 echo reply",
		frame: pkttest.Ether(pkttest.EtherIPv6, pkttest.IPv6{Next: 58}.Bytes(icmp(129, 0))),
		proto: "ICMPv6",
		info:  "Echo (ping) reply (type=129, code=0)",
	},
	{
		// Ports only with the datagram once whole.
		name:  "IPv4 first fragment",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: pkttest.ProtoTCP, ID: 0x1234, MF: true}.Bytes(pkttest.TCP{Sport: 1, Dport: 2, Flags: pkttest.ACK}.Bytes(make([]byte, 12)))),
		proto: "IPv4",
		info:  "Fragmented IP protocol (proto=TCP 6, off=0, ID=1234)",
	},
	{
		name:  "IPv4 later fragment",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: pkttest.ProtoUDP, ID: 0xab, FragOff: 1480}.Bytes(make([]byte, 100))),
		proto: "IPv4",
		info:  "Fragmented IP protocol (proto=UDP 17, off=1480, ID=00ab)",
	},
	{
		name:  "IPv4 fragment of an unnamed protocol",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: 253, ID: 1, FragOff: 8}.Bytes(make([]byte, 8))),
		proto: "IPv4",
		info:  "Fragmented IP protocol (proto=253, off=8, ID=0001)",
	},
	{
		name:  "IPv6 fragment",
		frame: pkttest.Ether(pkttest.EtherIPv6, pkttest.IPv6{Next: 44}.Bytes(pkttest.Frag6(pkttest.ProtoUDP, 0, true, 0xa5d33a2d, pkttest.UDP{Sport: 1, Dport: 2}.Bytes(make([]byte, 16))))),
		proto: "IPv6",
		info:  "IPv6 fragment (off=0 more=y ident=0xa5d33a2d nxt=17)",
	},
	{
		name:  "IPv6 last fragment",
		frame: pkttest.Ether(pkttest.EtherIPv6, pkttest.IPv6{Next: 44}.Bytes(pkttest.Frag6(pkttest.ProtoTCP, 1448, false, 7, make([]byte, 16)))),
		proto: "IPv6",
		info:  "IPv6 fragment (off=1448 more=n ident=0x00000007 nxt=6)",
	},
	{
		name:  "other IP protocol",
		frame: pkttest.Ether(pkttest.EtherIPv4, pkttest.IPv4{Proto: 47}.Bytes(make([]byte, 4))),
		proto: "GRE",
		info:  "IP protocol 47",
	},
	{
		name:  "unnamed IP protocol",
		frame: pkttest.Ether(pkttest.EtherIPv6, pkttest.IPv6{Next: 253}.Bytes(make([]byte, 4))),
		proto: "IPv6",
		info:  "IP protocol 253",
	},
	{
		// A TCP header the capture cut: named by the IP version, the
		// decode error said.
		name:  "cut TCP header",
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Flags: pkttest.ACK}, nil)[:14+20+10],
		proto: "IPv4",
		info:  "IP protocol 6 [decode: TCP header truncated]",
	},
	{
		name:  "ARP",
		frame: pkttest.Ether(0x0806, make([]byte, 28)),
		proto: "ARP",
		info:  "EtherType 0x0806",
	},
	{
		name:  "unknown link type",
		link:  127,
		frame: make([]byte, 40),
		proto: "LINKTYPE_127",
		info:  "[decode: unknown link type]",
	},
}

func decodeCase(t testing.TB, c infoCase) (*decode.Packet, error) {
	t.Helper()
	link := c.link
	if link == 0 {
		link = linktype.Ethernet
	}
	d := new(decode.Packet)
	err := d.Decode(c.frame, link)
	return d, err
}

func TestInfo(t *testing.T) {
	for _, c := range infoCases {
		t.Run(c.name, func(t *testing.T) {
			d, err := decodeCase(t, c)
			p := &Packet{Decoded: d, Result: c.res, DecodeErr: err}
			if got := string(AppendInfo([]byte("prefix "), p)); got != "prefix "+c.info {
				t.Errorf("Info\n got %q\nwant %q", got, "prefix "+c.info)
			}
			if got := Protocol(d); got != c.proto {
				t.Errorf("Protocol = %q, want %q", got, c.proto)
			}
			if got := string(AppendProtocol([]byte("x"), d)); got != "x"+c.proto {
				t.Errorf("AppendProtocol = %q, want %q", got, "x"+c.proto)
			}
			if got := HasPorts(d); got != c.ports {
				t.Errorf("HasPorts = %v, want %v", got, c.ports)
			}
		})
	}
}

// TestInfoFromTable runs a connection through the flow table: the Info
// of each segment shows the numbers and tags the table gave it.
func TestInfoFromTable(t *testing.T) {
	ws := pkttest.Pad4(pkttest.OptWScale(7))
	frames := []struct {
		frame []byte
		info  string
	}{
		{pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1000, Flags: pkttest.SYN, Win: 64240, Opts: ws}, nil),
			"46656 → 80 [SYN] Seq=0 Win=64240 Len=0 WS=128"},
		{pkttest.TCPFrame(srv, cli, pkttest.TCP{Seq: 5000, Ack: 1001, Flags: pkttest.SYN | pkttest.ACK, Win: 65160, Opts: ws}, nil),
			"80 → 46656 [SYN, ACK] Seq=0 Ack=1 Win=65160 Len=0 WS=128"},
		{pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.ACK, Win: 502}, nil),
			"46656 → 80 [ACK] Seq=1 Ack=1 Win=64256 Len=0"},
		{pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, []byte("hello")),
			"46656 → 80 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=5"},
		{pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502}, []byte("hello")),
			"[TCP Retransmission] 46656 → 80 [PSH, ACK] Seq=1 Ack=1 Win=64256 Len=5"},
	}
	tab, err := flowtable.New(flowtable.Config{Capacity: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var d decode.Packet
	var res flowtable.PacketResult
	for i, f := range frames {
		if err := d.Decode(f.frame, linktype.Ethernet); err != nil {
			t.Fatal(err)
		}
		// 300 ms apart: well past the out-of-order threshold.
		tab.Update(&d, int64(i)*300e6, uint64(i+1), &res)
		if got := string(AppendInfo(nil, &Packet{Decoded: &d, Result: &res})); got != f.info {
			t.Errorf("frame %d:\n got %q\nwant %q", i+1, got, f.info)
		}
	}
}

func TestLine(t *testing.T) {
	syn := infoCases[0]
	d, _ := decodeCase(t, syn)
	v6, _ := decodeCase(t, infoCase{frame: pkttest.UDPFrame(netip.MustParseAddrPort("[2001:db8:aaaa:bbbb::1]:1"), srv6, nil)})
	none, noneErr := decodeCase(t, infoCase{link: 127, frame: make([]byte, 180)})
	for _, c := range []struct {
		p    Packet
		want string
	}{
		{Packet{Frame: 3, Time: 127_610_123, Len: 74, Decoded: d},
			"    3    0.127610        10.0.0.1 → 10.0.0.2        TCP 74 " + syn.info},
		{Packet{Frame: 1234567, Time: 123456_789_000_000, Len: 1514, Decoded: d},
			"1234567 123456.789000        10.0.0.1 → 10.0.0.2        TCP 1514 " + syn.info},
		// Addresses longer than the column are not cut.
		{Packet{Frame: 10, Time: -1000, Len: 62, Decoded: v6},
			"   10   -0.000001 2001:db8:aaaa:bbbb::1 → 2001:db8::2     UDP 62 1 → 40000 Len=0"},
		// Without IP: dashes, and an empty Info adds no space before the error.
		{Packet{Frame: 1, Len: 180, Decoded: none, DecodeErr: noneErr},
			"    1    0.000000               - → -               LINKTYPE_127 180 [decode: unknown link type]"},
	} {
		if got := string(AppendLine([]byte(">"), &c.p)); got != ">"+c.want {
			t.Errorf("line\n got %q\nwant %q", got, ">"+c.want)
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	for _, c := range []struct {
		ns     int64
		digits int
		want   string
	}{
		{0, 9, "0.000000000"},
		{0, 6, "0.000000"},
		{1, 9, "0.000000001"},
		{1_700_000_000_123_456_789, 9, "1700000000.123456789"},
		{1_700_000_000_123_456_789, 6, "1700000000.123456"}, // truncated, not rounded
		{999_999_999, 1, "0.9"},
		{-1000, 9, "-0.000001000"},
		{-1_500_000_000, 3, "-1.500"},
		{math.MinInt64, 9, "-9223372036.854775808"},
		{math.MaxInt64, 9, "9223372036.854775807"},
	} {
		if got := string(AppendSeconds([]byte("t="), c.ns, c.digits)); got != "t="+c.want {
			t.Errorf("AppendSeconds(%d, %d) = %q, want %q", c.ns, c.digits, got, "t="+c.want)
		}
	}
}

// TestAllocs: a line of every kind, built into a reused buffer, allocates
// nothing.
func TestAllocs(t *testing.T) {
	type built struct {
		d   *decode.Packet
		err error
		res *flowtable.PacketResult
	}
	var ps []built
	for _, c := range infoCases {
		d, err := decodeCase(t, c)
		ps = append(ps, built{d, err, c.res})
	}
	buf := make([]byte, 0, 512)
	var p Packet
	allocs := testing.AllocsPerRun(100, func() {
		for i, b := range ps {
			p = Packet{Frame: uint64(i + 1), Time: int64(i) * 1e6, Len: 60, Decoded: b.d, Result: b.res, DecodeErr: b.err}
			buf = AppendLine(buf[:0], &p)
			buf = AppendInfo(buf[:0], &p)
			buf = AppendProtocol(buf[:0], b.d)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations building %d lines, want 0", allocs, len(ps))
	}
}

// BenchmarkAppendLine is the cost of one summary line of an analysed TCP
// segment with timestamps and a retransmission tag.
func BenchmarkAppendLine(b *testing.B) {
	c := infoCase{
		frame: pkttest.TCPFrame(cli, srv, pkttest.TCP{Seq: 1001, Ack: 5001, Flags: pkttest.PSH | pkttest.ACK, Win: 502, Opts: pkttest.Pad4(pkttest.OptTS(123456789, 987654321))}, make([]byte, 1448)),
		res:   analysed(1449, 1, 502*128, flowtable.Retransmission),
	}
	d, err := decodeCase(b, c)
	if err != nil {
		b.Fatal(err)
	}
	p := Packet{Frame: 123456, Time: 12_345_678_901, Len: len(c.frame), Decoded: d, Result: c.res}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLine(buf[:0], &p)
	}
	b.SetBytes(int64(len(buf)))
}
