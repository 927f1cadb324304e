package decode_test

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
)

func TestDecodeIPv4(t *testing.T) {
	eth := decode.LinkEthernet
	tcpSeg := baseTCP().Bytes(pl4) // 24 bytes
	frame := func(h pkttest.IPv4, l4 []byte) []byte { return pkttest.Ether(0x0800, h.Bytes(l4)) }
	ok := tcp4At(wantEth(0x0800), 14)
	with := func(p decode.Packet, f func(*decode.Packet)) decode.Packet { f(&p); return p }
	net := func(total int, proto decode.IPProto) decode.Packet { return withIP4(wantEth(0x0800), 14, total, proto) }

	opts := []byte{0x94, 4, 0, 0} // router alert
	lateFrag := baseIP4(6)
	lateFrag.FragOff, lateFrag.MF = 1480, true
	firstFrag := baseIP4(6)
	firstFrag.MF = true
	df := baseIP4(6)
	df.DF = true
	withOpts := baseIP4(6)
	withOpts.Opts = opts
	runCases(t, []decodeCase{
		{name: "TCP", data: frame(baseIP4(6), tcpSeg), link: eth, want: ok},
		{name: "DF", data: frame(df, tcpSeg), link: eth,
			want: with(ok, func(p *decode.Packet) { p.Flags = decode.IPv4DontFragment })},
		{name: "options", data: frame(withOpts, tcpSeg), link: eth,
			want: withTCP(with(net(48, 6), func(p *decode.Packet) {
				p.Flags, p.TransOffset = decode.IPv4Options, 14+24
			}), 20, 4)},
		{name: "IHL 4", data: frame(pkttest.IPv4{Proto: 6, IHL: 4}, tcpSeg), link: eth, err: decode.ErrBadIPHeader,
			want: wantEth(0x0800)},
		{name: "IHL 0", data: frame(pkttest.IPv4{Proto: 6, IHL: 0x10}, tcpSeg), link: eth, err: decode.ErrBadIPHeader,
			want: wantEth(0x0800)},
		{name: "IHL beyond capture", data: frame(pkttest.IPv4{Proto: 6, IHL: 15}, tcpSeg), link: eth,
			err: decode.ErrShortIP, want: wantEth(0x0800)},
		{name: "fixed header cut", data: frame(baseIP4(6), nil)[:14+19], link: eth, err: decode.ErrShortIP,
			want: wantEth(0x0800)},
		{name: "version 6 nibble", data: frame(pkttest.IPv4{Proto: 6, Version: 6}, tcpSeg), link: eth,
			err: decode.ErrBadIPVersion, want: wantEth(0x0800)},
		{name: "total length below header", data: frame(pkttest.IPv4{Proto: 6, ID: tIPID, TTL: 61, TOS: 0x28, TotalLen: 19}, tcpSeg),
			link: eth, err: decode.ErrBadIPLength,
			want: with(net(19, 6), func(p *decode.Packet) { p.Flags, p.TransOffset = decode.ShortIPLength, 0 })},
		{name: "total length below IHL with options",
			data: frame(pkttest.IPv4{Proto: 6, ID: tIPID, TTL: 61, TOS: 0x28, Opts: opts, TotalLen: 22}, tcpSeg),
			link: eth, err: decode.ErrBadIPLength,
			want: with(net(22, 6), func(p *decode.Packet) {
				p.Flags, p.TransOffset = decode.ShortIPLength|decode.IPv4Options, 0
			})},
		{name: "total length 0 (TSO)", data: frame(pkttest.IPv4{Proto: 6, ID: tIPID, TTL: 61, TOS: 0x28, TotalLen: pkttest.NoLen}, tcpSeg),
			link: eth, want: with(ok, func(p *decode.Packet) { p.Flags = decode.LengthFromCapture })},
		{name: "snaplen cut payload", data: frame(baseIP4(6), baseTCP().Bytes(make([]byte, 100)))[:14+20+20+30],
			link: eth, want: with(tcp4At(wantEth(0x0800), 14), func(p *decode.Packet) {
				p.Flags = decode.Truncated
				p.IPLen, p.PayloadLen, p.CapPayloadLen = 140, 100, 30
			})},
		{name: "Ethernet padding after datagram", data: pkttest.Cat(frame(baseIP4(6), tcpSeg), make([]byte, 12)), link: eth,
			want: ok},
		{name: "first fragment decoded", data: frame(firstFrag, tcpSeg), link: eth,
			want: with(ok, func(p *decode.Packet) { p.Flags = decode.Fragment | decode.MoreFragments })},
		{name: "later fragment not decoded", data: frame(lateFrag, tcpSeg), link: eth,
			want: withPayload(with(net(44, 6), func(p *decode.Packet) {
				p.Flags, p.FragOffset = decode.Fragment|decode.LaterFragment|decode.MoreFragments, 1480
			}), 34, 24)},
		{name: "last fragment", data: frame(pkttest.IPv4{Proto: 17, ID: tIPID, TTL: 61, TOS: 0x28, FragOff: 8}, tcpSeg), link: eth,
			want: withPayload(with(net(44, 17), func(p *decode.Packet) {
				p.Flags, p.FragOffset = decode.Fragment|decode.LaterFragment, 8
			}), 34, 24)},
		{name: "GRE is not decoded", data: frame(baseIP4(47), tcpSeg), link: eth,
			want: withPayload(net(44, 47), 34, 24)},
		{name: "ESP", data: frame(baseIP4(50), make([]byte, 40)), link: eth,
			want: withPayload(with(net(60, 50), func(p *decode.Packet) { p.Flags = decode.ESP }), 34, 40)},
		{name: "AH then TCP", data: frame(baseIP4(51), pkttest.AH(6, 12, tcpSeg)), link: eth,
			want: withTCP(with(net(20+24+24, 6), func(p *decode.Packet) { p.TransOffset = 34 + 24 }), 20, 4)},
		{name: "AH cut", data: frame(baseIP4(51), pkttest.AH(6, 12, tcpSeg))[:14+20+7], link: eth,
			err: decode.ErrShortExtHeader, want: with(net(68, 51), func(p *decode.Packet) { p.Flags, p.TransOffset = decode.Truncated, 0 })},
		{name: "AH beyond datagram", data: frame(pkttest.IPv4{Proto: 51, ID: tIPID, TTL: 61, TOS: 0x28, TotalLen: 40}, pkttest.AH(6, 12, tcpSeg)),
			link: eth, err: decode.ErrBadIPLength,
			want: with(net(40, 51), func(p *decode.Packet) { p.Flags, p.TransOffset = decode.ShortIPLength, 0 })},
	})
}

