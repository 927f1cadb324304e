package filter

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/netblame/netblame/linktype"
	"golang.org/x/net/bpf"
)

// Matcher runs a filter expression on frames read from capture files, in
// user space, as "tcpdump -r FILE EXPR" does: the program CompileOffline
// produces, run by a small classic BPF interpreter of this package. It
// exists because x/net/bpf's VM dispatches through an interface per
// instruction and is several times slower; Match allocates nothing.
//
// A Matcher has no mutable state: one may be used by many goroutines.
type Matcher struct {
	expr string
	link linktype.Type
	prog []insn
}

// insn is a classic BPF instruction in its kernel encoding (what
// bpf.Assemble returns), validated once so that Match trusts its jumps
// and scratch indexes.
type insn struct {
	op     uint16
	jt, jf uint8
	k      uint32
}

// Classic BPF opcodes, as in linux/filter.h. Only the combinations the
// interpreter runs are listed.
const (
	opLdWAbs  = 0x20
	opLdHAbs  = 0x28
	opLdBAbs  = 0x30
	opLdWInd  = 0x40
	opLdHInd  = 0x48
	opLdBInd  = 0x50
	opLdLen   = 0x80
	opLdImm   = 0x00
	opLdMem   = 0x60
	opLdxImm  = 0x01
	opLdxMem  = 0x61
	opLdxLen  = 0x81
	opLdxMsh  = 0xb1
	opSt      = 0x02
	opStx     = 0x03
	opAddK    = 0x04
	opSubK    = 0x14
	opMulK    = 0x24
	opDivK    = 0x34
	opOrK     = 0x44
	opAndK    = 0x54
	opLshK    = 0x64
	opRshK    = 0x74
	opNeg     = 0x84
	opModK    = 0x94
	opXorK    = 0xa4
	opAddX    = 0x0c
	opSubX    = 0x1c
	opMulX    = 0x2c
	opDivX    = 0x3c
	opOrX     = 0x4c
	opAndX    = 0x5c
	opLshX    = 0x6c
	opRshX    = 0x7c
	opModX    = 0x9c
	opXorX    = 0xac
	opJa      = 0x05
	opJeqK    = 0x15
	opJgtK    = 0x25
	opJgeK    = 0x35
	opJsetK   = 0x45
	opJeqX    = 0x1d
	opJgtX    = 0x2d
	opJgeX    = 0x3d
	opJsetX   = 0x4d
	opRetK    = 0x06
	opRetA    = 0x16
	opTax     = 0x07
	opTxa     = 0x87
	extOffset = 0xfffff000 // SKF_AD_OFF: absolute loads from here are kernel extensions
)

// NewMatcher compiles expr (tcpdump syntax) for frames of the given link
// type with CompileOffline. snaplen is what Run reports for an accepted
// frame (DefaultSnaplen when 0); Match only tells accept from reject. A
// malformed expression, or one the link type cannot carry ("arp" on raw
// IP), is a *SyntaxError with the position.
func NewMatcher(expr string, link linktype.Type, snaplen uint32) (*Matcher, error) {
	prog, err := CompileOffline(expr, link, snaplen)
	if err != nil {
		return nil, err
	}
	m, err := NewMatcherProgram(prog)
	if err != nil {
		return nil, err
	}
	m.expr, m.link = expr, link
	return m, nil
}

// NewMatcherProgram prepares any classic BPF program for Run and Match.
// It refuses what the kernel's checker refuses (unknown opcodes, jumps out
// of the program, scratch slots past 15, division by a constant 0, a last
// instruction that is not a return) and kernel extensions other than the
// packet length, which have no meaning for a frame read from a file.
func NewMatcherProgram(prog []bpf.Instruction) (*Matcher, error) {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return newMatcherRaw(raw)
}

func newMatcherRaw(raw []bpf.RawInstruction) (*Matcher, error) {
	if len(raw) == 0 || len(raw) > maxInsns {
		return nil, fmt.Errorf("filter: a program has 1 to %d instructions, not %d", maxInsns, len(raw))
	}
	m := &Matcher{prog: make([]insn, len(raw))}
	for pc, r := range raw {
		in := insn{op: r.Op, jt: r.Jt, jf: r.Jf, k: r.K}
		if err := check(in, pc, len(raw)); err != nil {
			return nil, fmt.Errorf("filter: instruction %d (%#04x): %w", pc, r.Op, err)
		}
		m.prog[pc] = in
	}
	if op := m.prog[len(raw)-1].op; op != opRetK && op != opRetA {
		return nil, errors.New("filter: the program does not end with a return")
	}
	return m, nil
}

