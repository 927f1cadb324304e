// Package pkttest builds packets and capture files for tests: Ethernet
// frames with VLAN tags, Linux cooked and BSD loopback headers, IPv4 with
// options and fragments, IPv6 with extension headers, TCP with every
// option, UDP, and pcap files of them.
//
// Each header is a struct whose Bytes method renders it in front of a
// payload, computing lengths and the IPv4 header checksum unless told
// otherwise, so a test states only what it is about. Frame builders
// (TCPFrame, UDPFrame) give whole Ethernet frames with valid checksums.
//
// It is for tests only; nothing in the product imports it.
package pkttest

import (
	"encoding/binary"
	"net/netip"

	"github.com/netblame/netblame/internal/ipsum"
)

// NoLen asks a header to write a literal 0 into its length field.
const NoLen = -1

// Addresses used when a header leaves its own unset.
var (
	MACDst = []byte{0x02, 0, 0, 0, 0, 0x01}
	MACSrc = []byte{0x02, 0, 0, 0, 0, 0x02}
	V4Src  = netip.MustParseAddr("192.0.2.1")
	V4Dst  = netip.MustParseAddr("198.51.100.2")
	V6Src  = netip.MustParseAddr("2001:db8::1")
	V6Dst  = netip.MustParseAddr("2001:db8:ffff::2")
)

// EtherTypes and IP protocol numbers the builders use.
const (
	EtherIPv4 = 0x0800
	EtherIPv6 = 0x86dd
	EtherVLAN = 0x8100
	EtherQinQ = 0x88a8
	ProtoTCP  = 6
	ProtoUDP  = 17
)

// Cat concatenates byte slices into a new one.
func Cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// BE16 and BE32 are v in network byte order.
func BE16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func BE32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Tag is one VLAN tag: its TPID and TCI.
type Tag struct{ TPID, TCI uint16 }

// Ether renders an Ethernet II frame with optional VLAN tags.
func Ether(etherType uint16, payload []byte, tags ...Tag) []byte {
	b := Cat(MACDst, MACSrc)
	for _, t := range tags {
		b = Cat(b, BE16(t.TPID), BE16(t.TCI))
	}
	return Cat(b, BE16(etherType), payload)
}

// IPv4 is an IPv4 header.
type IPv4 struct {
	TOS, TTL, Proto uint8
	ID              uint16
	DF, MF          bool
	FragOff         uint16 // bytes, a multiple of 8
	Src, Dst        netip.Addr
	Opts            []byte // padded to 4 bytes by the caller
	TotalLen        int    // 0: computed; NoLen: 0
	IHL             int    // 0: computed; else this many 4-byte words
	Version         uint8  // 0: 4
	Checksum        uint16 // 0: computed
}

// Bytes renders the header in front of payload.
func (h IPv4) Bytes(payload []byte) []byte {
	ihl := (20 + len(h.Opts)) / 4
	if h.IHL != 0 {
		ihl = h.IHL
	}
	total := 20 + len(h.Opts) + len(payload)
	switch h.TotalLen {
	case 0:
	case NoLen:
		total = 0
	default:
		total = h.TotalLen
	}
	ver := h.Version
	if ver == 0 {
		ver = 4
	}
	ff := h.FragOff / 8
	if h.DF {
		ff |= 0x4000
	}
	if h.MF {
		ff |= 0x2000
	}
	src, dst := h.Src, h.Dst
	if !src.IsValid() {
		src, dst = V4Src, V4Dst
	}
	ttl := h.TTL
	if ttl == 0 {
		ttl = 64
	}
	b := []byte{ver<<4 | uint8(ihl&0x0f), h.TOS}
	b = Cat(b, BE16(uint16(total)), BE16(h.ID), BE16(ff), []byte{ttl, h.Proto, 0, 0})
	s4, d4 := src.As4(), dst.As4()
	b = Cat(b, s4[:], d4[:], h.Opts)
	sum := h.Checksum
	if sum == 0 {
		sum = ipsum.Checksum(0, b)
	}
	binary.BigEndian.PutUint16(b[10:], sum)
	return Cat(b, payload)
}

// IPv6 is an IPv6 header; extension headers go in the payload (Ext6,
// Frag6, AH).
type IPv6 struct {
	TC         uint8
	Flow       uint32
	Hop, Next  uint8
	Src, Dst   netip.Addr
	PayloadLen int // 0: computed; NoLen: 0
	Version    uint8
}

// Bytes renders the header in front of payload.
func (h IPv6) Bytes(payload []byte) []byte {
	plen := len(payload)
	switch h.PayloadLen {
	case 0:
	case NoLen:
		plen = 0
	default:
		plen = h.PayloadLen
	}
	ver := h.Version
	if ver == 0 {
		ver = 6
	}
	src, dst := h.Src, h.Dst
	if !src.IsValid() {
		src, dst = V6Src, V6Dst
	}
	hop := h.Hop
	if hop == 0 {
		hop = 64
	}
	vtf := uint32(ver)<<28 | uint32(h.TC)<<20 | h.Flow&0xfffff
	s, d := src.As16(), dst.As16()
	return Cat(BE32(vtf), BE16(uint16(plen)), []byte{h.Next, hop}, s[:], d[:], payload)
}

// Ext6 renders a hop-by-hop, routing or destination options header with
// body (padded with zeros to a multiple of 8 bytes including the first 2).
func Ext6(next uint8, body []byte, payload []byte) []byte {
	b := Cat([]byte{next, 0}, body)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	b[1] = uint8(len(b)/8 - 1)
	return Cat(b, payload)
}

// Frag6 renders an IPv6 fragment header.
func Frag6(next uint8, offset uint16, more bool, id uint32, payload []byte) []byte {
	of := offset &^ 7
	if more {
		of |= 1
	}
	return Cat([]byte{next, 0}, BE16(of), BE32(id), payload)
}

