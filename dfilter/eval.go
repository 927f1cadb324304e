package dfilter

import (
	"bytes"
	"cmp"
	"net/netip"
	"regexp"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// Packet is what a filter looks at: one frame, decoded, with the flow
// table's result for it. The caller fills it per packet (reusing it);
// Payload is the TCP or UDP payload the application-layer fields read.
type Packet struct {
	Frame   uint64
	TS      int64 // ns since the epoch
	First   int64 // the capture's first packet time, for frame.time_relative
	Prev    int64 // the previous packet's time, for frame.time_delta
	Len     int   // bytes on the wire
	Data    []byte
	Decoded *decode.Packet
	// Result is the flow table's result for the packet; nil when the
	// packet was not tracked.
	Result  *flowtable.PacketResult
	Payload []byte
	// Transport, when set, is what Decoded's transport offsets index
	// instead of Data: a reassembled datagram's bytes (track's
	// Packet.Transport).
	Transport []byte

	// Set by Conversations.See: the flow's stream number (tcp.stream,
	// udp.stream) and the times of its first and previous packets.
	conv                bool
	stream              uint64
	flowFirst, flowPrev int64

	app appCache
	vs  vals // a field's occurrences, for the node being evaluated
	vs2 vals // the other field's, comparing two fields
}

// Reset prepares p for its next packet (the application-layer parses are
// redone lazily, once per packet).
func (p *Packet) Reset() { p.app.done, p.conv = 0, false }

type kind uint8

const (
	kUint kind = iota
	kFloat
	kBool
	kAddr
	kPrefix // a literal only
	kMAC
	kString
	kBytes
	kNone // a protocol: presence only
)

func (k kind) ordered() bool { return k == kUint || k == kFloat }

// value is one occurrence of a field, or a literal.
type value struct {
	k kind
	u uint64
	f float64
	a netip.Addr
	p netip.Prefix
	s []byte
}

// maxVals bounds the occurrences of a field in one packet (an address
// pair, the A records of a DNS answer, ...).
const maxVals = 16

type vals struct {
	v [maxVals]value
	n int
}

func (vs *vals) add(v value) {
	if vs.n < maxVals {
		vs.v[vs.n] = v
		vs.n++
	}
}

type node interface{ eval(p *Packet) bool }

type (
	orNode      struct{ a, b node }
	andNode     struct{ a, b node }
	notNode     struct{ a node }
	presentNode struct{ f *field }
	cmpNode     struct {
		f  *field
		op cmpOp
		v  value
	}
	// fieldCmpNode compares two fields: true when some pair of their
	// occurrences compares so (for !=, when no pair is equal).
	fieldCmpNode struct {
		a, b *field
		op   cmpOp
	}
	// bitNode is "field & mask", true when an occurrence has a mask bit
	// set, or with cmp "field & mask OP v", comparing the masked value.
	bitNode struct {
		f    *field
		mask uint64
		cmp  bool
		op   cmpOp
		v    uint64
	}
	matchNode struct {
		f  *field
		re *regexp.Regexp
	}
	setNode struct {
		f      *field
		lo, hi []value
	}
)

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opMatches
)

func (n orNode) eval(p *Packet) bool  { return n.a.eval(p) || n.b.eval(p) }
func (n andNode) eval(p *Packet) bool { return n.a.eval(p) && n.b.eval(p) }
func (n notNode) eval(p *Packet) bool { return !n.a.eval(p) }

func (n presentNode) eval(p *Packet) bool {
	vs := &p.vs
	vs.n = 0
	n.f.get(p, vs)
	return vs.n > 0
}

func (n cmpNode) eval(p *Packet) bool {
	vs := &p.vs
	vs.n = 0
	n.f.get(p, vs)
	if n.op == opNe {
		for i := range vs.n {
			if equal(&vs.v[i], &n.v) {
				return false
			}
		}
		return vs.n > 0
	}
	for i := range vs.n {
		x := &vs.v[i]
		switch n.op {
		case opEq:
			if equal(x, &n.v) {
				return true
			}
		case opContains:
			if bytes.Contains(x.s, n.v.s) {
				return true
			}
		default:
			if c, ok := compare(x, &n.v); ok && holds(n.op, c) {
				return true
			}
		}
	}
	return false
}

func (n matchNode) eval(p *Packet) bool {
	vs := &p.vs
	vs.n = 0
	n.f.get(p, vs)
	for i := range vs.n {
		if n.re.Match(vs.v[i].s) {
			return true
		}
	}
	return false
}

func (n fieldCmpNode) eval(p *Packet) bool {
	a, b := &p.vs, &p.vs2
	a.n, b.n = 0, 0
	n.a.get(p, a)
	n.b.get(p, b)
	if a.n == 0 || b.n == 0 {
		return false
	}
	for i := range a.n {
		for j := range b.n {
			x, y := &a.v[i], &b.v[j]
			switch n.op {
			case opEq:
				if equal(x, y) {
					return true
				}
			case opNe:
				if equal(x, y) {
					return false
				}
			default:
				if c, ok := compare(x, y); ok && holds(n.op, c) {
					return true
				}
			}
		}
	}
	return n.op == opNe
}

func (n bitNode) eval(p *Packet) bool {
	vs := &p.vs
	vs.n = 0
	n.f.get(p, vs)
	for i := range vs.n {
		m := vs.v[i].u & n.mask
		switch {
		case !n.cmp:
			if m != 0 {
				return true
			}
		case n.op == opNe:
			if m == n.v {
				return false
			}
		case holds(n.op, cmp.Compare(m, n.v)):
			return true
		}
	}
	return n.cmp && n.op == opNe && vs.n > 0
}

// holds reports whether an ordering result c satisfies op.
func holds(op cmpOp, c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

func (n setNode) eval(p *Packet) bool {
	vs := &p.vs
	vs.n = 0
	n.f.get(p, vs)
	for i := range vs.n {
		x := &vs.v[i]
		for j := range n.lo {
			if equal(x, &n.lo[j]) {
				return true
			}
			if lo, ok := compare(x, &n.lo[j]); ok && lo >= 0 {
				if hi, ok := compare(x, &n.hi[j]); ok && hi <= 0 {
					return true
				}
			}
		}
	}
	return false
}

// equal compares an occurrence with a literal. Addresses compare unmapped,
// so an IPv4-mapped IPv6 address in a capture equals its IPv4 literal.
func equal(x, lit *value) bool {
	switch lit.k {
	case kPrefix:
		return x.k == kAddr && lit.p.Contains(x.a.Unmap())
	case kAddr:
		return x.k == kAddr && x.a.Unmap() == lit.a.Unmap()
	case kFloat:
		return x.k == kFloat && x.f == lit.f
	case kMAC, kString, kBytes:
		return bytes.Equal(x.s, lit.s)
	}
	return x.k == kUint && x.u == lit.u
}

func compare(x, lit *value) (int, bool) {
	switch {
	case x.k == kUint && lit.k == kUint:
		return cmp3(x.u < lit.u, x.u > lit.u), true
	case x.k == kFloat && lit.k == kFloat:
		return cmp3(x.f < lit.f, x.f > lit.f), true
	}
	return 0, false
}

func cmp3(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}
