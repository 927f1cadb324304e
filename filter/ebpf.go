package filter

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The counters live in the single entry of a per-CPU array map, as three
// u64 fields at these byte offsets; one map lookup per packet serves all.
const (
	ctrSeen     = 0
	ctrAccepted = 8
	ctrRejected = 16 // rejected by a return of 0; aborted loads are not counted here
	ctrSize     = 24
)

// counterValue is the map value, per CPU.
type counterValue struct{ Seen, Accepted, Rejected uint64 }

// Counters are the packet counts of an eBPF filter, summed over CPUs.
type Counters struct {
	Seen     uint64 // packets the filter ran on
	Accepted uint64 // packets it returned a non-zero length for
	Rejected uint64 // packets it dropped: Seen - Accepted
	// Aborted is the part of Rejected where a packet load ran past the end
	// of the packet, which ends a classic (and legacy eBPF) program with 0.
	Aborted uint64
}

// EBPF is a loaded eBPF socket filter with its counters map.
type EBPF struct {
	prog     *ebpf.Program
	counters *ebpf.Map
}

// NewEBPF translates a classic BPF program into an eBPF socket filter
// that behaves the same and counts packets seen, accepted and rejected in
// a per-CPU array map, and loads it into the kernel (needs CAP_BPF, or
// CAP_SYS_ADMIN on older kernels).
func NewEBPF(insns []bpf.Instruction) (*EBPF, error) {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("filter: classic program: %w", err)
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{
		Name:       "nb_filter_ctr",
		Type:       ebpf.PerCPUArray,
		KeySize:    4,
		ValueSize:  ctrSize,
		MaxEntries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("filter: creating counters map: %w", needCaps(err))
	}
	prog, err := translate(raw, m.FD(), nil)
	if err != nil {
		m.Close()
		return nil, err
	}
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "nb_filter",
		Type:         ebpf.SocketFilter,
		Instructions: prog,
		License:      "Dual MIT/GPL",
	})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("filter: loading eBPF program: %w", needCaps(err))
	}
	return &EBPF{prog: p, counters: m}, nil
}

// needCaps names the missing capability when the kernel refuses for lack
// of privilege.
func needCaps(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return err // the program was refused, not the caller
	}
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (loading eBPF needs CAP_BPF, or CAP_SYS_ADMIN on kernels before 5.8)", err)
	}
	return err
}

// FD is the program's file descriptor, for SO_ATTACH_BPF.
func (e *EBPF) FD() int { return e.prog.FD() }

// Program is the loaded program (for BPF_PROG_TEST_RUN in tests and benchmarks).
func (e *EBPF) Program() *ebpf.Program { return e.prog }

// Counters reads and sums the per-CPU counters.
func (e *EBPF) Counters() (Counters, error) {
	var per []counterValue
	if err := e.counters.Lookup(uint32(0), &per); err != nil {
		return Counters{}, fmt.Errorf("filter: reading counters: %w", err)
	}
	var sum counterValue
	for _, v := range per {
		sum.Seen += v.Seen
		sum.Accepted += v.Accepted
		sum.Rejected += v.Rejected
	}
	c := Counters{Seen: sum.Seen, Accepted: sum.Accepted}
	if c.Seen > c.Accepted {
		c.Rejected = c.Seen - c.Accepted
	}
	if c.Rejected > sum.Rejected {
		c.Aborted = c.Rejected - sum.Rejected
	}
	return c, nil
}

// Close unloads the program and frees the map.
func (e *EBPF) Close() error {
	return errors.Join(e.prog.Close(), e.counters.Close())
}

// Register and stack use of translated programs. The legacy packet loads
// need the context in R6, write their result to R0 and clobber R1-R5.
const (
	regA   = asm.R0
	regX   = asm.R7
	regRet = asm.R8 // the value being returned, across the counter update
	regCtr = asm.R9 // this CPU's counters (map value), or 0 without counters
	regCtx = asm.R6

	keyOff  = -72 // stack slot for the map key; M[i] is at -4*(i+1)
	saveOff = -80 // A, while "ldx 4*([k]&0xf)" borrows R0
)

