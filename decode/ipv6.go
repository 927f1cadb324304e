package decode

import (
	"encoding/binary"
	"math"
)

// IPv6 header (RFC 8200).
const (
	ipv6VerTCFlow  = 0 // version 4 bits, traffic class 8, flow label 20
	ipv6PayloadLen = 4
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	ipv6Src        = 8
	ipv6Dst        = 24
	ipv6HeaderLen  = 40

	ipv6FlowLabelMask = 0xfffff
)

// IPv6 extension headers.
const (
	extNextHeader = 0
	extLen        = 1 // hop-by-hop, routing, destination: 8-byte units after the first 8
	extUnit       = 8
	extMinLen     = 8 // every extension header and AH is at least 8 bytes

	fragOffsetFlags = 2 // offset in 8-byte units << 3, 2 reserved bits, M
	fragID          = 4
	fragHeaderLen   = 8
	fragOffsetMask  = 0xfff8
	fragMore        = 0x0001

	ahUnit = 4 // AH payload length: 4-byte units, minus 2

	optPad1        = 0
	optJumbo       = 0xc2
	optJumboLen    = 4
	optHeaderBytes = 2
)

// MaxExtHeaders bounds the extension headers followed in one packet; a
// longer chain yields ErrExtHeaderChain. Real stacks send at most about six.
const MaxExtHeaders = 10

// ipv6 decodes the IPv6 header at off and what it carries.
func (p *Packet) ipv6(data []byte, off int) error {
	if off < 0 || len(data)-off < ipv6HeaderLen {
		return ErrShortIP
	}
	b := data[off:]
	b = b[:ipv6HeaderLen:len(b)]
	vtf := binary.BigEndian.Uint32(b[ipv6VerTCFlow:])
	if vtf>>28 != 6 {
		return ErrBadIPVersion
	}
	p.Layer = LayerNetwork
	p.IPVersion = 6
	p.NetOffset = off
	p.TOS = uint8(vtf >> 20)
	p.FlowLabel = vtf & ipv6FlowLabelMask
	p.TTL = b[ipv6HopLimit]
	p.SrcIP = [16]byte(b[ipv6Src:])
	p.DstIP = [16]byte(b[ipv6Dst:])
	nh := IPProto(b[ipv6NextHeader])
	p.Proto = nh // until the extension headers say otherwise
	toff := off + ipv6HeaderLen
	end := toff + int(binary.BigEndian.Uint16(b[ipv6PayloadLen:]))
	if end == toff && nh != protoNoNext {
		end = p.ipv6NoLength(data, toff, nh)
	}
	p.IPLen = end - off
	if end > len(data) {
		p.Flags |= Truncated
	}
	switch nh {
	case ProtoTCP: // the common case, one call less
		p.TransOffset = toff
		return p.tcp(data, toff, end)
	case protoHopByHop, protoRouting, protoFragment, protoESP, protoAH, protoDstOpts, protoNoNext:
		return p.extHeaders(data, toff, end, nh, true)
	}
	return p.transport(data, toff, end, nh)
}

// ipv6NoLength finds where a datagram with payload length 0 ends: at the
// Jumbo Payload option of a hop-by-hop header (RFC 2675), or, without one,
// at the end of the capture (a GSO packet seen before segmentation).
func (p *Packet) ipv6NoLength(data []byte, off int, nh IPProto) int {
	if nh == protoHopByHop && len(data)-off >= extMinLen {
		n := (int(data[off+extLen]) + 1) * extUnit
		if n <= len(data)-off {
			opts := data[off+optHeaderBytes : off+n]
			for i := 0; i < len(opts); {
				t := opts[i]
				if t == optPad1 {
					i++
					continue
				}
				if i+optHeaderBytes > len(opts) {
					break
				}
				l := int(opts[i+1])
				if t == optJumbo && l == optJumboLen && i+optHeaderBytes+optJumboLen <= len(opts) {
					n := binary.BigEndian.Uint32(opts[i+optHeaderBytes:])
					if n > math.MaxInt32 { // nonsense, and would wrap a 32-bit int
						break
					}
					p.Flags |= Jumbo
					return off + int(n)
				}
				i += optHeaderBytes + l
			}
		}
	}
	p.Flags |= LengthFromCapture
	return len(data)
}

// extHeaders walks extension headers starting with nh at off up to the
// transport header. For IPv4 (v6 false) only AH and ESP are headers here.
func (p *Packet) extHeaders(data []byte, off, end int, nh IPProto, v6 bool) error {
	for n := 0; ; n++ {
		var hlen int
		switch nh {
		case protoHopByHop, protoRouting, protoDstOpts:
			if !v6 {
				return p.transport(data, off, end, nh)
			}
			if err := p.extFits(data, off, end, extMinLen); err != nil {
				return err
			}
			hlen = (int(data[off+extLen]) + 1) * extUnit
		case protoAH:
			if err := p.extFits(data, off, end, extMinLen); err != nil {
				return err
			}
			hlen = (int(data[off+extLen]) + 2) * ahUnit
		case protoFragment:
			if !v6 {
				return p.transport(data, off, end, nh)
			}
			if err := p.extFits(data, off, end, fragHeaderLen); err != nil {
				return err
			}
			hlen = fragHeaderLen
			of := binary.BigEndian.Uint16(data[off+fragOffsetFlags:])
			p.IPID = binary.BigEndian.Uint32(data[off+fragID:])
			if of&(fragOffsetMask|fragMore) != 0 { // else an atomic fragment
				p.Flags |= Fragment
				if of&fragMore != 0 {
					p.Flags |= MoreFragments
				}
				p.FragOffset = of & fragOffsetMask
				if p.FragOffset != 0 {
					p.Flags |= LaterFragment
					p.Proto = IPProto(data[off+extNextHeader])
					p.TransOffset = off + hlen
					p.setPayload(data, off+hlen, end)
					return nil
				}
			}
		case protoESP:
			p.Flags |= ESP
			p.Proto = nh
			p.TransOffset = off
			p.setPayload(data, off, end)
			return nil
		case protoNoNext:
			p.Proto = nh
			p.TransOffset = off
			p.setPayload(data, off, end)
			return nil
		default:
			return p.transport(data, off, end, nh)
		}
		if n >= MaxExtHeaders {
			return ErrExtHeaderChain
		}
		if err := p.extFits(data, off, end, hlen); err != nil {
			return err
		}
		nh = IPProto(data[off+extNextHeader])
		off += hlen
	}
}

// extFits checks that n bytes of header at off lie within the capture and
// within the datagram (a capture cut is reported first).
func (p *Packet) extFits(data []byte, off, end, n int) error {
	if len(data)-off < n {
		return ErrShortExtHeader
	}
	if end-off < n {
		p.Flags |= ShortIPLength
		return ErrBadIPLength
	}
	return nil
}