func TestDecodeIPv6(t *testing.T) {
	eth := decode.LinkEthernet
	tcpSeg := baseTCP().Bytes(pl4) // 24 bytes
	frame := func(h pkttest.IPv6, payload []byte) []byte { return pkttest.Ether(0x86dd, h.Bytes(payload)) }
	with := func(p decode.Packet, f func(*decode.Packet)) decode.Packet { f(&p); return p }
	// tcpAt: TCP (tcpSeg) at transport offset toff of a datagram with
	// payload length plen.
	tcpAt := func(toff, plen int) decode.Packet {
		return withTCP(withIP6(wantEth(0x86dd), 14, toff, plen, 6), 20, 4)
	}
	net := func(toff, plen int, proto decode.IPProto) decode.Packet {
		return withIP6(wantEth(0x86dd), 14, toff, plen, proto)
	}
	padN := make([]byte, 6) // PadN option body filling a header to 8 bytes
	padN[0], padN[1] = 1, 4
	jumboHBH := func(n uint32) []byte { return pkttest.Cat([]byte{0xc2, 4}, pkttest.BE32(n)) }
	hbh := func(next uint8, payload []byte) []byte { return pkttest.Ext6(next, padN, payload) }
	chain := func(n int) []byte { // n destination-options headers, then TCP
		b := tcpSeg
		next := uint8(6)
		for range n {
			b = pkttest.Ext6(next, padN, b)
			next = 60
		}
		return b
	}
	runCases(t, []decodeCase{
		{name: "TCP", data: frame(baseIP6(6), tcpSeg), link: eth, want: tcpAt(54, 24)},
		{name: "fixed header cut", data: frame(baseIP6(6), nil)[:14+39], link: eth, err: decode.ErrShortIP,
			want: wantEth(0x86dd)},
		{name: "version 4 nibble", data: frame(pkttest.IPv6{Next: 6, Version: 4}, tcpSeg), link: eth,
			err: decode.ErrBadIPVersion, want: wantEth(0x86dd)},
		{name: "snaplen cut", data: frame(baseIP6(6), baseTCP().Bytes(make([]byte, 100)))[:14+40+20+10], link: eth,
			want: with(tcpAt(54, 120), func(p *decode.Packet) {
				p.Flags, p.PayloadLen, p.CapPayloadLen = decode.Truncated, 100, 10
			})},
		{name: "hop-by-hop, routing, destination", data: frame(baseIP6(0), hbh(43, pkttest.Ext6(60, padN, pkttest.Ext6(6, padN, tcpSeg)))),
			link: eth, want: tcpAt(54+8+8+8, 24+24)},
		{name: "chain at the limit", data: frame(baseIP6(60), chain(decode.MaxExtHeaders)), link: eth,
			want: tcpAt(54+8*decode.MaxExtHeaders, 24+8*decode.MaxExtHeaders)},
		{name: "chain too long", data: frame(baseIP6(60), chain(decode.MaxExtHeaders+1)), link: eth,
			err: decode.ErrExtHeaderChain, want: net(0, 24+8*(decode.MaxExtHeaders+1), 60)},
		{name: "atomic fragment is no fragment", data: frame(baseIP6(44), pkttest.Frag6(6, 0, false, 0xdeadbeef, tcpSeg)), link: eth,
			want: with(tcpAt(62, 32), func(p *decode.Packet) { p.IPID = 0xdeadbeef })},
		{name: "first fragment decoded", data: frame(baseIP6(44), pkttest.Frag6(6, 0, true, 77, tcpSeg)), link: eth,
			want: with(tcpAt(62, 32), func(p *decode.Packet) { p.IPID, p.Flags = 77, decode.Fragment|decode.MoreFragments })},
		{name: "later fragment not decoded", data: frame(baseIP6(44), pkttest.Frag6(6, 1232, true, 77, tcpSeg)), link: eth,
			want: withPayload(with(net(62, 32, 6), func(p *decode.Packet) {
				p.IPID, p.Flags, p.FragOffset = 77, decode.Fragment|decode.LaterFragment|decode.MoreFragments, 1232
			}), 62, 24)},
		{name: "fragment header cut", data: frame(baseIP6(44), pkttest.Frag6(6, 0, true, 77, tcpSeg))[:14+40+7], link: eth,
			err: decode.ErrShortExtHeader, want: with(net(0, 32, 44), func(p *decode.Packet) { p.Flags = decode.Truncated })},
		{name: "AH then TCP", data: frame(baseIP6(51), pkttest.AH(6, 12, tcpSeg)), link: eth, want: tcpAt(54+24, 48)},
		{name: "ESP stops", data: frame(baseIP6(50), make([]byte, 30)), link: eth,
			want: withPayload(with(net(54, 30, 50), func(p *decode.Packet) { p.Flags = decode.ESP }), 54, 30)},
		{name: "hop-by-hop then ESP", data: frame(baseIP6(0), hbh(50, make([]byte, 30))), link: eth,
			want: withPayload(with(net(62, 38, 50), func(p *decode.Packet) { p.Flags = decode.ESP }), 62, 30)},
		{name: "no next header", data: frame(baseIP6(59), nil), link: eth, want: withPayload(net(54, 0, 59), 54, 0)},
		{name: "no next header, length 0 is fine", data: frame(pkttest.IPv6{Next: 59, TC: 0xb8, Flow: 0xabcde, Hop: 57}, make([]byte, 8)),
			link: eth, want: withPayload(net(54, 8, 59), 54, 8)},
		{name: "extension header cut", data: frame(baseIP6(0), hbh(6, tcpSeg))[:14+40+4], link: eth,
			err: decode.ErrShortExtHeader, want: with(net(0, 32, 0), func(p *decode.Packet) { p.Flags = decode.Truncated })},
		{name: "extension header beyond payload length", data: frame(pkttest.IPv6{Next: 60, TC: 0xb8, Flow: 0xabcde, Hop: 57, PayloadLen: 4}, hbh(6, tcpSeg)),
			link: eth, err: decode.ErrBadIPLength, want: with(net(0, 4, 60), func(p *decode.Packet) { p.Flags = decode.ShortIPLength })},
		{name: "jumbogram", data: frame(pkttest.IPv6{Next: 0, TC: 0xb8, Flow: 0xabcde, Hop: 57, PayloadLen: pkttest.NoLen}, pkttest.Ext6(6, jumboHBH(8+24), tcpSeg)),
			link: eth, want: with(tcpAt(62, 32), func(p *decode.Packet) { p.Flags = decode.Jumbo })},
		{name: "jumbogram cut by snaplen", data: frame(pkttest.IPv6{Next: 0, TC: 0xb8, Flow: 0xabcde, Hop: 57, PayloadLen: pkttest.NoLen}, pkttest.Ext6(6, jumboHBH(70000), tcpSeg)),
			link: eth, want: with(tcpAt(62, 70000), func(p *decode.Packet) {
				p.Flags, p.PayloadLen = decode.Jumbo|decode.Truncated, 70000-8-20
			})},
		{name: "absurd jumbo length is ignored", data: frame(pkttest.IPv6{Next: 0, TC: 0xb8, Flow: 0xabcde, Hop: 57, PayloadLen: pkttest.NoLen}, pkttest.Ext6(6, jumboHBH(0x80000000), tcpSeg)),
			link: eth, want: with(tcpAt(62, 32), func(p *decode.Packet) { p.Flags = decode.LengthFromCapture })},
		{name: "payload length 0 without jumbo (GSO)", data: frame(pkttest.IPv6{Next: 6, TC: 0xb8, Flow: 0xabcde, Hop: 57, PayloadLen: pkttest.NoLen}, tcpSeg),
			link: eth, want: with(tcpAt(54, 24), func(p *decode.Packet) { p.Flags = decode.LengthFromCapture })},
		{name: "UDP", data: frame(baseIP6(17), pkttest.UDP{Sport: 5353, Dport: 53, Csum: 0x7777}.Bytes(pl4)), link: eth,
			want: with(withPayload(net(54, 12, 17), 62, 4), func(p *decode.Packet) {
				p.Layer, p.SrcPort, p.DstPort, p.UDPLen, p.Checksum = decode.LayerTransport, 5353, 53, 12, 0x7777
			})},
		{name: "ICMPv6 echo request", data: frame(baseIP6(58), pkttest.Cat([]byte{128, 0, 0x12, 0x34}, pkttest.BE32(0x00010002))), link: eth,
			want: with(withPayload(net(54, 8, 58), 58, 4), func(p *decode.Packet) {
				p.Layer, p.ICMPType, p.Checksum = decode.LayerTransport, 128, 0x1234
			})},
	})
}

// SetAddrs and Src/Dst round-trip both families, and a Packet without an
// IP header has no addresses.
func TestAddrs(t *testing.T) {
	for _, c := range [][2]string{{"192.0.2.1", "198.51.100.2"}, {"2001:db8::1", "fe80::2"}, {"::ffff:10.0.0.1", "::1"}} {
		src, dst := netip.MustParseAddr(c[0]), netip.MustParseAddr(c[1])
		var p decode.Packet
		p.SetAddrs(src, dst)
		if p.Src() != src || p.Dst() != dst {
			t.Errorf("%v > %v: got %v > %v", src, dst, p.Src(), p.Dst())
		}
	}
	var p decode.Packet
	if err := p.Decode(pkttest.Ether(0x0806, make([]byte, 28)), decode.LinkEthernet); err != nil || p.Src().IsValid() || p.Dst().IsValid() {
		t.Errorf("ARP: err %v, addresses %v %v", err, p.Src(), p.Dst())
	}
}
