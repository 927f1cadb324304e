// Package decode parses the link, network and transport headers of one
// captured packet into a caller-owned Packet, in place, without allocating
// and without panicking on any input.
//
// It is for the headers netblame analyses: Ethernet II with 802.1Q/802.1ad
// tags and MPLS labels, Linux SLL and SLL2, raw IP, BSD loopback (NULL and
// LOOP), IPv4 with options, IPv6 with its extension-header chain (hop-by-hop
// with the Jumbo Payload option, routing, destination options, fragment,
// AH; stopping at ESP and no-next-header), TCP with MSS, window scale,
// SACK-permitted, SACK and timestamp options, UDP, ICMP and ICMPv6.
//
// It is not a general dissector: it does not follow tunnels (GRE, IP in IP,
// pseudowires, VXLAN), does not reassemble fragments or streams, does not
// verify checksums and keeps no state between packets.
//
// Decoding goes as deep as the headers allow. Packet.Layer says which
// layers were decoded; their fields are valid even when Decode returns one
// of the Err* sentinels for a malformed or cut header further in. A header
// that the capture cut (snaplen) is an error when its fixed part is
// missing; a datagram cut after its headers is decoded and flagged
// Truncated, with PayloadLen what was sent and CapPayloadLen what was
// captured. When the snaplen cuts the TCP options, the fixed header and
// the options captured whole are kept (TCPHeaderTruncated). The first
// fragment of a datagram is decoded down to the transport and flagged
// Fragment; later fragments (LaterFragment) stop at the network layer.
//
// Decode costs a few dozen loads and stores: no allocation, one bounds
// check per header, big-endian reads at named offsets. The common frames
// (Ethernet, IPv4 or IPv6 without options, TCP or UDP) take a fast path
// that stores every field once; the others reset the Packet and fill in
// what they find.
package decode

import (
	"net/netip"

	"github.com/netblame/netblame/linktype"
)

// LinkType is a pcap LINKTYPE_ value: what the first byte of a frame is
// (package linktype, which sources use without importing the decoder).
type LinkType = linktype.Type

// Link types the decoder understands (linktype's constants).
const (
	LinkNull      = linktype.Null
	LinkEthernet  = linktype.Ethernet
	LinkRawDLT12  = linktype.RawDLT12
	LinkRawDLT14  = linktype.RawDLT14
	LinkRaw       = linktype.Raw
	LinkLoop      = linktype.Loop
	LinkLinuxSLL  = linktype.LinuxSLL
	LinkIPv4      = linktype.IPv4
	LinkIPv6      = linktype.IPv6
	LinkLinuxSLL2 = linktype.LinuxSLL2
)

// Flags records what the decoder found besides header values.
type Flags uint32

const (
	// Truncated: the capture ends before the end of the IP datagram (a
	// snaplen cut), so payload bytes are missing.
	Truncated Flags = 1 << iota
	// Fragment: the IP datagram is a fragment (MF set or offset > 0, or an
	// IPv6 fragment header other than an atomic one).
	Fragment
	// LaterFragment: a fragment with a non-zero offset; its transport
	// header is not present and was not parsed.
	LaterFragment
	// BadTCPOptions: the TCP option list was malformed (an option length
	// below 2 or past the header end); options before the fault are kept.
	BadTCPOptions
	// HasMSS, HasWScale, HasSACKPerm, HasTimestamps: the TCP options seen.
	HasMSS
	HasWScale
	HasSACKPerm
	HasTimestamps
	// HasSACK: at least one SACK block was seen (see Packet.SACKCount).
	HasSACK
	// IPv4DontFragment: the DF bit.
	IPv4DontFragment
	// IPv4Options: the IPv4 header carries options (IHL > 5).
	IPv4Options
	// ShortIPLength: the IP length fields claim less than the headers need.
	ShortIPLength
	// ESP: an IPv6 or IPv4 header chain stopped at ESP (encrypted).
	ESP
	// LengthFromCapture: the IP header gave no length (IPv4 total length
	// 0, or IPv6 payload length 0 without a Jumbo option), as when the
	// capture was taken on a host using TSO/GSO or BIG TCP before
	// segmentation; IPLen is what the capture holds.
	LengthFromCapture
	// Jumbo: an IPv6 jumbogram; IPLen comes from the hop-by-hop Jumbo
	// Payload option.
	Jumbo
	// TCPHeaderTruncated: the capture ends inside the TCP options. The
	// fixed header and the options wholly captured are decoded; the
	// captured payload is empty.
	TCPHeaderTruncated
	// MoreFragments: a fragment that is not the datagram's last (the
	// MF bit of IPv4, the M flag of IPv6's fragment header).
	MoreFragments
	// Reassembled: the packet is a datagram put together from fragments
	// (see DecodeReassembled); its offsets index the reassembled bytes.
	Reassembled
)

// Layer says how far decoding got.
type Layer uint8

const (
	LayerNone      Layer = iota // nothing decoded
	LayerLink                   // link header decoded, network unknown
	LayerNetwork                // IPv4 or IPv6 header decoded
	LayerTransport              // TCP, UDP, ICMP or ICMPv6 header decoded
)

// MaxVLANs is how many VLAN tags the decoder keeps (outermost first).
const MaxVLANs = 2

// MaxSACKBlocks is the most SACK blocks a TCP option can carry.
const MaxSACKBlocks = 4

// SACKBlock is one selective acknowledgement range [Left, Right).
type SACKBlock struct{ Left, Right uint32 }