// AH renders an authentication header with an ICV of icv bytes.
func AH(next uint8, icv int, payload []byte) []byte {
	n := 12 + icv
	b := Cat([]byte{next, uint8(n/4 - 2), 0, 0}, BE32(0x1234), BE32(1), make([]byte, icv))
	return Cat(b, payload)
}

// TCP flag bits (Flags bit 8 is NS).
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
	ECE = 0x40
	CWR = 0x80
	NS  = 0x100
)

// TCP is a TCP header.
type TCP struct {
	Sport, Dport   uint16
	Seq, Ack       uint32
	Flags          uint16 // low 8 bits in byte 13, bit 8 is NS
	Win, Csum, Urg uint16
	Opts           []byte // already padded (see Pad4)
	DataOff        int    // 0: computed; else this many 4-byte words
}

// Bytes renders the header in front of payload, with the checksum as
// given (TCPFrame computes it).
func (h TCP) Bytes(payload []byte) []byte {
	off := (20 + len(h.Opts)) / 4
	if h.DataOff != 0 {
		off = h.DataOff
	}
	b := Cat(BE16(h.Sport), BE16(h.Dport), BE32(h.Seq), BE32(h.Ack))
	b = append(b, uint8(off<<4)|uint8(h.Flags>>8&1), uint8(h.Flags))
	return Cat(b, BE16(h.Win), BE16(h.Csum), BE16(h.Urg), h.Opts, payload)
}

// TCP options, unpadded; Pad4 joins and pads them.
func OptMSS(v uint16) []byte   { return Cat([]byte{2, 4}, BE16(v)) }
func OptWScale(s uint8) []byte { return []byte{3, 3, s} }
func OptSACKPerm() []byte      { return []byte{4, 2} }
func OptTS(v, e uint32) []byte { return Cat([]byte{8, 10}, BE32(v), BE32(e)) }

// OptSACK is a SACK option of left/right edge pairs.
func OptSACK(edges ...uint32) []byte {
	b := []byte{5, uint8(2 + 4*len(edges))}
	for _, e := range edges {
		b = Cat(b, BE32(e))
	}
	return b
}

// Pad4 concatenates options and pads them with zeros (EOL) to a multiple
// of 4 bytes.
func Pad4(opts ...[]byte) []byte {
	b := Cat(opts...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// UDP is a UDP header.
type UDP struct {
	Sport, Dport uint16
	Len          int // 0: computed; NoLen: 0
	Csum         uint16
}

// Bytes renders the header in front of payload.
func (h UDP) Bytes(payload []byte) []byte {
	l := 8 + len(payload)
	switch h.Len {
	case 0:
	case NoLen:
		l = 0
	default:
		l = h.Len
	}
	return Cat(BE16(h.Sport), BE16(h.Dport), BE16(uint16(l)), BE16(h.Csum), payload)
}

// SLL renders a Linux cooked v1 header.
func SLL(pktType, haType, proto uint16, payload []byte) []byte {
	return Cat(BE16(pktType), BE16(haType), BE16(6), MACSrc, []byte{0, 0}, BE16(proto), payload)
}

// SLL2 renders a Linux cooked v2 header.
func SLL2(pktType uint8, haType, proto uint16, payload []byte) []byte {
	return Cat(BE16(proto), BE16(0), BE32(7), BE16(haType), []byte{pktType, 6}, MACSrc, []byte{0, 0}, payload)
}

// Null renders a BSD loopback header in the given byte order.
func Null(family uint32, order binary.AppendByteOrder, payload []byte) []byte {
	return Cat(order.AppendUint32(nil, family), payload)
}

// TCPFrame is an Ethernet frame of an IPv4 or IPv6 (by src's family) TCP
// segment from src to dst, ports taken from them, with valid IP and TCP
// checksums.
func TCPFrame(src, dst netip.AddrPort, h TCP, payload []byte) []byte {
	h.Sport, h.Dport, h.Csum = src.Port(), dst.Port(), 0
	seg := h.Bytes(payload)
	binary.BigEndian.PutUint16(seg[16:], transportSum(src.Addr(), dst.Addr(), ProtoTCP, seg))
	return ipFrame(src.Addr(), dst.Addr(), ProtoTCP, seg)
}

// UDPFrame is an Ethernet frame of an IPv4 or IPv6 UDP datagram from src
// to dst with valid checksums.
func UDPFrame(src, dst netip.AddrPort, payload []byte) []byte {
	dg := UDP{Sport: src.Port(), Dport: dst.Port()}.Bytes(payload)
	sum := transportSum(src.Addr(), dst.Addr(), ProtoUDP, dg)
	if sum == 0 {
		sum = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(dg[6:], sum)
	return ipFrame(src.Addr(), dst.Addr(), ProtoUDP, dg)
}

func ipFrame(src, dst netip.Addr, proto uint8, payload []byte) []byte {
	if src.Is4() {
		return Ether(EtherIPv4, IPv4{Proto: proto, Src: src, Dst: dst}.Bytes(payload))
	}
	return Ether(EtherIPv6, IPv6{Next: proto, Src: src, Dst: dst}.Bytes(payload))
}

// transportSum is the TCP or UDP checksum of seg (its checksum field
// zero) over the pseudo-header of src and dst.
func transportSum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	var pseudo []byte
	pseudo = append(pseudo, src.AsSlice()...)
	pseudo = append(pseudo, dst.AsSlice()...)
	if src.Is4() {
		pseudo = append(pseudo, 0, proto)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	} else {
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
		pseudo = append(pseudo, 0, 0, 0, proto)
	}
	return ipsum.Checksum(ipsum.Add(0, pseudo), seg)
}
