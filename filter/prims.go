package filter

import (
	"math/bits"

	"golang.org/x/net/bpf"
)

// Ethertypes and IP protocol numbers the primitives test.
const (
	etIPv4 = 0x0800
	etARP  = 0x0806
	etRARP = 0x8035
	etIPv6 = 0x86dd

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44
	protoICMPv6 = 58
	protoSCTP   = 132
)

// linkState is where the network header starts, as known when a primitive
// is parsed: libpcap shifts every later offset after each "vlan", so the
// shift is a property of a primitive's position in the expression.
type linkState struct {
	shift    uint32 // bytes of VLAN tags (offline: fixed 4 per "vlan")
	variable bool   // live: add M[slotVLAN], set at run time by "vlan"
}

// linkInfo describes the link layer a program filters.
type linkInfo struct {
	etherType int    // offset of the ethertype field, -1 when there is none (raw IP)
	nl        uint32 // offset of the network header
	ether     bool   // Ethernet: MAC addresses and VLAN tags exist
	live      bool   // VLAN tags may have been stripped into skb metadata
	// Without an ethertype, how a frame tells IPv4 from IPv6:
	only   uint16     // the link carries only this ethertype (LINKTYPE_IPV4, _IPV6)
	family familyKind // a 4-byte address family header (BSD loopback)
}

// familyKind says how a loopback link header holds the address family.
type familyKind uint8

const (
	familyNone familyKind = iota
	familyHost            // LINKTYPE_NULL: the writer's byte order
	familyNet             // LINKTYPE_LOOP: network byte order
)

// The BSD address family numbers libpcap tests for IPv4 and, reading a
// file, for the three IPv6 values BSDs use.
var (
	afIPv4 = []uint32{2}
	afIPv6 = []uint32{24, 28, 30}
)

// ldNL loads A from the network header at off.
func (g *gen) ldNL(st linkState, size int, off uint32) {
	if st.variable {
		g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN},
			bpf.LoadIndirect{Off: g.link.nl + st.shift + off, Size: size})
		return
	}
	g.ins(bpf.LoadAbsolute{Off: g.link.nl + st.shift + off, Size: size})
}

// linkProto continues at t when the frame carries ethertype et.
func (g *gen) linkProto(st linkState, et uint16, t, f int) {
	if g.link.only != 0 {
		if et == g.link.only {
			g.ja(t)
		} else {
			g.ja(f)
		}
		return
	}
	if g.link.family != familyNone {
		g.loopFamily(et, t, f)
		return
	}
	if g.link.etherType < 0 {
		// Raw IP: the version nibble is the only type information.
		var v uint32
		switch et {
		case etIPv4:
			v = 0x40
		case etIPv6:
			v = 0x60
		default:
			g.ja(f)
			return
		}
		g.ins(bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		g.jmp(bpf.JumpEqual, v, t, f)
		return
	}
	off := uint32(g.link.etherType) + st.shift
	if st.variable {
		g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN}, bpf.LoadIndirect{Off: off, Size: 2})
	} else {
		g.ins(bpf.LoadAbsolute{Off: off, Size: 2})
	}
	g.jmp(bpf.JumpEqual, uint32(et), t, f)
}

// loopFamily continues at t when a loopback frame's address family is
// that of ethertype et. libpcap compares LINKTYPE_NULL's host-order word
// as the reading machine sees it after undoing a byte-swapped file; a
// Matcher does not know the file's byte order, so both orders match
// (the same decisions for every file whose packets were written by the
// machine that wrote its header).
func (g *gen) loopFamily(et uint16, t, f int) {
	var afs []uint32
	switch et {
	case etIPv4:
		afs = afIPv4
	case etIPv6:
		afs = afIPv6
	default:
		g.ja(f)
		return
	}
	var vals []uint32
	for _, af := range afs {
		if g.link.family == familyHost {
			vals = append(vals, bits.ReverseBytes32(af)) // written little-endian
		}
		vals = append(vals, af)
	}
	g.ins(bpf.LoadAbsolute{Off: 0, Size: 4})
	for i, v := range vals {
		next := f
		if i < len(vals)-1 {
			next = g.newLabel()
		}
		g.jmp(bpf.JumpEqual, v, t, next)
		if next != f {
			g.place(next)
		}
	}
}

// ldxIPv4Header sets X to the offset of the IPv4 payload relative to
// the network header's base offset (header length, plus the VLAN offset
// in live mode).
func (g *gen) ldxIPv4Header(st linkState) {
	off := g.link.nl + st.shift
	if !st.variable {
		g.ins(bpf.LoadMemShift{Off: off})
		return
	}
	g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN},
		bpf.LoadIndirect{Off: off, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2},
		bpf.ALUOpX{Op: bpf.ALUOpAdd},
		bpf.TAX{})
}

