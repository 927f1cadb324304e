package decode

import (
	"encoding/binary"
	"math/bits"
)

// EtherTypes the decoder follows.
const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86dd
	etherTypeVLAN  = 0x8100 // 802.1Q customer tag
	etherTypeQinQ  = 0x88a8 // 802.1ad service tag
	etherTypeQinQ2 = 0x9100 // pre-standard QinQ service tag
	etherTypeMPLS  = 0x8847 // MPLS unicast
	etherTypeMPLSm = 0x8848 // MPLS multicast
	// Values below this are 802.3 length fields or, in SLL, Linux
	// ETH_P_* pseudo-protocols (802.2 LLC, CAN ...), not EtherTypes.
	minEtherType = 0x0600
)

// Ethernet II header.
const (
	ethType      = 12 // EtherType or first VLAN TPID
	ethHeaderLen = 14
	vlanTCI      = 0 // within a tag, after the TPID already read
	vlanNextType = 2
	vlanTagLen   = 4
	vlanIDMask   = 0x0fff
)

// MPLS label stack entry (RFC 3032): label 20 bits, TC 3, bottom of stack
// 1, TTL 8. No field names what follows the stack; like every dissector,
// the decoder takes IPv4 or IPv6 from the first nibble after it.
const (
	mplsEntryLen    = 4
	mplsBottomOfStk = 0x100
)

// Linux cooked capture v1 (LINKTYPE_LINUX_SLL), all fields big-endian.
const (
	sllPktType   = 0
	sllHAType    = 2 // ARPHRD_ type of the device
	sllProtocol  = 14
	sllHeaderLen = 16
)

// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2).
const (
	sll2Protocol  = 0
	sll2HAType    = 8
	sll2PktType   = 10
	sll2HeaderLen = 20
)

// arphrdNetlink is ARPHRD_NETLINK: the SLL protocol field holds a netlink
// family, not an EtherType.
const arphrdNetlink = 824

// BSD loopback address families. AF_INET6 differs between BSDs: 24
// (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly), 30 (macOS).
const (
	nullHeaderLen   = 4
	afInet          = 2
	afInet6BSD      = 24
	afInet6FreeBSD  = 28
	afInet6Darwin   = 30
	afFamilyHiBytes = 0xffff0000
)

// addVLAN records a tag, keeping the first MaxVLANs IDs and counting all.
func (p *Packet) addVLAN(tci uint16) {
	if p.VLANCount < MaxVLANs {
		p.VLANs[p.VLANCount] = tci & vlanIDMask
	}
	if p.VLANCount < 255 {
		p.VLANCount++
	}
}

func (p *Packet) ethernet(data []byte) error {
	if len(data) < ethHeaderLen {
		return ErrShortLink
	}
	et := binary.BigEndian.Uint16(data[ethType:])
	switch et { // the common cases, without the VLAN loop
	case etherTypeIPv4:
		p.Layer = LayerLink
		p.EtherType = EtherType(et)
		return p.ipv4(data, ethHeaderLen)
	case etherTypeIPv6:
		p.Layer = LayerLink
		p.EtherType = EtherType(et)
		return p.ipv6(data, ethHeaderLen)
	}
	return p.etherType(data, ethHeaderLen, et)
}

// etherType decodes what follows at off, announced by et: VLAN tags, then
// IPv4 or IPv6. Anything else ends decoding at the link layer.
func (p *Packet) etherType(data []byte, off int, et uint16) error {
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ2 {
		if off < 0 || len(data)-off < vlanTagLen {
			return ErrShortLink
		}
		p.addVLAN(binary.BigEndian.Uint16(data[off+vlanTCI:]))
		et = binary.BigEndian.Uint16(data[off+vlanNextType:])
		off += vlanTagLen
	}
	p.Layer = LayerLink
	p.EtherType = EtherType(et)
	switch et {
	case etherTypeIPv4:
		return p.ipv4(data, off)
	case etherTypeIPv6:
		return p.ipv6(data, off)
	case etherTypeMPLS, etherTypeMPLSm:
		return p.mpls(data, off)
	}
	return nil
}

