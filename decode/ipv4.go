package decode

import (
	"encoding/binary"
)

// IPv4 header (RFC 791).
const (
	ipv4VerIHL    = 0
	ipv4TOS       = 1
	ipv4TotalLen  = 2
	ipv4ID        = 4
	ipv4FlagsFrag = 6
	ipv4TTL       = 8
	ipv4Proto     = 9
	ipv4Src       = 12
	ipv4Dst       = 16
	ipv4MinLen    = 20

	ipv4FlagDF     = 0x4000
	ipv4FlagMF     = 0x2000
	ipv4FragOffset = 0x1fff // in 8-byte units
)

// IP protocol numbers of headers that are not transports.
const (
	protoHopByHop = 0
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoAH       = 51
	protoNoNext   = 59
	protoDstOpts  = 60
)

// ipv4 decodes the IPv4 header at off and what it carries.
func (p *Packet) ipv4(data []byte, off int) error {
	if off < 0 || len(data)-off < ipv4MinLen {
		return ErrShortIP
	}
	b := data[off:]
	b = b[:ipv4MinLen:len(b)]
	vihl := b[ipv4VerIHL]
	if vihl>>4 != 4 {
		return ErrBadIPVersion
	}
	ihl := int(vihl&0x0f) << 2
	if ihl < ipv4MinLen {
		return ErrBadIPHeader
	}
	if len(data)-off < ihl {
		return ErrShortIP
	}
	p.Layer = LayerNetwork
	p.IPVersion = 4
	p.NetOffset = off
	p.TOS = b[ipv4TOS]
	p.IPID = uint32(binary.BigEndian.Uint16(b[ipv4ID:]))
	p.TTL = b[ipv4TTL]
	setIPv4(&p.SrcIP, b[ipv4Src:])
	setIPv4(&p.DstIP, b[ipv4Dst:])
	proto := IPProto(b[ipv4Proto])
	p.Proto = proto

	var f Flags
	if ihl > ipv4MinLen {
		f |= IPv4Options
	}
	total := int(binary.BigEndian.Uint16(b[ipv4TotalLen:]))
	switch {
	case total == 0:
		// Captured on a host using TSO or IPv4 BIG TCP: the header has
		// no length yet, so the datagram is what was captured.
		total = len(data) - off
		f |= LengthFromCapture
	case total < ihl:
		p.IPLen = total
		p.Flags |= f | ShortIPLength
		return ErrBadIPLength
	case total > len(data)-off:
		f |= Truncated
	}
	p.IPLen = total
	ff := binary.BigEndian.Uint16(b[ipv4FlagsFrag:])
	if ff&ipv4FlagDF != 0 {
		f |= IPv4DontFragment
	}
	end := off + total
	if ff&(ipv4FlagMF|ipv4FragOffset) != 0 {
		f |= Fragment
		if ff&ipv4FlagMF != 0 {
			f |= MoreFragments
		}
		p.FragOffset = (ff & ipv4FragOffset) << 3
		if p.FragOffset != 0 {
			// The transport header is in the first fragment only.
			p.Flags |= f | LaterFragment
			p.TransOffset = off + ihl
			p.setPayload(data, off+ihl, end)
			return nil
		}
	}
	p.Flags |= f
	if proto == ProtoTCP { // the common case, one call less
		p.TransOffset = off + ihl
		return p.tcp(data, off+ihl, end)
	}
	if proto == protoAH || proto == protoESP {
		return p.extHeaders(data, off+ihl, end, proto, false)
	}
	return p.transport(data, off+ihl, end, proto)
}

// setIPv4 stores the IPv4 address at the start of b into a as
// Packet.SrcIP documents: 4 bytes, then 12 zero bytes. It compiles to a
// 16-byte clear and a 4-byte copy (an 8-byte store of the zero-extended
// address would be split into byte stores by the compiler).
func setIPv4(a *[16]byte, b []byte) {
	*a = [16]byte{}
	*(*[4]byte)(a[:4]) = [4]byte(b)
}