// ipv4NotFragment continues at t for an unfragmented IPv4 packet or a
// first fragment, as libpcap's transport tests do.
func (g *gen) ipv4FirstFragment(st linkState, t, f int) {
	g.ldNL(st, 2, 6)
	g.jmp(bpf.JumpBitsSet, 0x1fff, f, t)
}

// ipProto tests the IPv4 protocol field (no fragment check, like "ip proto").
func (g *gen) ipProto(st linkState, proto uint8, t, f int) {
	m := g.newLabel()
	g.linkProto(st, etIPv4, m, f)
	g.place(m)
	g.ldNL(st, 1, 9)
	g.jmp(bpf.JumpEqual, uint32(proto), t, f)
}

// ip6Proto tests the IPv6 next header, also looking past one fragment
// header as libpcap's "ip6 proto" does.
func (g *gen) ip6Proto(st linkState, proto uint8, t, f int) {
	m, frag := g.newLabel(), g.newLabel()
	g.linkProto(st, etIPv6, m, f)
	g.place(m)
	g.ldNL(st, 1, 6)
	g.jmp(bpf.JumpEqual, uint32(proto), t, frag)
	g.place(frag)
	m2 := g.newLabel()
	g.jmp(bpf.JumpEqual, protoFrag6, m2, f)
	g.place(m2)
	g.ldNL(st, 1, 40)
	g.jmp(bpf.JumpEqual, uint32(proto), t, f)
}

// anyOf continues at t when A equals one of vals.
func (g *gen) anyOf(vals []uint8, t, f int) {
	for i, v := range vals {
		if i == len(vals)-1 {
			g.jmp(bpf.JumpEqual, uint32(v), t, f)
			break
		}
		n := g.newLabel()
		g.jmp(bpf.JumpEqual, uint32(v), t, n)
		g.place(n)
	}
}

// direction combines a source test and a destination test as a qualifier asks.
func (g *gen) direction(d dir, src, dst func(t, f int), t, f int) {
	switch d {
	case dirSrc:
		src(t, f)
	case dirDst:
		dst(t, f)
	case dirAnd:
		m := g.newLabel()
		src(m, f)
		g.place(m)
		dst(t, f)
	default: // either
		m := g.newLabel()
		src(t, m)
		g.place(m)
		dst(t, f)
	}
}

// portMatch compares A with a port or a port range.
func (g *gen) portMatch(lo, hi uint16, t, f int) {
	if lo == hi {
		g.jmp(bpf.JumpEqual, uint32(lo), t, f)
		return
	}
	m := g.newLabel()
	g.jmp(bpf.JumpGreaterOrEqual, uint32(lo), m, f)
	g.place(m)
	g.jmp(bpf.JumpGreaterThan, uint32(hi), f, t)
}

// port emits libpcap's port test: over IPv6 the next header must be one
// of protos directly; over IPv4 the protocol must match and the packet
// must not be a later fragment.
func (g *gen) port(st linkState, protos []uint8, d dir, lo, hi uint16, t, f int) {
	v4 := g.newLabel()
	m := g.newLabel()
	g.linkProto(st, etIPv6, m, v4)
	g.place(m)
	g.ldNL(st, 1, 6)
	p6 := g.newLabel()
	g.anyOf(protos, p6, f)
	g.place(p6)
	g.direction(d,
		func(t, f int) { g.ldNL(st, 2, 40); g.portMatch(lo, hi, t, f) },
		func(t, f int) { g.ldNL(st, 2, 42); g.portMatch(lo, hi, t, f) }, t, f)

	g.place(v4)
	m4, p4, nf := g.newLabel(), g.newLabel(), g.newLabel()
	g.linkProto(st, etIPv4, m4, f)
	g.place(m4)
	g.ldNL(st, 1, 9)
	g.anyOf(protos, p4, f)
	g.place(p4)
	g.ipv4FirstFragment(st, nf, f)
	g.place(nf)
	g.ldxIPv4Header(st)
	base := g.link.nl + st.shift
	g.direction(d,
		func(t, f int) { g.ins(bpf.LoadIndirect{Off: base, Size: 2}); g.portMatch(lo, hi, t, f) },
		func(t, f int) { g.ins(bpf.LoadIndirect{Off: base + 2, Size: 2}); g.portMatch(lo, hi, t, f) }, t, f)
}