// __sk_buff field offsets (include/uapi/linux/bpf.h).
const (
	skbLen         = 0
	skbPktType     = 4
	skbMark        = 8
	skbQueue       = 12
	skbProtocol    = 16
	skbVLANPresent = 20
	skbVLANTCI     = 24
	skbIfindex     = 40
	skbHash        = 44
)

// ancillary maps classic SKF_AD_* loads onto __sk_buff fields.
var ancillary = map[uint32]int16{
	0:  skbProtocol,
	4:  skbPktType,
	8:  skbIfindex,
	20: skbMark,
	24: skbQueue,
	32: skbHash,
	44: skbVLANTCI,
	48: skbVLANPresent,
}

const skfADOff = 0xfffff000 // SKF_AD_OFF (-4096) as an unsigned offset

func memOff(k uint32) int16 { return int16(-4 * (int(k) + 1)) }

func label(i int) string { return fmt.Sprintf("c%d", i) }

// translate turns a classic program into eBPF. A lives in R0, X in R7 and
// the 16 scratch words on the stack. Every return goes through one exit
// block that bumps the accepted or rejected counter. mapFD < 0 leaves the
// counters out (for measuring what they cost). With x nil the result is a
// socket filter; otherwise an XDP program (see xdp.go): packet loads go
// through bpf_xdp_load_bytes and the exit redirects what the filter
// accepts to x's socket map.
func translate(raw []bpf.RawInstruction, mapFD int, x *xdpTarget) (asm.Instructions, error) {
	if len(raw) == 0 || len(raw) > maxInsns {
		return nil, fmt.Errorf("filter: classic program has %d instructions, want 1 to %d", len(raw), maxInsns)
	}
	out := asm.Instructions{asm.Mov.Reg(regCtx, asm.R1), asm.Mov.Imm(regCtr, 0)}
	if mapFD >= 0 {
		out = append(out,
			asm.StoreImm(asm.RFP, keyOff, 0, asm.Word),
			asm.LoadMapPtr(asm.R1, mapFD),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, keyOff),
			asm.FnMapLookupElem.Call(),
			asm.JEq.Imm(asm.R0, 0, "start"),
			asm.Mov.Reg(regCtr, asm.R0),
		)
		out = append(out, bump(ctrSeen)...)
	}
	out = append(out, asm.Mov.Imm32(regA, 0).WithSymbol("start"), asm.Mov.Imm32(regX, 0))
	// The verifier refuses reads of stack never written; classic programs
	// may read scratch words they did not store (they read as 0).
	var read [16]bool
	for _, ri := range raw {
		if (ri.Op&0x07 == 0x00 || ri.Op&0x07 == 0x01) && ri.Op&0xe0 == 0x60 && ri.K < 16 {
			read[ri.K] = true
		}
	}
	for i, r := range read {
		if r {
			out = append(out, asm.StoreImm(asm.RFP, memOff(uint32(i)), 0, asm.Word))
		}
	}
	divChecks := false
	live := reachable(raw)
	for pc, ri := range raw {
		if !live[pc] {
			continue // the verifier rejects unreachable code; classic allows it
		}
		if pc == len(raw)-1 && ri.Op&0x07 != 0x06 && ri.Op&0x07 != 0x05 {
			return nil, fmt.Errorf("filter: classic program runs past its last instruction")
		}
		ins, usesDiv, err := translateOne(raw, pc, ri, x)
		if err != nil {
			return nil, fmt.Errorf("filter: classic instruction %d (%#x): %w", pc, ri.Op, err)
		}
		divChecks = divChecks || usesDiv
		ins[0] = ins[0].WithSymbol(label(pc))
		out = append(out, ins...)
	}
	if divChecks {
		// Classic BPF ends the program with 0 on division by zero; eBPF
		// would yield 0 and carry on.
		out = append(out, asm.Mov.Imm32(regRet, 0).WithSymbol("divzero"), asm.Ja.Label("exit"))
	}
	if x != nil {
		return append(out, x.exit(mapFD >= 0)...), nil
	}
	if mapFD < 0 {
		out = append(out, asm.Mov.Reg(asm.R0, regRet).WithSymbol("exit"), asm.Return())
		return out, nil
	}
	out = append(out, countVerdict("exit_ret")...)
	out = append(out, asm.Mov.Reg(asm.R0, regRet).WithSymbol("exit_ret"), asm.Return())
	return out, nil
}

