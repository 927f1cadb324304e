package flowtable

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/netblame/netblame/decode"
)

// flowKey is the direction-independent identity of a flow: endpoint A is
// the lower of the two (address, port) pairs. w[0:2] and w[2:4] are the
// addresses as big-endian words of decode.Packet's 16-byte form (an IPv4
// address fills the top half of the first word); w[4] packs the ports,
// the VLAN ID, the protocol and whether the addresses are IPv4.
type flowKey struct {
	w [5]uint64
}

const keyIs4 = 1

// makeKey builds the canonical key of p in k and reports whether p's
// source is endpoint B (the packet goes from B to A). ok is false when p
// has no TCP or UDP header to key on. (k is filled in place: a 40-byte
// result would be copied through the stack with loads that straddle the
// stores, each waiting for them to retire.)
func makeKey(p *decode.Packet, ignoreVLAN bool, k *flowKey) (srcIsB bool, ok bool) {
	if p.Layer != decode.LayerTransport || (p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP) {
		return false, false
	}
	var sh, sl, dh, dl, is4 uint64
	if p.IPVersion == 4 {
		// Four bytes, the width decode stored them with: a wider load
		// would span two stores and wait for both to retire instead of
		// being forwarded.
		sh = uint64(binary.BigEndian.Uint32(p.SrcIP[:4])) << 32
		dh = uint64(binary.BigEndian.Uint32(p.DstIP[:4])) << 32
		is4 = keyIs4
	} else {
		sh, sl = binary.BigEndian.Uint64(p.SrcIP[:8]), binary.BigEndian.Uint64(p.SrcIP[8:])
		dh, dl = binary.BigEndian.Uint64(p.DstIP[:8]), binary.BigEndian.Uint64(p.DstIP[8:])
	}
	sp, dp := p.SrcPort, p.DstPort
	srcIsB = sh > dh || (sh == dh && (sl > dl || (sl == dl && sp > dp)))
	if srcIsB {
		sh, sl, sp, dh, dl, dp = dh, dl, dp, sh, sl, sp
	}
	var vlan uint64
	if p.VLANCount > 0 && !ignoreVLAN {
		vlan = uint64(p.VLANs[0] & 0xfff)
	}
	// Word by word: a composite literal is built on the stack and copied
	// with 16-byte loads that straddle its 8-byte stores.
	k.w[0], k.w[1], k.w[2], k.w[3] = sh, sl, dh, dl
	k.w[4] = uint64(sp)<<48 | uint64(dp)<<32 | vlan<<16 | uint64(p.Proto)<<8 | is4
	return srcIsB, true
}

// equal compares word by word (the compiler would call memequal for ==).
func (k *flowKey) equal(o *flowKey) bool {
	return k.w[0] == o.w[0] && k.w[1] == o.w[1] && k.w[2] == o.w[2] && k.w[3] == o.w[3] && k.w[4] == o.w[4]
}

func (k *flowKey) portA() uint16         { return uint16(k.w[4] >> 48) }
func (k *flowKey) portB() uint16         { return uint16(k.w[4] >> 32) }
func (k *flowKey) vlan() uint16          { return uint16(k.w[4] >> 16 & 0xfff) }
func (k *flowKey) proto() decode.IPProto { return decode.IPProto(k.w[4] >> 8) }

// endpoint returns endpoint A (side 0) or B (side 1).
func (k *flowKey) endpoint(side int) netip.AddrPort {
	var a netip.Addr
	if k.w[4]&keyIs4 != 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(k.w[2*side]>>32))
		a = netip.AddrFrom4(b)
	} else {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], k.w[2*side])
		binary.BigEndian.PutUint64(b[8:], k.w[2*side+1])
		a = netip.AddrFrom16(b)
	}
	port := k.portA()
	if side == 1 {
		port = k.portB()
	}
	return netip.AddrPortFrom(a, port)
}

// hashKey is a wyhash-style mix of the key words with the table's seed:
// fast, well spread in all 64 bits, and unpredictable to whoever chooses
// the packets (the seed is random per table).
func hashKey(k *flowKey, seed uint64) uint64 {
	const (
		p0 = 0xa0761d6478bd642f
		p1 = 0xe7037ed1a0b428db
		p2 = 0x8ebc6af09c88c6e3
		p3 = 0x589965cc75374cc3
	)
	if k.w[4]&keyIs4 != 0 {
		// Two IPv4 addresses fit one word, and two rounds suffice.
		h := mix(k.w[0]^k.w[2]>>32^p0^seed, k.w[4]^p1)
		return mix(h^p2, seed^p3)
	}
	h := mix(k.w[0]^p0^seed, k.w[1]^p1)
	h = mix(h^k.w[2]^p2, k.w[3]^p3^seed)
	h = mix(h^k.w[4]^p0, seed^p2)
	return mix(h^p1, 40^p3)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
