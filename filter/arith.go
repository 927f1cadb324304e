package filter

import (
	"golang.org/x/net/bpf"
)

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor,
	"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// guard emits the protocol test a load from proto[] implies (libpcap ANDs
// it with the comparison): the header must be present and, for transport
// headers over IPv4, the packet must not be a later fragment.
func (g *gen) guard(l *loadExpr, t, f int) {
	st := l.st
	switch l.proto {
	case "ether":
		g.ja(t)
	case "ip":
		g.linkProto(st, etIPv4, t, f)
	case "ip6":
		g.linkProto(st, etIPv6, t, f)
	case "arp":
		g.linkProto(st, etARP, t, f)
	case "rarp":
		g.linkProto(st, etRARP, t, f)
	case "icmp6":
		m := g.newLabel()
		g.linkProto(st, etIPv6, m, f)
		g.place(m)
		g.ldNL(st, 1, 6)
		g.jmp(bpf.JumpEqual, protoICMPv6, t, f)
	default: // transport over IPv4
		m := g.newLabel()
		g.ipProto(st, transportProto[l.proto], m, f)
		g.place(m)
		g.ipv4FirstFragment(st, t, f)
	}
}

var transportProto = map[string]uint8{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP, "icmp": protoICMP}

// loads collects the loads in an expression, in evaluation order.
func loads(a arith, out []*loadExpr) []*loadExpr {
	switch a := a.(type) {
	case *loadExpr:
		out = loads(a.idx, out)
		out = append(out, a)
	case *binExpr:
		out = loads(a.l, out)
		out = loads(a.r, out)
	case *negExpr:
		out = loads(a.x, out)
	}
	return out
}

// eval emits code leaving the value of a in A. It may clobber X.
func (g *gen) eval(a arith) {
	switch a := a.(type) {
	case *numExpr:
		g.ins(bpf.LoadConstant{Dst: bpf.RegA, Val: a.v})
	case *lenExpr:
		g.ins(bpf.LoadExtension{Num: bpf.ExtLen})
	case *negExpr:
		g.eval(a.x)
		// -x is x*(2^32-1) modulo 2^32; x/net/bpf's VM has no negate.
		g.ins(bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0xffffffff})
	case *binExpr:
		op := aluOps[a.op]
		if k, ok := a.r.(*numExpr); ok {
			g.eval(a.l)
			g.ins(bpf.ALUOpConstant{Op: op, Val: k.v})
			return
		}
		s := g.allocTemp()
		g.eval(a.l)
		g.ins(bpf.StoreScratch{Src: bpf.RegA, N: int(s)})
		g.eval(a.r)
		g.ins(bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: int(s)}, bpf.ALUOpX{Op: op})
		g.freeTemp()
	case *loadExpr:
		g.evalLoad(a)
	}
}

// evalLoad loads proto[idx:size] into A.
func (g *gen) evalLoad(l *loadExpr) {
	st := l.st
	var base uint32 // constant part of the header's offset
	switch l.proto {
	case "ether":
		base = 0
	case "ip", "ip6", "arp", "rarp":
		base = g.link.nl + st.shift
	case "icmp6":
		base = g.link.nl + st.shift + 40
	default:
		base = g.link.nl + st.shift
	}
	transport := transportProto[l.proto] != 0
	k, constIdx := l.idx.(*numExpr)
	switch {
	case constIdx && l.proto == "ether":
		g.ins(bpf.LoadAbsolute{Off: k.v, Size: l.size})
	case constIdx && transport:
		g.ldxIPv4Header(st)
		g.ins(bpf.LoadIndirect{Off: base + k.v, Size: l.size})
	case constIdx && !st.variable:
		g.ins(bpf.LoadAbsolute{Off: base + k.v, Size: l.size})
	case constIdx:
		g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN}, bpf.LoadIndirect{Off: base + k.v, Size: l.size})
	default:
		g.eval(l.idx)
		if transport || (st.variable && l.proto != "ether") {
			s := g.allocTemp()
			g.ins(bpf.StoreScratch{Src: bpf.RegA, N: int(s)})
			if transport {
				g.ldxIPv4Header(st)
			} else {
				g.ins(bpf.LoadScratch{Dst: bpf.RegX, N: slotVLAN})
			}
			g.ins(bpf.LoadScratch{Dst: bpf.RegA, N: int(s)}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
			g.freeTemp()
		}
		g.ins(bpf.TAX{}, bpf.LoadIndirect{Off: base, Size: l.size})
	}
}

// relation emits "l op r" preceded by the protocol guards of its loads.
func (g *gen) relation(l arith, op string, r arith, t, f int) {
	for _, ld := range loads(r, loads(l, nil)) {
		m := g.newLabel()
		g.guard(ld, m, f)
		g.place(m)
	}
	// Map the operator onto the jumps classic BPF has: =, >, >= and their negations.
	var c bpf.JumpTest
	neg := false
	switch op {
	case "=", "==":
		c = bpf.JumpEqual
	case "!=":
		c, neg = bpf.JumpEqual, true
	case ">":
		c = bpf.JumpGreaterThan
	case ">=":
		c = bpf.JumpGreaterOrEqual
	case "<":
		c, neg = bpf.JumpGreaterOrEqual, true
	case "<=":
		c, neg = bpf.JumpGreaterThan, true
	}
	if neg {
		t, f = f, t
	}
	if k, ok := r.(*numExpr); ok {
		g.eval(l)
		g.jmp(c, k.v, t, f)
		return
	}
	s := g.allocTemp()
	g.eval(l)
	g.ins(bpf.StoreScratch{Src: bpf.RegA, N: int(s)})
	g.eval(r)
	g.ins(bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: int(s)})
	g.freeTemp()
	g.jmpX(c, t, f)
}