// countVerdict is the exit of a counting program, labelled "exit": it
// adds the verdict in regRet to this CPU's accepted or rejected counter
// (when the lookup found the counters), then goes on at next (the
// rejected count falls through: the caller puts next or a jump to it
// after).
func countVerdict(next string) asm.Instructions {
	out := asm.Instructions{
		asm.JEq.Imm(regCtr, 0, next).WithSymbol("exit"),
		asm.JEq.Imm(regRet, 0, "exit_rej"),
	}
	out = append(out, bump(ctrAccepted)...)
	out = append(out, asm.Ja.Label(next))
	rej := bump(ctrRejected)
	rej[0] = rej[0].WithSymbol("exit_rej")
	return append(out, rej...)
}

// reachable marks the instructions some path from the first one reaches.
// Jumps only go forward in classic BPF, so one pass in order suffices.
func reachable(raw []bpf.RawInstruction) []bool {
	live := make([]bool, len(raw))
	live[0] = true
	mark := func(pc int) {
		if pc < len(raw) {
			live[pc] = true
		}
	}
	for pc, ri := range raw {
		if !live[pc] {
			continue
		}
		switch {
		case ri.Op&0x07 == 0x06: // RET
		case ri.Op&0x07 == 0x05 && ri.Op&0xf0 == 0x00: // JA
			mark(pc + 1 + int(ri.K))
		case ri.Op&0x07 == 0x05:
			mark(pc + 1 + int(ri.Jt))
			mark(pc + 1 + int(ri.Jf))
		default:
			mark(pc + 1)
		}
	}
	return live
}

// bump adds 1 to the counter at off in this CPU's map value (regCtr).
func bump(off int16) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, regCtr, off, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(regCtr, off, asm.R1, asm.DWord),
	}
}

var loadSize = map[uint16]asm.Size{0x00: asm.Word, 0x08: asm.Half, 0x10: asm.Byte}

