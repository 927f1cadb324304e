package filter

import (
	"errors"
	"fmt"

	"github.com/netblame/netblame/linktype"
	"golang.org/x/net/bpf"
)

// DefaultSnaplen is what accepting paths return when Compile is given 0.
const DefaultSnaplen = 262144

const (
	jge = bpf.JumpGreaterOrEqual
	jgt = bpf.JumpGreaterThan
)

// Compile parses a tcpdump (pcap-filter) expression and compiles it to a
// classic BPF program for a live AF_PACKET socket on the given link type.
// Accepting paths return snaplen (DefaultSnaplen when 0), so the kernel
// truncates for the caller; rejecting paths return 0. "" accepts all.
//
// "vlan" is compiled as libpcap does on Linux: the kernel strips the
// outer tag into skb metadata, so the test reads it with the VLAN
// ancillary loads, and falls back to a tag still inside the frame. Such
// programs run in the kernel but not in x/net/bpf's VM; use CompileOffline
// for frames read from capture files.
func Compile(expr string, link linktype.Type, snaplen uint32) ([]bpf.Instruction, error) {
	return compile(expr, link, snaplen, true)
}

// CompileOffline is Compile for frames that still carry their VLAN tags,
// such as packets read from a capture file: "vlan" tests the tag in the
// frame and moves later offsets past it, like "tcpdump -r".
func CompileOffline(expr string, link linktype.Type, snaplen uint32) ([]bpf.Instruction, error) {
	return compile(expr, link, snaplen, false)
}

func compile(expr string, link linktype.Type, snaplen uint32, live bool) ([]bpf.Instruction, error) {
	return compileWith(expr, link, snaplen, live, true)
}

// compileWith can skip the optimiser, so tests can check both outputs.
func compileWith(expr string, link linktype.Type, snaplen uint32, live, optimize bool) ([]bpf.Instruction, error) {
	li, ok := linkInfoFor(link)
	if !ok {
		return nil, fmt.Errorf("filter: link type %d is not supported (Ethernet, Linux SLL and SLL2, raw IP, raw IPv4 and IPv6, BSD loopback are)", link)
	}
	li.live = live && li.ether
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return []bpf.Instruction{bpf.RetConstant{Val: snaplen}}, nil
	}
	p := &parser{src: expr, toks: toks, link: li}
	root, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.pos, "unexpected %q after a complete expression", t.text)
	}
	g := &gen{link: li}
	if li.live && p.vlans > 0 {
		// The run-time VLAN offset starts at 0; the kernel's checker
		// also insists that scratch memory is written before it is read.
		g.ins(bpf.LoadConstant{Dst: bpf.RegA, Val: 0}, bpf.StoreScratch{Src: bpf.RegA, N: slotVLAN})
	}
	accept, reject := g.newLabel(), g.newLabel()
	g.cond(root, accept, reject)
	g.place(accept)
	g.ins(bpf.RetConstant{Val: snaplen})
	g.place(reject)
	g.ins(bpf.RetConstant{Val: 0})
	if g.err != nil {
		return nil, &SyntaxError{Expr: expr, Pos: 0, Msg: g.err.Error()}
	}
	if optimize {
		g.optimize()
	}
	prog, err := g.layout()
	if err != nil {
		return nil, &SyntaxError{Expr: expr, Pos: 0, Msg: err.Error()}
	}
	if _, err := bpf.Assemble(prog); err != nil {
		return nil, errors.Join(errors.New("filter: internal error: generated program does not assemble"), err)
	}
	return prog, nil
}

func linkInfoFor(link linktype.Type) (linkInfo, bool) {
	switch link {
	case linktype.Ethernet:
		return linkInfo{etherType: 12, nl: 14, ether: true}, true
	case linktype.LinuxSLL:
		return linkInfo{etherType: 14, nl: 16}, true
	case linktype.LinuxSLL2:
		return linkInfo{etherType: 0, nl: 20}, true
	case linktype.Raw, linktype.RawDLT12, linktype.RawDLT14:
		return linkInfo{etherType: -1, nl: 0}, true
	case linktype.IPv4:
		return linkInfo{etherType: -1, nl: 0, only: etIPv4}, true
	case linktype.IPv6:
		return linkInfo{etherType: -1, nl: 0, only: etIPv6}, true
	case linktype.Null:
		return linkInfo{etherType: -1, nl: 4, family: familyHost}, true
	case linktype.Loop:
		return linkInfo{etherType: -1, nl: 4, family: familyNet}, true
	}
	return linkInfo{}, false
}
