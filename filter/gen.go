package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// maxInsns is the kernel's limit on classic program length (BPF_MAXINSNS).
const maxInsns = 4096

// scratch slot 0 holds the run-time VLAN offset in live mode; the rest are
// temporaries for arithmetic.
const (
	slotVLAN   = 0
	firstTemp  = 1
	scratchLen = 16
)

type pinKind uint8

const (
	pPlain pinKind = iota // an ordinary instruction
	pCond                 // conditional jump on A vs K, or A vs X
	pJa                   // unconditional jump to a label
	pLabel                // a position, occupies no instruction
)

// pin is a pseudo-instruction: jumps name labels until layout resolves them.
type pin struct {
	kind   pinKind
	ins    bpf.Instruction
	cond   bpf.JumpTest
	k      uint32
	useX   bool
	jt, jf int // label ids
}

// gen accumulates the program for one expression.
type gen struct {
	link   linkInfo
	pins   []pin
	labels int
	temps  int // temporaries in use, from firstTemp
	err    error
}

func (g *gen) newLabel() int { g.labels++; return g.labels - 1 }

func (g *gen) place(l int) { g.pins = append(g.pins, pin{kind: pLabel, jt: l}) }

func (g *gen) ins(i ...bpf.Instruction) {
	for _, x := range i {
		g.pins = append(g.pins, pin{kind: pPlain, ins: x})
	}
}

// jmp emits "if A <cond> k goto t else goto f".
func (g *gen) jmp(c bpf.JumpTest, k uint32, t, f int) {
	g.pins = append(g.pins, pin{kind: pCond, cond: c, k: k, jt: t, jf: f})
}

// jmpX emits "if A <cond> X goto t else goto f".
func (g *gen) jmpX(c bpf.JumpTest, t, f int) {
	g.pins = append(g.pins, pin{kind: pCond, cond: c, useX: true, jt: t, jf: f})
}

func (g *gen) ja(l int) { g.pins = append(g.pins, pin{kind: pJa, jt: l}) }

// allocTemp returns a scratch slot for an intermediate value.
func (g *gen) allocTemp() uint32 {
	s := firstTemp + g.temps
	if s >= scratchLen {
		if g.err == nil {
			g.err = fmt.Errorf("expression needs more than %d scratch registers", scratchLen-firstTemp)
		}
		return scratchLen - 1
	}
	g.temps++
	return uint32(s)
}

func (g *gen) freeTemp() { g.temps-- }

// cond emits code for n that continues at label t when n holds and at f
// when it does not.
func (g *gen) cond(n node, t, f int) {
	switch n := n.(type) {
	case *andNode:
		m := g.newLabel()
		g.cond(n.l, m, f)
		g.place(m)
		g.cond(n.r, t, f)
	case *orNode:
		m := g.newLabel()
		g.cond(n.l, t, m)
		g.place(m)
		g.cond(n.r, t, f)
	case *notNode:
		g.cond(n.x, f, t)
	case *leaf:
		n.emit(g, t, f)
	}
}

// layout resolves labels to relative offsets. Conditional jumps reach at
// most 255 instructions ahead; a longer one is routed through an inserted
// unconditional jump, which has a 32-bit reach.
func (g *gen) layout() ([]bpf.Instruction, error) {
	g.dropJumpsToNext()
	n := 0
	for _, p := range g.pins {
		if p.kind != pLabel {
			n++
		}
	}
	if n > maxInsns {
		return nil, fmt.Errorf("program has %d instructions, the kernel accepts at most %d", n, maxInsns)
	}
	// Each round routes every currently too-long jump through a trampoline;
	// trampolines lengthen other jumps, so repeat until none is too long.
	for {
		pos, lpos := g.positions()
		var out []pin
		grown := false
		for i, p := range g.pins {
			if p.kind != pCond {
				out = append(out, p)
				continue
			}
			far := func(l int) bool { return lpos[l]-pos[i]-1 > 255 }
			var extra []pin
			if far(p.jt) {
				l := g.newLabel()
				extra = append(extra, pin{kind: pLabel, jt: l}, pin{kind: pJa, jt: p.jt})
				p.jt = l
			}
			if far(p.jf) {
				l := g.newLabel()
				extra = append(extra, pin{kind: pLabel, jt: l}, pin{kind: pJa, jt: p.jf})
				p.jf = l
			}
			grown = grown || len(extra) > 0
			out = append(append(out, p), extra...)
		}
		g.pins = out
		if !grown {
			break
		}
		if len(g.pins) > 4*maxInsns {
			return nil, fmt.Errorf("program is longer than the kernel accepts (%d instructions)", maxInsns)
		}
	}
	pos, lpos := g.positions()
	var out []bpf.Instruction
	for i, p := range g.pins {
		switch p.kind {
		case pPlain:
			out = append(out, p.ins)
		case pJa:
			out = append(out, bpf.Jump{Skip: uint32(lpos[p.jt] - pos[i] - 1)})
		case pCond:
			st, sf := uint8(lpos[p.jt]-pos[i]-1), uint8(lpos[p.jf]-pos[i]-1)
			if p.useX {
				out = append(out, bpf.JumpIfX{Cond: p.cond, SkipTrue: st, SkipFalse: sf})
			} else {
				out = append(out, bpf.JumpIf{Cond: p.cond, Val: p.k, SkipTrue: st, SkipFalse: sf})
			}
		}
	}
	if len(out) > maxInsns {
		return nil, fmt.Errorf("program has %d instructions, the kernel accepts at most %d", len(out), maxInsns)
	}
	return out, nil
}

// positions maps each pin to its instruction index and each label to the
// index of the instruction that follows it.
func (g *gen) positions() (pos []int, lpos []int) {
	pos = make([]int, len(g.pins))
	lpos = make([]int, g.labels)
	n := 0
	for i, p := range g.pins {
		pos[i] = n
		if p.kind == pLabel {
			lpos[p.jt] = n
			continue
		}
		n++
	}
	return pos, lpos
}

// dropJumpsToNext removes unconditional jumps whose target is the next
// instruction, which tree-shaped code generation produces often.
func (g *gen) dropJumpsToNext() {
	out := g.pins[:0]
	for i, p := range g.pins {
		if p.kind == pJa {
			next := false
			for j := i + 1; j < len(g.pins) && g.pins[j].kind == pLabel; j++ {
				if g.pins[j].jt == p.jt {
					next = true
					break
				}
			}
			if next {
				continue
			}
		}
		out = append(out, p)
	}
	g.pins = out
}
