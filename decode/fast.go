package decode

import (
	"encoding/binary"
)

// decode is Decode and DecodeWithVLAN: tag is hasTag|tci for the tag
// control information the kernel stripped, 0 when there is none. (One
// 32-bit word rather than a bool and a uint16 keeps byte-sized spills out
// of the frame, which would leave netip.AddrFrom16's copy misaligned,
// crossing a cache line and stalling store forwarding.) It decodes the frames that make up
// nearly all traffic itself, in one function: Ethernet II with at most two
// VLAN tags (counting the stripped one), IPv4 without options or
// fragmentation or IPv6 without extension headers, carrying a TCP or UDP
// header that is whole in the capture (the payload may be cut by the
// snaplen, as in most capture files). Any other frame it hands to slowDecode,
// which resets p and decodes the frame with the general path, so it may
// have stored some fields by then. FuzzDecode and TestFastPathAgrees check
// that both paths agree.
//
// It needs no reset of its own: on success it has stored every field of
// p, zero or not. It stores each header's fields as soon as that header is
// validated, which keeps few values live and the code short: instruction
// count is what bounds its speed.
func (p *Packet) decode(data []byte, link LinkType, tag uint32) error {
	if link != LinkEthernet || len(data) < ethHeaderLen+ipv4MinLen {
		return p.slowDecode(data, link, tag)
	}
	off := ethHeaderLen
	et := binary.BigEndian.Uint16(data[ethType:])
	var nv uint8
	p.VLANs[0] = 0
	p.VLANs[1] = 0
	if tag != 0 {
		p.VLANs[0] = uint16(tag) & vlanIDMask
		nv = 1
	}
	// The tag types are all above the IP EtherTypes: one compare for
	// untagged IP.
	for et >= etherTypeVLAN && (et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ2) {
		if nv >= MaxVLANs || len(data)-off < vlanTagLen+ipv4MinLen {
			return p.slowDecode(data, link, tag)
		}
		t := (*[vlanTagLen]byte)(data[off:])
		p.VLANs[nv] = binary.BigEndian.Uint16(t[vlanTCI:]) & vlanIDMask
		nv++
		et = binary.BigEndian.Uint16(t[vlanNextType:])
		off += vlanTagLen
	}
	p.Link = LinkEthernet
	p.VLANCount = nv
	p.EtherType = EtherType(et)
	p.NetOffset = off
	p.PktType = 0
	p.MPLSCount = 0
	p.ICMPType = 0
	p.ICMPCode = 0
	p.WScale = 0
	p.SACKCount = 0
	p.FragOffset = 0
	p.MSS = 0
	p.TSVal = 0
	p.TSEcr = 0
	p.SACK = [MaxSACKBlocks]SACKBlock{}

	// Offsets into data rather than subslices: slicing to a length that
	// may be zero costs a masking sequence, a bounds check costs a compare.
	var (
		tOff  int   // transport header offset
		end   int   // end of the datagram, or of the capture if that comes first
		tlen  int   // transport header and payload as sent (the IP length says)
		flags Flags // p.Flags, stored with the transport header
		proto IPProto
	)
	switch et {
	case etherTypeIPv4:
		h := (*[ipv4MinLen]byte)(data[off : off+ipv4MinLen])
		total := int(binary.BigEndian.Uint16(h[ipv4TotalLen:]))
		ff := binary.BigEndian.Uint16(h[ipv4FlagsFrag:])
		if h[ipv4VerIHL] != 0x45 || ff&(ipv4FlagMF|ipv4FragOffset) != 0 || total < ipv4MinLen {
			return p.slowDecode(data, link, tag)
		}
		// TTL and protocol are adjacent: one 16-bit load for both.
		ttlProto := binary.LittleEndian.Uint16(h[ipv4TTL:])
		proto = IPProto(ttlProto >> 8)
		p.Layer = LayerTransport
		p.IPVersion = 4
		p.TTL = uint8(ttlProto)
		p.Proto = proto
		flags = Flags(ff>>(14-9)) & IPv4DontFragment // DF is bit 14 of ff, IPv4DontFragment bit 9
		p.TOS = h[ipv4TOS]
		p.IPID = uint32(binary.BigEndian.Uint16(h[ipv4ID:]))
		p.FlowLabel = 0
		setIPv4(&p.SrcIP, h[ipv4Src:])
		setIPv4(&p.DstIP, h[ipv4Dst:])
		p.IPLen = total
		tOff = off + ipv4MinLen
		end = off + total
		tlen = total - ipv4MinLen
	case etherTypeIPv6:
		if len(data)-off < ipv6HeaderLen {
			return p.slowDecode(data, link, tag)
		}
		h := (*[ipv6HeaderLen]byte)(data[off : off+ipv6HeaderLen])
		plen := int(binary.BigEndian.Uint16(h[ipv6PayloadLen:]))
		vtf := binary.BigEndian.Uint32(h[ipv6VerTCFlow:])
		if vtf>>28 != 6 || plen == 0 {
			return p.slowDecode(data, link, tag)
		}
		proto = IPProto(h[ipv6NextHeader])
		p.Layer = LayerTransport
		p.IPVersion = 6
		p.TTL = h[ipv6HopLimit]
		p.Proto = proto
		p.TOS = uint8(vtf >> 20)
		p.IPID = 0
		p.FlowLabel = vtf & ipv6FlowLabelMask
		p.SrcIP = [16]byte(h[ipv6Src:])
		p.DstIP = [16]byte(h[ipv6Dst:])
		p.IPLen = ipv6HeaderLen + plen
		tOff = off + ipv6HeaderLen
		end = tOff + plen
		tlen = plen
	default:
		return p.slowDecode(data, link, tag)
	}
	p.TransOffset = tOff
	if end > len(data) {
		flags |= Truncated
		end = len(data)
	}
	capLen := end - tOff // transport header and payload as captured

	switch proto {
	case ProtoTCP:
		if capLen < tcpMinLen {
			return p.slowDecode(data, link, tag)
		}
		h := (*[tcpMinLen]byte)(data[tOff : tOff+tcpMinLen])
		hlen := int(h[tcpDataOff]>>4) * 4
		if hlen < tcpMinLen || hlen > capLen {
			return p.slowDecode(data, link, tag)
		}
		p.SrcPort = binary.BigEndian.Uint16(h[tcpSrcPort:])
		p.DstPort = binary.BigEndian.Uint16(h[tcpDstPort:])
		p.TCPFlags = TCPFlags(binary.BigEndian.Uint16(h[tcpDataOff:]) & 0x1ff) // NS and the eight flags
		p.Window = binary.BigEndian.Uint16(h[tcpWindow:])
		p.Checksum = binary.BigEndian.Uint16(h[tcpChecksum:])
		p.Urgent = binary.BigEndian.Uint16(h[tcpUrgent:])
		p.UDPLen = 0
		p.TCPHeaderLen = uint8(hlen)
		p.Seq = binary.BigEndian.Uint32(h[tcpSeq:])
		p.Ack = binary.BigEndian.Uint32(h[tcpAck:])
		p.PayloadOffset = tOff + hlen
		p.PayloadLen = tlen - hlen
		p.CapPayloadLen = capLen - hlen
		switch {
		case hlen == tcpMinLen:
			p.Flags = flags
		case hlen == tcpMinLen+tcpAlignedTSLen && binary.BigEndian.Uint32(data[tOff+tcpMinLen:tOff+hlen]) == tcpAlignedTS:
			o := (*[tcpAlignedTSLen]byte)(data[tOff+tcpMinLen : tOff+hlen])
			p.TSVal = binary.BigEndian.Uint32(o[4:])
			p.TSEcr = binary.BigEndian.Uint32(o[8:])
			p.Flags = flags | HasTimestamps
		case hlen == tcpMinLen+tcpLinuxSYNLen && isLinuxSYNOptions((*[tcpLinuxSYNLen]byte)(data[tOff+tcpMinLen:tOff+hlen])):
			// Only this path takes Linux's SYN layout; the general
			// option loop decodes it too, more slowly.
			o := (*[tcpLinuxSYNLen]byte)(data[tOff+tcpMinLen : tOff+hlen])
			p.MSS = binary.BigEndian.Uint16(o[2:])
			p.TSVal = binary.BigEndian.Uint32(o[8:])
			p.TSEcr = binary.BigEndian.Uint32(o[12:])
			p.WScale = o[19]
			p.Flags = flags | HasMSS | HasSACKPerm | HasTimestamps | HasWScale
		default:
			p.Flags = flags
			p.tcpOptions(data[tOff+tcpMinLen:tOff+hlen], false)
		}
	case ProtoUDP:
		if capLen < udpLen {
			return p.slowDecode(data, link, tag)
		}
		u := (*[udpLen]byte)(data[tOff : tOff+udpLen])
		p.SrcPort = binary.BigEndian.Uint16(u[udpSrcPort:])
		p.DstPort = binary.BigEndian.Uint16(u[udpDstPort:])
		p.TCPFlags = 0
		p.Window = 0
		p.Checksum = binary.BigEndian.Uint16(u[udpChecksum:])
		p.Urgent = 0
		p.UDPLen = binary.BigEndian.Uint16(u[udpLength:])
		p.TCPHeaderLen = 0
		p.Seq = 0
		p.Ack = 0
		p.PayloadOffset = tOff + udpLen
		p.PayloadLen = tlen - udpLen
		p.CapPayloadLen = capLen - udpLen
		p.Flags = flags
	default:
		return p.slowDecode(data, link, tag)
	}
	return nil
}

// hasTag marks decode's tag argument as holding a stripped tag.
const hasTag = 1 << 16

// slowDecode resets p and decodes a frame with the general path, for the
// frames decode does not take.
func (p *Packet) slowDecode(data []byte, link LinkType, tag uint32) error {
	*p = Packet{Link: link}
	if tag != 0 {
		p.addVLAN(uint16(tag))
	}
	return p.link(data, link)
}

// isLinuxSYNOptions reports whether o holds the options of a Linux SYN or
// SYN-ACK: MSS, SACK-permitted, timestamps, NOP, window scale.
func isLinuxSYNOptions(o *[tcpLinuxSYNLen]byte) bool {
	return binary.BigEndian.Uint64(o[:8])&tcpLinuxSYNMask == tcpLinuxSYN &&
		binary.BigEndian.Uint32(o[16:])&^0xff == tcpLinuxSYNWS
}
