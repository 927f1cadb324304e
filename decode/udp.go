package decode

import "encoding/binary"

// UDP header (RFC 768).
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
	udpLen      = 8
)

// ICMP and ICMPv6 share their first 4 bytes; what follows depends on the
// type and is left in the payload.
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpLen      = 4
)

// udp decodes the UDP header at off. The payload is taken from the IP
// lengths; UDPLen is kept as sent (it may disagree, or be 0 in a jumbogram).
func (p *Packet) udp(data []byte, off, end int) error {
	if err := p.transportFits(data, off, end, udpLen, ErrShortUDP); err != nil {
		return err
	}
	b := data[off : off+udpLen]
	p.Layer = LayerTransport
	p.SrcPort = binary.BigEndian.Uint16(b[udpSrcPort:])
	p.DstPort = binary.BigEndian.Uint16(b[udpDstPort:])
	p.UDPLen = binary.BigEndian.Uint16(b[udpLength:])
	p.Checksum = binary.BigEndian.Uint16(b[udpChecksum:])
	p.setPayload(data, off+udpLen, end)
	return nil
}

// icmp decodes the type, code and checksum of ICMP or ICMPv6 at off.
func (p *Packet) icmp(data []byte, off, end int) error {
	if err := p.transportFits(data, off, end, icmpLen, ErrShortICMP); err != nil {
		return err
	}
	b := data[off : off+icmpLen]
	p.Layer = LayerTransport
	p.ICMPType = b[icmpType]
	p.ICMPCode = b[icmpCode]
	p.Checksum = binary.BigEndian.Uint16(b[icmpChecksum:])
	p.setPayload(data, off+icmpLen, end)
	return nil
}

// transportFits checks that an n-byte transport header at off is in the
// datagram (else ShortIPLength is set too) and in the capture.
func (p *Packet) transportFits(data []byte, off, end, n int, short error) error {
	if len(data)-off < n {
		return short
	}
	if end-off < n {
		p.Flags |= ShortIPLength
		return short
	}
	return nil
}