// word32 compares the 32-bit word at a network-header offset under a mask.
func (g *gen) word32(st linkState, off, val, mask uint32, t, f int) {
	if mask == 0 {
		// "net 0/0": no load at all, as libpcap's optimiser leaves it.
		g.ja(t)
		return
	}
	g.ldNL(st, 4, off)
	if mask != 0xffffffff {
		g.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	g.jmp(bpf.JumpEqual, val&mask, t, f)
}

// addr4 tests an IPv4 address (or network) in an IPv4 or ARP/RARP header.
func (g *gen) addr4(st linkState, et uint16, d dir, val, mask uint32, t, f int) {
	srcOff, dstOff := uint32(12), uint32(16)
	if et != etIPv4 {
		srcOff, dstOff = 14, 24 // sender and target protocol address
	}
	m := g.newLabel()
	g.linkProto(st, et, m, f)
	g.place(m)
	g.direction(d,
		func(t, f int) { g.word32(st, srcOff, val, mask, t, f) },
		func(t, f int) { g.word32(st, dstOff, val, mask, t, f) }, t, f)
}

// addr6 tests an IPv6 address (or prefix) in an IPv6 header.
func (g *gen) addr6(st linkState, d dir, val, mask [4]uint32, t, f int) {
	m := g.newLabel()
	g.linkProto(st, etIPv6, m, f)
	g.place(m)
	words := func(base uint32) func(t, f int) {
		return func(t, f int) {
			last := -1
			for i := range mask {
				if mask[i] != 0 {
					last = i
				}
			}
			if last < 0 {
				g.ja(t)
				return
			}
			for i := 0; i <= last; i++ {
				if mask[i] == 0 {
					continue
				}
				if i == last {
					g.word32(st, base+uint32(4*i), val[i], mask[i], t, f)
					break
				}
				n := g.newLabel()
				g.word32(st, base+uint32(4*i), val[i], mask[i], n, f)
				g.place(n)
			}
		}
	}
	g.direction(d, words(8), words(24), t, f)
}

// mac tests an Ethernet address in the link header (never VLAN-shifted).
func (g *gen) mac(d dir, a [6]byte, t, f int) {
	test := func(off uint32) func(t, f int) {
		return func(t, f int) {
			n := g.newLabel()
			g.ins(bpf.LoadAbsolute{Off: off + 2, Size: 4})
			g.jmp(bpf.JumpEqual, uint32(a[2])<<24|uint32(a[3])<<16|uint32(a[4])<<8|uint32(a[5]), n, f)
			g.place(n)
			g.ins(bpf.LoadAbsolute{Off: off, Size: 2})
			g.jmp(bpf.JumpEqual, uint32(a[0])<<8|uint32(a[1]), t, f)
		}
	}
	g.direction(d, test(6), test(0), t, f)
}

// lenCmp compares the packet's length on the wire... as the kernel and
// libpcap see it: the captured length at filter time.
func (g *gen) lenCmp(c bpf.JumpTest, k uint32, t, f int) {
	g.ins(bpf.LoadExtension{Num: bpf.ExtLen})
	g.jmp(c, k, t, f)
}

// tpidAndVID tests the tag protocol identifier at the ethertype position
// and, when id >= 0, the VLAN ID that follows it.
func (g *gen) tpidAndVID(st linkState, id int, t, f int) {
	tagged := g.newLabel()
	off := uint32(g.link.etherType) + st.shift
	if st.variable {
		g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN}, bpf.LoadIndirect{Off: off, Size: 2})
	} else {
		g.ins(bpf.LoadAbsolute{Off: off, Size: 2})
	}
	n1, n2 := g.newLabel(), g.newLabel()
	g.jmp(bpf.JumpEqual, 0x8100, tagged, n1)
	g.place(n1)
	g.jmp(bpf.JumpEqual, 0x88a8, tagged, n2)
	g.place(n2)
	g.jmp(bpf.JumpEqual, 0x9100, tagged, f)
	g.place(tagged)
	if id < 0 {
		g.ja(t)
		return
	}
	if st.variable {
		g.ins(bpf.LoadIndirect{Off: off + 2, Size: 2})
	} else {
		g.ins(bpf.LoadAbsolute{Off: off + 2, Size: 2})
	}
	g.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff})
	g.jmp(bpf.JumpEqual, uint32(id), t, f)
}

// vlanLiveFirst is the first "vlan" on a live socket, as libpcap does it on
// Linux: the kernel usually strips the outer tag into skb metadata, read
// with the VLAN ancillary loads; a tag still in the frame counts too, and
// then the network header moves 4 bytes (kept in M[slotVLAN]).
func (g *gen) vlanLiveFirst(id int, t, f int) {
	meta, inFrame := g.newLabel(), g.newLabel()
	g.ins(bpf.LoadExtension{Num: bpf.ExtVLANTagPresent})
	g.jmp(bpf.JumpEqual, 1, meta, inFrame)
	g.place(meta)
	if id < 0 {
		g.ja(t)
	} else {
		g.ins(bpf.LoadExtension{Num: bpf.ExtVLANTag}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff})
		g.jmp(bpf.JumpEqual, uint32(id), t, f)
	}
	g.place(inFrame)
	// The shift applies whether or not the in-frame tag test passes,
	// matching libpcap, which updates the offset before that test.
	g.ins(bpf.LoadScratch{Dst: bpf.RegA, N: slotVLAN},
		bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 4},
		bpf.StoreScratch{Src: bpf.RegA, N: slotVLAN})
	g.tpidAndVID(linkState{}, id, t, f)
}
