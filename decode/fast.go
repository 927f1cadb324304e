package decode

import (
	"encoding/binary"
	"net/netip"
)

// fastEthernet decodes the frames that make up nearly all traffic in one
// function: Ethernet II with at most two VLAN tags, IPv4 without options or
// fragmentation or IPv6 without extension headers, whole in the capture,
// carrying a TCP or UDP header. It validates before it writes; for any
// other frame it returns false and leaves p untouched, and the general path
// decodes it. FuzzDecode and TestFastPathAgrees check that both agree.
func (p *Packet) fastEthernet(data []byte) bool {
	if len(data) < ethHeaderLen+ipv4MinLen {
		return false
	}
	off := ethHeaderLen
	et := binary.BigEndian.Uint16(data[ethType:])
	var nv uint8 // VLAN tags: at most two here
	var vlans [MaxVLANs]uint16
	for nv < MaxVLANs && (et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ2) {
		if len(data)-off < vlanTagLen+ipv4MinLen {
			return false
		}
		vlans[nv] = binary.BigEndian.Uint16(data[off+vlanTCI:]) & vlanIDMask
		et = binary.BigEndian.Uint16(data[off+vlanNextType:])
		off += vlanTagLen
		nv++
	}
	var (
		ip    []byte
		hdr   int
		proto uint8
		f     Flags
		total int
	)
	switch et {
	case etherTypeIPv4:
		ip = data[off:]
		ip = ip[:ipv4MinLen:len(ip)]
		total = int(binary.BigEndian.Uint16(ip[ipv4TotalLen:]))
		ff := binary.BigEndian.Uint16(ip[ipv4FlagsFrag:])
		if ip[ipv4VerIHL] != 0x45 || ff&(ipv4FlagMF|ipv4FragOffset) != 0 ||
			total < ipv4MinLen || total > len(data)-off {
			return false
		}
		if ff&ipv4FlagDF != 0 {
			f = IPv4DontFragment
		}
		hdr = ipv4MinLen
		proto = ip[ipv4Proto]
	case etherTypeIPv6:
		if len(data)-off < ipv6HeaderLen {
			return false
		}
		ip = data[off:]
		ip = ip[:ipv6HeaderLen:len(ip)]
		total = ipv6HeaderLen + int(binary.BigEndian.Uint16(ip[ipv6PayloadLen:]))
		if ip[ipv6VerTCFlow]>>4 != 6 || total == ipv6HeaderLen || total > len(data)-off {
			return false
		}
		hdr = ipv6HeaderLen
		proto = ip[ipv6NextHeader]
	default:
		return false
	}
	toff := off + hdr
	seg := data[toff : off+total]
	switch proto {
	case ProtoTCP:
		if len(seg) < tcpMinLen {
			return false
		}
		hlen := int(seg[tcpDataOff]>>4) << 2
		if hlen < tcpMinLen || hlen > len(seg) {
			return false
		}
		p.tcpFixed(seg)
		p.TCPHeaderLen = uint8(hlen)
		p.PayloadOffset = toff + hlen
		p.PayloadLen = len(seg) - hlen
		p.CapPayloadLen = len(seg) - hlen
		if hlen > tcpMinLen {
			o := seg[tcpMinLen:hlen]
			if len(o) == tcpAlignedTSLen && binary.BigEndian.Uint32(o) == tcpAlignedTS {
				p.TSVal = binary.BigEndian.Uint32(o[4:])
				p.TSEcr = binary.BigEndian.Uint32(o[8:])
				f |= HasTimestamps
			} else {
				p.tcpOptions(o, false)
			}
		}
	case ProtoUDP:
		if len(seg) < udpLen {
			return false
		}
		p.Layer = LayerTransport
		p.SrcPort = binary.BigEndian.Uint16(seg[udpSrcPort:])
		p.DstPort = binary.BigEndian.Uint16(seg[udpDstPort:])
		p.UDPLen = binary.BigEndian.Uint16(seg[udpLength:])
		p.Checksum = binary.BigEndian.Uint16(seg[udpChecksum:])
		p.PayloadOffset = toff + udpLen
		p.PayloadLen = len(seg) - udpLen
		p.CapPayloadLen = len(seg) - udpLen
	default:
		return false
	}
	p.Flags |= f
	p.Layer = LayerTransport
	p.EtherType = et
	if nv > 0 { // after any tag DecodeWithVLAN recorded
		for i := range nv {
			p.addVLAN(vlans[i])
		}
	}
	p.NetOffset = off
	p.IPLen = total
	p.TransOffset = toff
	p.Proto = proto
	if et == etherTypeIPv4 {
		p.IPVersion = 4
		p.TOS = ip[ipv4TOS]
		p.IPID = uint32(binary.BigEndian.Uint16(ip[ipv4ID:]))
		p.TTL = ip[ipv4TTL]
		p.Src = netip.AddrFrom4([4]byte(ip[ipv4Src:]))
		p.Dst = netip.AddrFrom4([4]byte(ip[ipv4Dst:]))
	} else {
		vtf := binary.BigEndian.Uint32(ip[ipv6VerTCFlow:])
		p.IPVersion = 6
		p.TOS = uint8(vtf >> 20)
		p.FlowLabel = vtf & ipv6FlowLabelMask
		p.TTL = ip[ipv6HopLimit]
		p.Src = netip.AddrFrom16([16]byte(ip[ipv6Src:]))
		p.Dst = netip.AddrFrom16([16]byte(ip[ipv6Dst:]))
	}
	return true
}

// tcpFixed copies the fixed TCP header fields from h (>= 20 bytes).
func (p *Packet) tcpFixed(h []byte) {
	h = h[:tcpMinLen]
	p.Layer = LayerTransport
	p.SrcPort = binary.BigEndian.Uint16(h[tcpSrcPort:])
	p.DstPort = binary.BigEndian.Uint16(h[tcpDstPort:])
	p.Seq = binary.BigEndian.Uint32(h[tcpSeq:])
	p.Ack = binary.BigEndian.Uint32(h[tcpAck:])
	p.TCPFlags = uint16(h[tcpFlags]) | uint16(h[tcpDataOff]&1)<<8
	p.Window = binary.BigEndian.Uint16(h[tcpWindow:])
	p.Checksum = binary.BigEndian.Uint16(h[tcpChecksum:])
	p.Urgent = binary.BigEndian.Uint16(h[tcpUrgent:])
}
