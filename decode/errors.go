package decode

import "errors"

// Sentinel errors returned by Decode. They are static values, so returning
// one never allocates; compare with == or errors.Is. On error, Packet.Layer
// still says which layers were decoded and their fields are valid.
var (
	// ErrUnknownLink: the link type is not one the decoder understands.
	ErrUnknownLink = errors.New("decode: unknown link type")
	// ErrShortLink: the capture ends inside the link header or a VLAN tag.
	ErrShortLink = errors.New("decode: link header truncated")
	// ErrShortIP: the capture ends inside the fixed IP header or the IPv4
	// options.
	ErrShortIP = errors.New("decode: IP header truncated")
	// ErrBadIPVersion: the IP version nibble is not 4 or 6, or disagrees
	// with the EtherType, address family or link type that announced it.
	ErrBadIPVersion = errors.New("decode: IP version does not match link layer")
	// ErrBadIPHeader: the IPv4 header length (IHL) is below 5 words.
	ErrBadIPHeader = errors.New("decode: IPv4 header length below 20 bytes")
	// ErrBadIPLength: the IP length fields claim less than the IP headers
	// need (the ShortIPLength flag is set too). Network fields are valid.
	ErrBadIPLength = errors.New("decode: IP length shorter than its headers")
	// ErrShortExtHeader: the capture ends inside an IPv6 extension header
	// or an authentication header. Network fields are valid.
	ErrShortExtHeader = errors.New("decode: IP extension header truncated")
	// ErrExtHeaderChain: more than MaxExtHeaders extension headers.
	ErrExtHeaderChain = errors.New("decode: IPv6 extension header chain too long")
	// ErrShortTCP: fewer than 20 bytes of TCP header, in the capture or in
	// the IP datagram (the latter also sets ShortIPLength).
	ErrShortTCP = errors.New("decode: TCP header truncated")
	// ErrBadTCPOffset: the TCP data offset is below 5 words or reaches
	// past the end of the IP datagram.
	ErrBadTCPOffset = errors.New("decode: TCP data offset out of range")
	// ErrShortUDP: fewer than 8 bytes of UDP header.
	ErrShortUDP = errors.New("decode: UDP header truncated")
	// ErrShortICMP: fewer than 4 bytes of ICMP or ICMPv6 header.
	ErrShortICMP = errors.New("decode: ICMP header truncated")
)
