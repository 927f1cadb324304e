package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
)

// Inner datagrams carried by the link-layer cases.
var (
	pl4    = []byte("abcd")
	v4TCP  = baseIP4(6).Bytes(baseTCP().Bytes(pl4)) // 44 bytes
	v6TCP  = baseIP6(6).Bytes(baseTCP().Bytes(pl4)) // 64 bytes
	arpPkt = make([]byte, 28)
)

func linkBase(link decode.LinkType, et decode.EtherType) decode.Packet {
	return decode.Packet{Layer: decode.LayerLink, Link: link, EtherType: et}
}

// tcp4At and tcp6At are the expected packets for v4TCP and v6TCP at off.
func tcp4At(p decode.Packet, off int) decode.Packet {
	return withTCP(withIP4(p, off, len(v4TCP), 6), 20, len(pl4))
}

func tcp6At(p decode.Packet, off int) decode.Packet {
	return withTCP(withIP6(p, off, off+40, 24, 6), 20, len(pl4))
}

func vlans(p decode.Packet, count uint8, ids ...uint16) decode.Packet {
	p.VLANCount = count
	copy(p.VLANs[:], ids)
	return p
}

func TestDecodeEthernet(t *testing.T) {
	eth := decode.LinkEthernet
	tagged := func(ids ...uint16) decode.Packet {
		return vlans(tcp4At(wantEth(0x0800), 14+4*len(ids)), uint8(len(ids)), ids...)
	}
	mplsV4 := pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(1000<<12|0x1ff), v4TCP))
	mplsV6 := pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(16<<12|0x40), pkttest.BE32(17<<12|0x1ff), v6TCP))
	runCases(t, []decodeCase{
		{name: "IPv4", data: pkttest.Ether(0x0800, v4TCP), link: eth, want: tcp4At(wantEth(0x0800), 14)},
		{name: "IPv6", data: pkttest.Ether(0x86dd, v6TCP), link: eth, want: tcp6At(wantEth(0x86dd), 14)},
		{name: "ARP is not an error", data: pkttest.Ether(0x0806, arpPkt), link: eth, want: wantEth(0x0806)},
		{name: "802.3 length field", data: pkttest.Ether(0x002e, arpPkt), link: eth, want: wantEth(0x002e)},
		{name: "header only", data: pkttest.Ether(0x0806, nil), link: eth, want: wantEth(0x0806)},
		{name: "short header", data: pkttest.Ether(0x0800, nil)[:13], link: eth, err: decode.ErrShortLink,
			want: decode.Packet{Link: eth}},
		{name: "empty", data: nil, link: eth, err: decode.ErrShortLink, want: decode.Packet{Link: eth}},
		{name: "802.1Q", data: pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x8100, TCI: 0xe064}), link: eth, want: tagged(100)},
		{name: "802.1ad QinQ", data: pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x88a8, TCI: 10}, pkttest.Tag{TPID: 0x8100, TCI: 0x2fff}), link: eth,
			want: tagged(10, 0xfff)},
		{name: "0x9100 QinQ", data: pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x9100, TCI: 7}, pkttest.Tag{TPID: 0x8100, TCI: 8}), link: eth,
			want: tagged(7, 8)},
		{name: "three tags keep two, count three",
			data: pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x88a8, TCI: 1}, pkttest.Tag{TPID: 0x8100, TCI: 2}, pkttest.Tag{TPID: 0x8100, TCI: 3}), link: eth,
			want: vlans(tcp4At(wantEth(0x0800), 26), 3, 1, 2)},
		{name: "tagged IPv6", data: pkttest.Ether(0x86dd, v6TCP, pkttest.Tag{TPID: 0x8100, TCI: 42}), link: eth,
			want: vlans(tcp6At(wantEth(0x86dd), 18), 1, 42)},
		{name: "tagged ARP", data: pkttest.Ether(0x0806, arpPkt, pkttest.Tag{TPID: 0x8100, TCI: 42}), link: eth,
			want: vlans(wantEth(0x0806), 1, 42)},
		{name: "tag cut", data: pkttest.Ether(0x0800, nil, pkttest.Tag{TPID: 0x8100, TCI: 5})[:16], link: eth, err: decode.ErrShortLink,
			want: vlans(decode.Packet{Link: eth}, 0)},
		{name: "second tag cut", data: pkttest.Ether(0x0800, nil, pkttest.Tag{TPID: 0x88a8, TCI: 5}, pkttest.Tag{TPID: 0x8100, TCI: 6})[:20], link: eth,
			err: decode.ErrShortLink, want: vlans(decode.Packet{Link: eth}, 1, 5)},
		{name: "MPLS one label", data: mplsV4, link: eth,
			want: func() decode.Packet { p := tcp4At(wantEth(0x0800), 18); p.MPLSCount = 1; return p }()},
		{name: "MPLS two labels IPv6", data: mplsV6, link: eth,
			want: func() decode.Packet { p := tcp6At(wantEth(0x86dd), 22); p.MPLSCount = 2; return p }()},
		{name: "MPLS non-IP payload", data: pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(0x1ff), []byte{0, 0, 0, 0})), link: eth,
			want: func() decode.Packet { p := wantEth(0x8847); p.MPLSCount = 1; return p }()},
		{name: "MPLS stack cut", data: pkttest.Ether(0x8847, pkttest.BE32(0x000))[:17], link: eth, err: decode.ErrShortLink,
			want: wantEth(0x8847)},
		{name: "MPLS stack without bottom", data: pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(0), pkttest.BE32(0))), link: eth,
			err: decode.ErrShortLink, want: func() decode.Packet { p := wantEth(0x8847); p.MPLSCount = 2; return p }()},
		{name: "IPv4 EtherType, IPv6 inside", data: pkttest.Ether(0x0800, v6TCP), link: eth, err: decode.ErrBadIPVersion,
			want: wantEth(0x0800)},
		{name: "IPv6 EtherType, IPv4 inside", data: pkttest.Ether(0x86dd, pkttest.Cat(v4TCP, make([]byte, 20))), link: eth,
			err: decode.ErrBadIPVersion, want: wantEth(0x86dd)},
	})
}

