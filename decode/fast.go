package decode

import (
	"encoding/binary"
	"net/netip"
)

// fastEthernet decodes the frames that make up nearly all traffic in one
// function: Ethernet II with at most two VLAN tags (counting a tag the
// kernel stripped, given as outer when tagged), IPv4 without options or
// fragmentation or IPv6 without extension headers, whole in the capture,
// carrying a TCP or UDP header. It validates before it writes; for any
// other frame it returns false and leaves p untouched, and the general path
// decodes it. FuzzDecode and TestFastPathAgrees check that both agree.
//
// It does not need the reset Decode does for the general path: on success
// it stores every field of p, zero or not, which costs fewer stores than
// clearing the struct first and then filling it.
func (p *Packet) fastEthernet(data []byte, tagged bool, outer uint16) bool {
	if len(data) < ethHeaderLen+ipv4MinLen {
		return false
	}
	off := ethHeaderLen
	et := binary.BigEndian.Uint16(data[ethType:])
	// VLAN IDs, at most two here, in scalars rather than an array: a
	// local array is built in memory with narrow stores and read back
	// wide, which stalls store-to-load forwarding.
	var nv uint8
	var v0, v1 uint16
	if tagged {
		v0 = outer & vlanIDMask
		nv = 1
	}
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ2 {
		if nv == MaxVLANs || len(data)-off < vlanTagLen+ipv4MinLen {
			return false
		}
		id := binary.BigEndian.Uint16(data[off+vlanTCI:]) & vlanIDMask
		if nv == 0 {
			v0 = id
		} else {
			v1 = id
		}
		et = binary.BigEndian.Uint16(data[off+vlanNextType:])
		off += vlanTagLen
		nv++
	}

	// Validate the IP and transport headers. Array pointers let the
	// compiler drop the bounds check of every access at a constant offset.
	ip := data[off:]
	var (
		hdr   int
		total int
		proto uint8
		f     Flags
	)
	switch et {
	case etherTypeIPv4:
		h := (*[ipv4MinLen]byte)(ip)
		total = int(binary.BigEndian.Uint16(h[ipv4TotalLen:]))
		ff := binary.BigEndian.Uint16(h[ipv4FlagsFrag:])
		if h[ipv4VerIHL] != 0x45 || ff&(ipv4FlagMF|ipv4FragOffset) != 0 ||
			total < ipv4MinLen || total > len(ip) {
			return false
		}
		f = Flags(ff>>14&1) * IPv4DontFragment // DF is bit 14
		hdr = ipv4MinLen
		proto = h[ipv4Proto]
	case etherTypeIPv6:
		if len(ip) < ipv6HeaderLen {
			return false
		}
		h := (*[ipv6HeaderLen]byte)(ip)
		total = ipv6HeaderLen + int(binary.BigEndian.Uint16(h[ipv6PayloadLen:]))
		if h[ipv6VerTCFlow]>>4 != 6 || total == ipv6HeaderLen || total > len(ip) {
			return false
		}
		hdr = ipv6HeaderLen
		proto = h[ipv6NextHeader]
	default:
		return false
	}
	seg := ip[hdr:total]
	hlen := udpLen
	if proto == ProtoTCP {
		if len(seg) < tcpMinLen {
			return false
		}
		hlen = int(seg[tcpDataOff]>>4) << 2
		if hlen < tcpMinLen || hlen > len(seg) {
			return false
		}
	} else if proto != ProtoUDP || len(seg) < udpLen {
		return false
	}

	// Valid: store every field.
	p.Layer = LayerTransport
	p.Flags = f
	p.Link = LinkEthernet
	p.EtherType = et
	p.PktType = 0
	p.VLANCount = nv
	p.VLANs[0] = v0
	p.VLANs[1] = v1
	p.MPLSCount = 0

	p.Proto = proto
	p.FragOffset = 0
	p.NetOffset = off
	p.IPLen = total
	p.TransOffset = off + hdr
	if et == etherTypeIPv4 {
		h := (*[ipv4MinLen]byte)(ip)
		p.IPVersion = 4
		p.TOS = h[ipv4TOS]
		p.IPID = uint32(binary.BigEndian.Uint16(h[ipv4ID:]))
		p.FlowLabel = 0
		p.TTL = h[ipv4TTL]
		p.Src = netip.AddrFrom4([4]byte(h[ipv4Src:]))
		p.Dst = netip.AddrFrom4([4]byte(h[ipv4Dst:]))
	} else {
		h := (*[ipv6HeaderLen]byte)(ip)
		vtf := binary.BigEndian.Uint32(h[ipv6VerTCFlow:])
		p.IPVersion = 6
		p.TOS = uint8(vtf >> 20)
		p.IPID = 0
		p.FlowLabel = vtf & ipv6FlowLabelMask
		p.TTL = h[ipv6HopLimit]
		p.Src = netip.AddrFrom16([16]byte(h[ipv6Src:]))
		p.Dst = netip.AddrFrom16([16]byte(h[ipv6Dst:]))
	}

	p.ICMPType = 0
	p.ICMPCode = 0
	p.MSS = 0
	p.WScale = 0
	p.TSVal = 0
	p.TSEcr = 0
	p.SACKCount = 0
	p.SACK = [MaxSACKBlocks]SACKBlock{}
	p.PayloadOffset = off + hdr + hlen
	p.PayloadLen = len(seg) - hlen
	p.CapPayloadLen = len(seg) - hlen
	if proto == ProtoTCP {
		h := (*[tcpMinLen]byte)(seg)
		p.SrcPort = binary.BigEndian.Uint16(h[tcpSrcPort:])
		p.DstPort = binary.BigEndian.Uint16(h[tcpDstPort:])
		p.Seq = binary.BigEndian.Uint32(h[tcpSeq:])
		p.Ack = binary.BigEndian.Uint32(h[tcpAck:])
		p.TCPFlags = uint16(h[tcpFlags]) | uint16(h[tcpDataOff]&1)<<8
		p.Window = binary.BigEndian.Uint16(h[tcpWindow:])
		p.Checksum = binary.BigEndian.Uint16(h[tcpChecksum:])
		p.Urgent = binary.BigEndian.Uint16(h[tcpUrgent:])
		p.TCPHeaderLen = uint8(hlen)
		p.UDPLen = 0
		if hlen > tcpMinLen {
			o := seg[tcpMinLen:hlen]
			if len(o) == tcpAlignedTSLen && binary.BigEndian.Uint32(o) == tcpAlignedTS {
				p.TSVal = binary.BigEndian.Uint32(o[4:])
				p.TSEcr = binary.BigEndian.Uint32(o[8:])
				p.Flags |= HasTimestamps
			} else {
				p.tcpOptions(o, false)
			}
		}
	} else {
		u := (*[udpLen]byte)(seg)
		p.SrcPort = binary.BigEndian.Uint16(u[udpSrcPort:])
		p.DstPort = binary.BigEndian.Uint16(u[udpDstPort:])
		p.Seq = 0
		p.Ack = 0
		p.TCPFlags = 0
		p.Window = 0
		p.Checksum = binary.BigEndian.Uint16(u[udpChecksum:])
		p.Urgent = 0
		p.TCPHeaderLen = 0
		p.UDPLen = binary.BigEndian.Uint16(u[udpLength:])
	}
	return true
}
