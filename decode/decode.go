package decode

// Decode resets p and decodes data, a frame whose first byte is that of the
// link type link. It never allocates and never panics. It returns nil when
// every header it met was well formed, or one of the Err* sentinels when a
// header was malformed or cut by the capture; p.Layer says how far it got
// either way. A non-IP network layer (ARP, LLDP ...) is not an error: p.Layer
// is then LayerLink.
func (p *Packet) Decode(data []byte, link LinkType) error {
	// One call, so that Decode is inlined and a frame costs one call.
	return p.decode(data, link, 0)
}

// DecodeWithVLAN is Decode for a frame whose outermost 802.1Q tag was removed
// by the kernel or the NIC (AF_PACKET reports it beside the frame as
// tp_vlan_tci). tci is that tag control information: its 12-bit VLAN ID is
// recorded as the outermost VLAN, before any tags still in the frame.
func (p *Packet) DecodeWithVLAN(data []byte, link LinkType, tci uint16) error {
	return p.decode(data, link, hasTag|uint32(tci))
}

// DecodeNetwork resets p and decodes data that starts at the network layer,
// whose protocol is etherType (for example the sll_protocol of an AF_PACKET
// SOCK_DGRAM socket). VLAN EtherTypes are followed as in an Ethernet frame.
// p.Link is set to LinkRaw since there is no link header.
func (p *Packet) DecodeNetwork(data []byte, etherType uint16) error {
	*p = Packet{Link: LinkRaw}
	return p.etherType(data, 0, etherType)
}

// link dispatches on the link type.
func (p *Packet) link(data []byte, link LinkType) error {
	switch link {
	case LinkEthernet:
		return p.ethernet(data)
	case LinkLinuxSLL:
		return p.sll(data)
	case LinkLinuxSLL2:
		return p.sll2(data)
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		return p.raw(data)
	case LinkIPv4:
		p.Layer = LayerLink
		p.EtherType = etherTypeIPv4
		return p.ipv4(data, 0)
	case LinkIPv6:
		p.Layer = LayerLink
		p.EtherType = etherTypeIPv6
		return p.ipv6(data, 0)
	case LinkNull:
		return p.null(data)
	case LinkLoop:
		return p.loop(data)
	}
	return ErrUnknownLink
}

// transport decodes the header of protocol proto at off; end is where the
// IP datagram ends according to its length fields (it may lie beyond data).
func (p *Packet) transport(data []byte, off, end int, proto IPProto) error {
	p.Proto = proto
	p.TransOffset = off
	switch proto {
	case ProtoTCP:
		return p.tcp(data, off, end)
	case ProtoUDP:
		return p.udp(data, off, end)
	case ProtoICMP, ProtoICMPv6:
		return p.icmp(data, off, end)
	}
	p.setPayload(data, off, end)
	return nil
}

// setPayload records the payload [off, end) of which the capture may hold
// only a part. PayloadOffset is clamped to len(data) so that
// data[PayloadOffset:PayloadOffset+CapPayloadLen] is always a valid slice.
func (p *Packet) setPayload(data []byte, off, end int) {
	p.PayloadLen = end - off
	capEnd := min(end, len(data))
	if off >= capEnd {
		p.PayloadOffset = min(off, len(data))
		return
	}
	p.PayloadOffset = off
	p.CapPayloadLen = capEnd - off
}

// DecodeReassembled turns p, the decoded first fragment of an IP datagram,
// into the whole datagram once its fragments are together: transport
// holds the datagram's first bytes past its IP headers (as many as the
// fragments captured), and length is how many bytes there are past the IP
// headers in all. The network fields of the first fragment stay; the
// transport header is decoded from transport, and the offsets then index
// transport (Reassembled is set, the fragment flags are cleared, and
// Truncated says transport holds less than length). IPLen is the
// datagram's: its IP headers, without IPv6's fragment header, and length.
func (p *Packet) DecodeReassembled(transport []byte, length int) error {
	ipHeaders := p.TransOffset - p.NetOffset
	if p.IPVersion == 6 {
		ipHeaders -= fragHeaderLen // the datagram itself has none
	}
	keep := p.Flags & (IPv4DontFragment | IPv4Options | LengthFromCapture | Jumbo)
	*p = Packet{
		Layer: LayerNetwork, IPVersion: p.IPVersion, TTL: p.TTL, Proto: p.Proto,
		Flags: keep | Reassembled,
		Link:  p.Link, EtherType: p.EtherType, VLANs: p.VLANs, VLANCount: p.VLANCount,
		TOS: p.TOS, PktType: p.PktType, MPLSCount: p.MPLSCount,
		IPID: p.IPID, FlowLabel: p.FlowLabel,
		SrcIP: p.SrcIP, DstIP: p.DstIP,
		IPLen: ipHeaders + length,
	}
	if len(transport) < length {
		p.Flags |= Truncated
	}
	return p.transport(transport, 0, length, p.Proto)
}