// mpls skips an MPLS label stack at off, then decodes IPv4 or IPv6 by the
// first nibble. Anything else (a pseudowire, an Ethernet control word) ends
// decoding at the link layer, EtherType staying the MPLS one.
func (p *Packet) mpls(data []byte, off int) error {
	for {
		if off < 0 || len(data)-off < mplsEntryLen {
			return ErrShortLink
		}
		e := binary.BigEndian.Uint32(data[off:])
		off += mplsEntryLen
		if p.MPLSCount < 255 {
			p.MPLSCount++
		}
		if e&mplsBottomOfStk != 0 {
			break
		}
	}
	if off >= len(data) {
		return nil
	}
	switch data[off] >> 4 {
	case 4:
		p.EtherType = etherTypeIPv4
		return p.ipv4(data, off)
	case 6:
		p.EtherType = etherTypeIPv6
		return p.ipv6(data, off)
	}
	return nil
}

func (p *Packet) sll(data []byte) error {
	if len(data) < sllHeaderLen {
		return ErrShortLink
	}
	p.PktType = uint8(binary.BigEndian.Uint16(data[sllPktType:]))
	return p.sllProtocol(data, sllHeaderLen,
		binary.BigEndian.Uint16(data[sllHAType:]),
		binary.BigEndian.Uint16(data[sllProtocol:]))
}

func (p *Packet) sll2(data []byte) error {
	if len(data) < sll2HeaderLen {
		return ErrShortLink
	}
	p.PktType = data[sll2PktType]
	return p.sllProtocol(data, sll2HeaderLen,
		binary.BigEndian.Uint16(data[sll2HAType:]),
		binary.BigEndian.Uint16(data[sll2Protocol:]))
}

// sllProtocol follows an SLL protocol field. For most devices it is the
// EtherType (libpcap re-inserts a stripped VLAN tag and sets 0x8100); for
// netlink it is a netlink family, and values below 0x0600 are Linux
// pseudo-protocols such as ETH_P_802_2 or ETH_P_CAN: those stop at the link
// layer with EtherType 0.
func (p *Packet) sllProtocol(data []byte, off int, haType, proto uint16) error {
	if haType == arphrdNetlink || proto < minEtherType {
		p.Layer = LayerLink
		return nil
	}
	return p.etherType(data, off, proto)
}

// raw decodes raw IP, the version taken from the first nibble.
func (p *Packet) raw(data []byte) error {
	p.Layer = LayerLink
	if len(data) == 0 {
		return ErrShortIP
	}
	switch data[0] >> 4 {
	case 4:
		p.EtherType = etherTypeIPv4
		return p.ipv4(data, 0)
	case 6:
		p.EtherType = etherTypeIPv6
		return p.ipv6(data, 0)
	}
	return ErrBadIPVersion
}

// null decodes BSD loopback: a 4-byte address family in the byte order of
// the host that wrote the file. A family never exceeds 16 bits, so a value
// with high bits set was written in the other byte order.
func (p *Packet) null(data []byte) error {
	if len(data) < nullHeaderLen {
		return ErrShortLink
	}
	fam := binary.LittleEndian.Uint32(data)
	if fam&afFamilyHiBytes != 0 {
		fam = bits.ReverseBytes32(fam)
	}
	return p.family(data, fam)
}

// loop decodes OpenBSD loopback: like null, in network byte order.
func (p *Packet) loop(data []byte) error {
	if len(data) < nullHeaderLen {
		return ErrShortLink
	}
	return p.family(data, binary.BigEndian.Uint32(data))
}

func (p *Packet) family(data []byte, fam uint32) error {
	p.Layer = LayerLink
	switch fam {
	case afInet:
		p.EtherType = etherTypeIPv4
		return p.ipv4(data, nullHeaderLen)
	case afInet6BSD, afInet6FreeBSD, afInet6Darwin:
		p.EtherType = etherTypeIPv6
		return p.ipv6(data, nullHeaderLen)
	}
	return nil
}