func TestDecodeCooked(t *testing.T) {
	sllV4 := func(pt uint8) decode.Packet {
		p := tcp4At(linkBase(decode.LinkLinuxSLL, 0x0800), 16)
		p.PktType = pt
		return p
	}
	runCases(t, []decodeCase{
		{name: "SLL IPv4 outgoing", data: pkttest.SLL(4, 1, 0x0800, v4TCP), link: decode.LinkLinuxSLL, want: sllV4(4)},
		{name: "SLL IPv6 on loopback", data: pkttest.SLL(0, 772, 0x86dd, v6TCP), link: decode.LinkLinuxSLL,
			want: tcp6At(linkBase(decode.LinkLinuxSLL, 0x86dd), 16)},
		{name: "SLL with re-inserted VLAN tag", data: pkttest.SLL(0, 1, 0x8100, pkttest.Cat(pkttest.BE16(9), pkttest.BE16(0x0800), v4TCP)),
			link: decode.LinkLinuxSLL, want: vlans(tcp4At(linkBase(decode.LinkLinuxSLL, 0x0800), 20), 1, 9)},
		{name: "SLL 802.2 LLC is no EtherType", data: pkttest.SLL(0, 1, 0x0004, arpPkt), link: decode.LinkLinuxSLL,
			want: linkBase(decode.LinkLinuxSLL, 0)},
		{name: "SLL CAN", data: pkttest.SLL(0, 280, 0x000c, arpPkt), link: decode.LinkLinuxSLL,
			want: linkBase(decode.LinkLinuxSLL, 0)},
		{name: "SLL netlink family 0x0800 is not IPv4", data: pkttest.SLL(4, 824, 0x0800, v4TCP), link: decode.LinkLinuxSLL,
			want: func() decode.Packet { p := linkBase(decode.LinkLinuxSLL, 0); p.PktType = 4; return p }()},
		{name: "SLL ARP", data: pkttest.SLL(1, 1, 0x0806, arpPkt), link: decode.LinkLinuxSLL,
			want: func() decode.Packet { p := linkBase(decode.LinkLinuxSLL, 0x0806); p.PktType = 1; return p }()},
		{name: "SLL short", data: pkttest.SLL(0, 1, 0x0800, nil)[:15], link: decode.LinkLinuxSLL, err: decode.ErrShortLink,
			want: decode.Packet{Link: decode.LinkLinuxSLL}},
		{name: "SLL2 IPv6 outgoing", data: pkttest.SLL2(4, 1, 0x86dd, v6TCP), link: decode.LinkLinuxSLL2,
			want: func() decode.Packet { p := tcp6At(linkBase(decode.LinkLinuxSLL2, 0x86dd), 20); p.PktType = 4; return p }()},
		{name: "SLL2 IPv4", data: pkttest.SLL2(0, 1, 0x0800, v4TCP), link: decode.LinkLinuxSLL2,
			want: tcp4At(linkBase(decode.LinkLinuxSLL2, 0x0800), 20)},
		{name: "SLL2 netlink", data: pkttest.SLL2(0, 824, 0x0010, arpPkt), link: decode.LinkLinuxSLL2,
			want: linkBase(decode.LinkLinuxSLL2, 0)},
		{name: "SLL2 short", data: pkttest.SLL2(0, 1, 0x0800, nil)[:19], link: decode.LinkLinuxSLL2, err: decode.ErrShortLink,
			want: decode.Packet{Link: decode.LinkLinuxSLL2}},
	})
}