// Packet is one decoded packet. Offsets index the slice given to Decode;
// the Packet holds no reference to it. Fields of layers that were not
// reached are zero. A Packet is reused: Decode resets it first.
type Packet struct {
	// The fields are ordered for the fast path, which stores every one of
	// them instead of clearing the struct first: those it always writes
	// as zero (or, for the TCP options, zero unless an option is present)
	// are adjacent so that the compiler merges their stores, and the
	// small fields come before the 8-byte ones, so that the struct is as
	// small as it can be.

	Layer     Layer   // deepest layer decoded
	IPVersion uint8   // 4 or 6; 0 when not IP
	TTL       uint8   // IPv4 TTL or IPv6 hop limit
	Proto     IPProto // transport protocol after any extension headers (on an error inside them, the IP header's)
	Flags     Flags

	// Link layer.
	Link      LinkType
	EtherType EtherType        // of the network layer, after VLAN tags and MPLS labels; 0 when the link has none
	VLANs     [MaxVLANs]uint16 // VLAN IDs (12 bits), outermost first (a DecodeWithVLAN tag is outermost)
	VLANCount uint8            // tags seen; IDs beyond MaxVLANs are not kept

	TOS uint8 // IPv4 TOS or IPv6 traffic class

	// Transport layer.
	SrcPort, DstPort uint16
	TCPFlags         TCPFlags // TCPFin ... TCPNs
	Window           uint16   // raw, unscaled
	Checksum         uint16   // TCP, UDP, ICMP or ICMPv6 checksum as sent
	Urgent           uint16
	UDPLen           uint16
	TCPHeaderLen     uint8 // data offset in bytes

	// Fields the common frames leave zero.
	PktType    uint8  // SLL/SLL2 packet type: 0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
	MPLSCount  uint8  // MPLS labels skipped before the IP header
	ICMPType   uint8  // ICMP or ICMPv6 type
	ICMPCode   uint8  // ICMP or ICMPv6 code
	WScale     uint8  // TCP window scale option, valid with HasWScale
	SACKCount  uint8  // SACK blocks in SACK, valid with HasSACK
	FragOffset uint16 // IP fragment offset in bytes
	MSS        uint16 // TCP MSS option, valid with HasMSS
	IPID       uint32 // IPv4 identification, or IPv6 fragment identification
	FlowLabel  uint32 // IPv6 only

	Seq, Ack uint32 // TCP sequence and acknowledgement numbers

	// TCP options, valid when the matching Has* flag is set.
	TSVal uint32
	TSEcr uint32
	SACK  [MaxSACKBlocks]SACKBlock

	// Network layer. SrcIP and DstIP hold the addresses as sent: IPv6's
	// 16 bytes, or IPv4's 4 bytes followed by 12 zero bytes. Src and Dst
	// return them as netip.Addr. (Raw bytes rather than netip.Addr: two
	// stores for an IPv4 address instead of building a 24-byte value with
	// a pointer in it, which also keeps write barriers off Decode.)
	SrcIP, DstIP [16]byte
	NetOffset    int // offset of the IP header
	IPLen        int // IP datagram length the header claims (v6: 40 + payload length, or jumbo)
	TransOffset  int // offset of the transport header (of the fragment data or ESP for those)

	// Payload, after the deepest header decoded (for ICMP, after type,
	// code and checksum: an echo's identifier and sequence number are its
	// first 4 bytes). PayloadLen is the length the IP header implies
	// (what was sent); CapPayloadLen is what the capture holds, less when
	// Truncated. data[PayloadOffset:PayloadOffset+CapPayloadLen] is always
	// a valid slice: PayloadOffset is clamped to len(data).
	PayloadOffset int
	PayloadLen    int
	CapPayloadLen int
}

// Src returns the source address; the zero Addr when no IP header was
// decoded.
func (p *Packet) Src() netip.Addr { return p.addr(&p.SrcIP) }

// Dst returns the destination address; the zero Addr when no IP header was
// decoded.
func (p *Packet) Dst() netip.Addr { return p.addr(&p.DstIP) }

// SetAddrs sets SrcIP, DstIP and IPVersion (4 when src is IPv4, else 6),
// for building a Packet by hand.
func (p *Packet) SetAddrs(src, dst netip.Addr) {
	p.IPVersion = 6
	if src.Is4() {
		p.IPVersion = 4
	}
	p.SrcIP, p.DstIP = ipBytes(src), ipBytes(dst)
}

// ipBytes returns a in the form of SrcIP and DstIP.
func ipBytes(a netip.Addr) (b [16]byte) {
	if a.Is4() {
		v4 := a.As4()
		copy(b[:], v4[:])
		return b
	}
	return a.As16()
}

func (p *Packet) addr(b *[16]byte) netip.Addr {
	switch p.IPVersion {
	case 4:
		return netip.AddrFrom4([4]byte(b[:4]))
	case 6:
		return netip.AddrFrom16(*b)
	}
	return netip.Addr{}
}

// Has reports whether all of the flags f are set.
func (p *Packet) Has(f Flags) bool { return p.Flags&f == f }

// IsTCP reports whether the packet's TCP header was decoded.
func (p *Packet) IsTCP() bool { return p.Layer == LayerTransport && p.Proto == ProtoTCP }

// IsUDP reports whether the packet's UDP header was decoded.
func (p *Packet) IsUDP() bool { return p.Layer == LayerTransport && p.Proto == ProtoUDP }