// translateOne translates the classic instruction at pc, for XDP when x is
// not nil.
func translateOne(raw []bpf.RawInstruction, pc int, ri bpf.RawInstruction, x *xdpTarget) (asm.Instructions, bool, error) {
	op, k := ri.Op, ri.K
	if x != nil {
		if ins, ok, err := x.translateLoad(ri); ok || err != nil {
			return ins, false, err
		}
	}
	switch op & 0x07 {
	case 0x00, 0x01: // LD, LDX
		dst := regA
		if op&0x07 == 0x01 {
			dst = regX
		}
		size, okSize := loadSize[op&0x18]
		switch op & 0xe0 {
		case 0x00: // IMM
			return asm.Instructions{asm.Mov.Imm32(dst, int32(k))}, false, nil
		case 0x20: // ABS
			if dst != regA || !okSize {
				break
			}
			if k >= skfADOff {
				field, ok := ancillary[k-skfADOff]
				if !ok {
					return nil, false, fmt.Errorf("ancillary load %d is not supported", k-skfADOff)
				}
				ins := asm.Instructions{asm.LoadMem(regA, regCtx, field, asm.Word)}
				if field == skbProtocol {
					// __sk_buff.protocol is in network order; classic returns host order.
					ins = append(ins, asm.HostTo(asm.BE, regA, asm.Half))
				}
				return ins, false, nil
			}
			return asm.Instructions{asm.LoadAbs(int32(k), size)}, false, nil
		case 0x40: // IND
			if dst != regA || !okSize {
				break
			}
			return asm.Instructions{asm.LoadInd(regA, regX, int32(k), size)}, false, nil
		case 0x60: // MEM
			if k >= 16 {
				break
			}
			return asm.Instructions{asm.LoadMem(dst, asm.RFP, memOff(k), asm.Word)}, false, nil
		case 0x80: // LEN
			return asm.Instructions{asm.LoadMem(dst, regCtx, skbLen, asm.Word)}, false, nil
		case 0xa0: // MSH: X = 4*(pkt[k]&0xf)
			if dst != regX {
				break
			}
			return asm.Instructions{
				asm.StoreMem(asm.RFP, saveOff, regA, asm.Word),
				asm.LoadAbs(int32(k), asm.Byte),
				asm.And.Imm32(asm.R0, 0xf),
				asm.LSh.Imm32(asm.R0, 2),
				asm.Mov.Reg32(regX, asm.R0),
				asm.LoadMem(regA, asm.RFP, saveOff, asm.Word),
			}, false, nil
		}
	case 0x02, 0x03: // ST, STX
		src := regA
		if op&0x07 == 0x03 {
			src = regX
		}
		if k >= 16 {
			break
		}
		return asm.Instructions{asm.StoreMem(asm.RFP, memOff(k), src, asm.Word)}, false, nil
	case 0x04: // ALU
		aop := asm.ALUOp(op & 0xf0)
		switch aop {
		case asm.Add, asm.Sub, asm.Mul, asm.Div, asm.Or, asm.And, asm.LSh, asm.RSh, asm.Mod, asm.Xor:
		case asm.Neg:
			return asm.Instructions{asm.Neg.Imm32(regA, 0)}, false, nil
		default:
			return nil, false, errors.New("unknown ALU operation")
		}
		if op&0x08 == 0 {
			if (aop == asm.Div || aop == asm.Mod) && k == 0 {
				return nil, false, errors.New("division by constant zero")
			}
			if (aop == asm.LSh || aop == asm.RSh) && k >= 32 {
				return nil, false, errors.New("shift by 32 or more")
			}
			return asm.Instructions{aop.Imm32(regA, int32(k))}, false, nil
		}
		if aop == asm.Div || aop == asm.Mod {
			return asm.Instructions{asm.JEq.Imm32(regX, 0, "divzero"), aop.Reg32(regA, regX)}, true, nil
		}
		return asm.Instructions{aop.Reg32(regA, regX)}, false, nil
	case 0x05: // JMP
		target := func(skip uint32) (string, error) {
			t := pc + 1 + int(skip)
			if t >= len(raw) {
				return "", errors.New("jump past the end of the program")
			}
			return label(t), nil
		}
		if op&0xf0 == 0x00 { // JA
			l, err := target(k)
			if err != nil {
				return nil, false, err
			}
			return asm.Instructions{asm.Ja.Label(l)}, false, nil
		}
		jop := asm.JumpOp(op & 0xf0)
		switch jop {
		case asm.JEq, asm.JGT, asm.JGE, asm.JSet:
		default:
			return nil, false, errors.New("unknown jump")
		}
		lt, err := target(uint32(ri.Jt))
		if err != nil {
			return nil, false, err
		}
		lf, err := target(uint32(ri.Jf))
		if err != nil {
			return nil, false, err
		}
		var ins asm.Instructions
		if op&0x08 == 0 {
			ins = append(ins, jop.Imm32(regA, int32(k), lt))
		} else {
			ins = append(ins, jop.Reg32(regA, regX, lt))
		}
		if ri.Jf != 0 {
			ins = append(ins, asm.Ja.Label(lf))
		}
		return ins, false, nil
	case 0x06: // RET
		var ins asm.Instruction
		switch op & 0x18 {
		case 0x00:
			ins = asm.Mov.Imm32(regRet, int32(k))
		case 0x10:
			ins = asm.Mov.Reg32(regRet, regA)
		default:
			return nil, false, errors.New("unknown return source")
		}
		return asm.Instructions{ins, asm.Ja.Label("exit")}, false, nil
	case 0x07: // MISC
		switch op & 0xf8 {
		case 0x00:
			return asm.Instructions{asm.Mov.Reg32(regX, regA)}, false, nil
		case 0x80:
			return asm.Instructions{asm.Mov.Reg32(regA, regX)}, false, nil
		}
	}
	return nil, false, errors.New("unsupported instruction")
}