func TestDecodeRawAndLoopback(t *testing.T) {
	var cases []decodeCase
	for _, link := range []decode.LinkType{decode.LinkRaw, decode.LinkRawDLT12, decode.LinkRawDLT14} {
		cases = append(cases,
			decodeCase{name: "raw IPv4", data: v4TCP, link: link, want: tcp4At(linkBase(link, 0x0800), 0)},
			decodeCase{name: "raw IPv6", data: v6TCP, link: link, want: tcp6At(linkBase(link, 0x86dd), 0)},
			decodeCase{name: "raw version 5", data: []byte{0x50, 0, 0, 0}, link: link, err: decode.ErrBadIPVersion,
				want: linkBase(link, 0)},
			decodeCase{name: "raw empty", data: nil, link: link, err: decode.ErrShortIP, want: linkBase(link, 0)},
		)
	}
	null := func(fam uint32, order binary.AppendByteOrder, inner []byte) []byte {
		return pkttest.Null(fam, order, inner)
	}
	cases = append(cases, []decodeCase{
		{name: "IPv4 link", data: v4TCP, link: decode.LinkIPv4, want: tcp4At(linkBase(decode.LinkIPv4, 0x0800), 0)},
		{name: "IPv4 link with IPv6", data: v6TCP, link: decode.LinkIPv4, err: decode.ErrBadIPVersion,
			want: linkBase(decode.LinkIPv4, 0x0800)},
		{name: "IPv6 link", data: v6TCP, link: decode.LinkIPv6, want: tcp6At(linkBase(decode.LinkIPv6, 0x86dd), 0)},
		{name: "IPv6 link with IPv4", data: pkttest.Cat(v4TCP, make([]byte, 20)), link: decode.LinkIPv6,
			err: decode.ErrBadIPVersion, want: linkBase(decode.LinkIPv6, 0x86dd)},
		{name: "NULL little-endian AF_INET", data: null(2, binary.LittleEndian, v4TCP), link: decode.LinkNull,
			want: tcp4At(linkBase(decode.LinkNull, 0x0800), 4)},
		{name: "NULL big-endian AF_INET", data: null(2, binary.BigEndian, v4TCP), link: decode.LinkNull,
			want: tcp4At(linkBase(decode.LinkNull, 0x0800), 4)},
		{name: "NULL AF_INET6 24", data: null(24, binary.LittleEndian, v6TCP), link: decode.LinkNull,
			want: tcp6At(linkBase(decode.LinkNull, 0x86dd), 4)},
		{name: "NULL AF_INET6 28 big-endian", data: null(28, binary.BigEndian, v6TCP), link: decode.LinkNull,
			want: tcp6At(linkBase(decode.LinkNull, 0x86dd), 4)},
		{name: "NULL AF_INET6 30", data: null(30, binary.LittleEndian, v6TCP), link: decode.LinkNull,
			want: tcp6At(linkBase(decode.LinkNull, 0x86dd), 4)},
		{name: "NULL unknown family", data: null(7, binary.LittleEndian, v4TCP), link: decode.LinkNull,
			want: linkBase(decode.LinkNull, 0)},
		{name: "NULL AF_INET with IPv6", data: null(2, binary.LittleEndian, v6TCP), link: decode.LinkNull,
			err: decode.ErrBadIPVersion, want: linkBase(decode.LinkNull, 0x0800)},
		{name: "NULL short", data: []byte{2, 0, 0}, link: decode.LinkNull, err: decode.ErrShortLink,
			want: decode.Packet{Link: decode.LinkNull}},
		{name: "LOOP AF_INET", data: null(2, binary.BigEndian, v4TCP), link: decode.LinkLoop,
			want: tcp4At(linkBase(decode.LinkLoop, 0x0800), 4)},
		{name: "LOOP AF_INET6", data: null(24, binary.BigEndian, v6TCP), link: decode.LinkLoop,
			want: tcp6At(linkBase(decode.LinkLoop, 0x86dd), 4)},
		{name: "LOOP is network order only", data: null(2, binary.LittleEndian, v4TCP), link: decode.LinkLoop,
			want: linkBase(decode.LinkLoop, 0)},
		{name: "LOOP short", data: []byte{0}, link: decode.LinkLoop, err: decode.ErrShortLink,
			want: decode.Packet{Link: decode.LinkLoop}},
		{name: "unknown link (radiotap)", data: v4TCP, link: 127, err: decode.ErrUnknownLink,
			want: decode.Packet{Link: 127}},
	}...)
	runCases(t, cases)
}

