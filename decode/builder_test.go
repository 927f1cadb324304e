package decode_test

import (
	"encoding/binary"
	"net/netip"
)

// A tiny packet builder for tests and benchmarks: each header type renders
// itself in front of a payload, computing lengths unless told otherwise.

// noLen asks a builder to write a literal 0 into a length field.
const noLen = -1

var (
	macDst = []byte{0x02, 0, 0, 0, 0, 0x01}
	macSrc = []byte{0x02, 0, 0, 0, 0, 0x02}
	v4Src  = netip.MustParseAddr("192.0.2.1")
	v4Dst  = netip.MustParseAddr("198.51.100.2")
	v6Src  = netip.MustParseAddr("2001:db8::1")
	v6Dst  = netip.MustParseAddr("2001:db8:ffff::2")
)

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// tag is one VLAN tag: its TPID and TCI.
type tag struct{ TPID, TCI uint16 }

// ether renders an Ethernet II frame with optional VLAN tags.
func ether(et uint16, payload []byte, tags ...tag) []byte {
	b := cat(macDst, macSrc)
	for _, t := range tags {
		b = cat(b, be16(t.TPID), be16(t.TCI))
	}
	return cat(b, be16(et), payload)
}

// ip4 is an IPv4 header.
type ip4 struct {
	TOS, TTL, Proto uint8
	ID              uint16
	DF, MF          bool
	FragOff         uint16 // bytes, a multiple of 8
	Src, Dst        netip.Addr
	Opts            []byte // padded to 4 bytes by the caller
	TotalLen        int    // 0: computed; noLen: 0
	IHL             int    // 0: computed; else this many 4-byte words
	Version         uint8  // 0: 4
}

func (h ip4) bytes(payload []byte) []byte {
	ihl := (20 + len(h.Opts)) / 4
	if h.IHL != 0 {
		ihl = h.IHL
	}
	total := 20 + len(h.Opts) + len(payload)
	switch h.TotalLen {
	case 0:
	case noLen:
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
		src, dst = v4Src, v4Dst
	}
	ttl := h.TTL
	if ttl == 0 {
		ttl = 64
	}
	b := []byte{ver<<4 | uint8(ihl&0x0f), h.TOS}
	b = cat(b, be16(uint16(total)), be16(h.ID), be16(ff), []byte{ttl, h.Proto, 0xbe, 0xef})
	s4, d4 := src.As4(), dst.As4()
	return cat(b, s4[:], d4[:], h.Opts, payload)
}

// ip6 is an IPv6 header; extension headers go in the payload.
type ip6 struct {
	TC         uint8
	Flow       uint32
	Hop, Next  uint8
	Src, Dst   netip.Addr
	PayloadLen int // 0: computed; noLen: 0
	Version    uint8
}

func (h ip6) bytes(payload []byte) []byte {
	plen := len(payload)
	switch h.PayloadLen {
	case 0:
	case noLen:
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
		src, dst = v6Src, v6Dst
	}
	hop := h.Hop
	if hop == 0 {
		hop = 64
	}
	vtf := uint32(ver)<<28 | uint32(h.TC)<<20 | h.Flow&0xfffff
	s, d := src.As16(), dst.As16()
	return cat(be32(vtf), be16(uint16(plen)), []byte{h.Next, hop}, s[:], d[:], payload)
}

// ext6 renders a hop-by-hop, routing or destination options header with
// body (padded with zeros to a multiple of 8 bytes including the first 2).
func ext6(next uint8, body []byte, payload []byte) []byte {
	b := cat([]byte{next, 0}, body)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	b[1] = uint8(len(b)/8 - 1)
	return cat(b, payload)
}

// frag6 renders an IPv6 fragment header.
func frag6(next uint8, offset uint16, more bool, id uint32, payload []byte) []byte {
	of := offset &^ 7
	if more {
		of |= 1
	}
	return cat([]byte{next, 0}, be16(of), be32(id), payload)
}

// ah renders an authentication header with an ICV of icv bytes.
func ah(next uint8, icv int, payload []byte) []byte {
	n := 12 + icv
	b := cat([]byte{next, uint8(n/4 - 2), 0, 0}, be32(0x1234), be32(1), make([]byte, icv))
	return cat(b, payload)
}

// tcpH is a TCP header.
type tcpH struct {
	Sport, Dport   uint16
	Seq, Ack       uint32
	Flags          uint16 // low 8 bits in byte 13, bit 8 is NS
	Win, Csum, Urg uint16
	Opts           []byte // already padded (see pad4)
	DataOff        int    // 0: computed; else this many 4-byte words
}

func (h tcpH) bytes(payload []byte) []byte {
	off := (20 + len(h.Opts)) / 4
	if h.DataOff != 0 {
		off = h.DataOff
	}
	b := cat(be16(h.Sport), be16(h.Dport), be32(h.Seq), be32(h.Ack))
	b = append(b, uint8(off<<4)|uint8(h.Flags>>8&1), uint8(h.Flags))
	return cat(b, be16(h.Win), be16(h.Csum), be16(h.Urg), h.Opts, payload)
}

// TCP options.
func optMSS(v uint16) []byte   { return cat([]byte{2, 4}, be16(v)) }
func optWS(s uint8) []byte     { return []byte{3, 3, s} }
func optSACKPerm() []byte      { return []byte{4, 2} }
func optTS(v, e uint32) []byte { return cat([]byte{8, 10}, be32(v), be32(e)) }
func optSACK(edges ...uint32) []byte {
	b := []byte{5, uint8(2 + 4*len(edges))}
	for _, e := range edges {
		b = cat(b, be32(e))
	}
	return b
}

// pad4 concatenates options and pads them with zeros (EOL) to a multiple
// of 4 bytes.
func pad4(opts ...[]byte) []byte {
	b := cat(opts...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// udpH is a UDP header.
type udpH struct {
	Sport, Dport uint16
	Len          int // 0: computed; noLen: 0
	Csum         uint16
}

func (h udpH) bytes(payload []byte) []byte {
	l := 8 + len(payload)
	switch h.Len {
	case 0:
	case noLen:
		l = 0
	default:
		l = h.Len
	}
	return cat(be16(h.Sport), be16(h.Dport), be16(uint16(l)), be16(h.Csum), payload)
}

// sll renders a Linux cooked v1 header.
func sll(pktType, haType, proto uint16, payload []byte) []byte {
	return cat(be16(pktType), be16(haType), be16(6), macSrc, []byte{0, 0}, be16(proto), payload)
}

// sll2 renders a Linux cooked v2 header.
func sll2(pktType uint8, haType, proto uint16, payload []byte) []byte {
	return cat(be16(proto), be16(0), be32(7), be16(haType), []byte{pktType, 6}, macSrc, []byte{0, 0}, payload)
}

// nullHdr renders a BSD loopback header in the given byte order.
func nullHdr(family uint32, order binary.AppendByteOrder, payload []byte) []byte {
	return cat(order.AppendUint32(nil, family), payload)
}