// check validates one instruction at pc of an n-instruction program.
func check(in insn, pc, n int) error {
	switch in.op {
	case opLdWAbs, opLdHAbs, opLdBAbs:
		if in.k >= extOffset {
			return errors.New("kernel extension loads cannot run on frames from files")
		}
	case opLdMem, opLdxMem, opSt, opStx:
		if in.k >= scratchLen {
			return fmt.Errorf("scratch slot %d (there are %d)", in.k, scratchLen)
		}
	case opDivK, opModK:
		if in.k == 0 {
			return errors.New("division by constant 0")
		}
	case opJa:
		if uint64(pc)+1+uint64(in.k) >= uint64(n) {
			return errors.New("jump past the end")
		}
	case opJeqK, opJgtK, opJgeK, opJsetK, opJeqX, opJgtX, opJgeX, opJsetX:
		if pc+1+int(max(in.jt, in.jf)) >= n {
			return errors.New("jump past the end")
		}
	case opLdWInd, opLdHInd, opLdBInd, opLdLen, opLdImm, opLdxImm, opLdxLen, opLdxMsh,
		opAddK, opSubK, opMulK, opOrK, opAndK, opLshK, opRshK, opNeg, opXorK,
		opAddX, opSubX, opMulX, opDivX, opOrX, opAndX, opLshX, opRshX, opModX, opXorX,
		opRetK, opRetA, opTax, opTxa:
	default:
		return errors.New("unknown opcode")
	}
	return nil
}

// String returns the expression the matcher was compiled from.
func (m *Matcher) String() string { return m.expr }

// Link returns the link type the matcher was compiled for.
func (m *Matcher) Link() linktype.Type { return m.link }

// Match reports whether the filter accepts a frame: data is what was
// captured, wireLen the length on the wire ("len", "greater" and "less"
// test it, as libpcap does; loads stop at the end of data).
func (m *Matcher) Match(data []byte, wireLen uint32) bool {
	return m.Run(data, wireLen) != 0
}

// Run runs the program on a frame and returns its result: the number of
// bytes to keep, 0 to reject. A load past the end of data rejects the
// frame, as in the kernel and libpcap, and so does a division by X = 0.
func (m *Matcher) Run(data []byte, wireLen uint32) uint32 {
	var (
		a, x uint32
		mem  [scratchLen]uint32
		n    = uint64(len(data))
	)
	prog := m.prog
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		switch in.op {
		case opLdBAbs:
			if uint64(in.k) >= n {
				return 0
			}
			a = uint32(data[in.k])
		case opLdHAbs:
			if uint64(in.k)+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(data[in.k:]))
		case opLdWAbs:
			if uint64(in.k)+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(data[in.k:])
		case opLdBInd:
			off := uint64(in.k) + uint64(x)
			if off >= n {
				return 0
			}
			a = uint32(data[off])
		case opLdHInd:
			off := uint64(in.k) + uint64(x)
			if off+2 > n {
				return 0
			}
			a = uint32(binary.BigEndian.Uint16(data[off:]))
		case opLdWInd:
			off := uint64(in.k) + uint64(x)
			if off+4 > n {
				return 0
			}
			a = binary.BigEndian.Uint32(data[off:])
		case opLdxMsh:
			if uint64(in.k) >= n {
				return 0
			}
			x = uint32(data[in.k]&0xf) << 2
		case opLdLen:
			a = wireLen
		case opLdxLen:
			x = wireLen
		case opLdImm:
			a = in.k
		case opLdxImm:
			x = in.k
		case opLdMem:
			a = mem[in.k&(scratchLen-1)]
		case opLdxMem:
			x = mem[in.k&(scratchLen-1)]
		case opSt:
			mem[in.k&(scratchLen-1)] = a
		case opStx:
			mem[in.k&(scratchLen-1)] = x
		case opAddK:
			a += in.k
		case opSubK:
			a -= in.k
		case opMulK:
			a *= in.k
		case opDivK:
			a /= in.k // checked non-zero
		case opModK:
			a %= in.k
		case opOrK:
			a |= in.k
		case opAndK:
			a &= in.k
		case opXorK:
			a ^= in.k
		case opLshK:
			a <<= in.k // Go gives 0 for shifts of 32 and more, as libpcap does
		case opRshK:
			a >>= in.k
		case opNeg:
			a = -a
		case opAddX:
			a += x
		case opSubX:
			a -= x
		case opMulX:
			a *= x
		case opDivX:
			if x == 0 {
				return 0
			}
			a /= x
		case opModX:
			if x == 0 {
				return 0
			}
			a %= x
		case opOrX:
			a |= x
		case opAndX:
			a &= x
		case opXorX:
			a ^= x
		case opLshX:
			a <<= x
		case opRshX:
			a >>= x
		case opJa:
			pc += int(in.k)
		case opJeqK:
			pc += jump(a == in.k, in)
		case opJgtK:
			pc += jump(a > in.k, in)
		case opJgeK:
			pc += jump(a >= in.k, in)
		case opJsetK:
			pc += jump(a&in.k != 0, in)
		case opJeqX:
			pc += jump(a == x, in)
		case opJgtX:
			pc += jump(a > x, in)
		case opJgeX:
			pc += jump(a >= x, in)
		case opJsetX:
			pc += jump(a&x != 0, in)
		case opRetK:
			return in.k
		case opRetA:
			return a
		case opTax:
			x = a
		case opTxa:
			a = x
		default:
			return 0 // not reached: NewMatcherProgram checked every opcode
		}
	}
	return 0 // not reached: the last instruction is a return
}

// jump returns how far a conditional jump moves past the next instruction.
func jump(cond bool, in *insn) int {
	if cond {
		return int(in.jt)
	}
	return int(in.jf)
}