func TestDecodeWithVLAN(t *testing.T) {
	var p decode.Packet
	// The kernel stripped the outer tag (TCI: priority 5, VLAN 300); one
	// inner tag (VLAN 20) is still in the frame.
	data := pkttest.Ether(0x0800, v4TCP, pkttest.Tag{TPID: 0x8100, TCI: 20})
	if err := p.DecodeWithVLAN(data, decode.LinkEthernet, 5<<13|300); err != nil {
		t.Fatal(err)
	}
	want := vlans(tcp4At(wantEth(0x0800), 18), 2, 300, 20)
	if d := packetDiff(&p, &want); d != "" {
		t.Errorf("DecodeWithVLAN:\n%s", d)
	}
	// A stale packet must not leak into the next decode.
	if err := p.DecodeWithVLAN(pkttest.Ether(0x86dd, v6TCP), decode.LinkEthernet, 7); err != nil {
		t.Fatal(err)
	}
	want = vlans(tcp6At(wantEth(0x86dd), 14), 1, 7)
	if d := packetDiff(&p, &want); d != "" {
		t.Errorf("DecodeWithVLAN untagged frame:\n%s", d)
	}
}

func TestDecodeNetwork(t *testing.T) {
	cases := []struct {
		name string
		et   uint16
		data []byte
		err  error
		want decode.Packet
	}{
		{"IPv4", 0x0800, v4TCP, nil, tcp4At(linkBase(decode.LinkRaw, 0x0800), 0)},
		{"IPv6", 0x86dd, v6TCP, nil, tcp6At(linkBase(decode.LinkRaw, 0x86dd), 0)},
		{"VLAN tag first", 0x8100, pkttest.Cat(pkttest.BE16(33), pkttest.BE16(0x0800), v4TCP), nil,
			vlans(tcp4At(linkBase(decode.LinkRaw, 0x0800), 4), 1, 33)},
		{"ARP", 0x0806, arpPkt, nil, linkBase(decode.LinkRaw, 0x0806)},
		{"IPv4 cut", 0x0800, v4TCP[:19], decode.ErrShortIP, linkBase(decode.LinkRaw, 0x0800)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := dirtyPacket()
			err := p.DecodeNetwork(c.data, c.et)
			if err != c.err {
				t.Errorf("error %v, want %v", err, c.err)
			}
			if d := packetDiff(&p, &c.want); d != "" {
				t.Errorf("packet differs:\n%s", d)
			}
			checkInvariants(t, &p, c.data, err)
		})
	}
}
