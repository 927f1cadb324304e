package filter

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/net/bpf"
)

// XDP program layout. The classic program runs first, translated as for
// the socket filter except for what touches the packet: XDP has no legacy
// packet loads (LD_ABS/LD_IND), so each load copies 1, 2 or 4 bytes to a
// stack slot with bpf_xdp_load_bytes (kernel 5.18), which fails, like a
// classic load past the end, for offsets outside the packet. A packet the
// filter accepts is redirected to the AF_XDP socket of its RX queue
// (bpf_redirect_map on an XSKMAP, with XDP_PASS when no socket is bound
// there); one it rejects gets XDP_PASS, so the host stack still sees it.
// Accepted packets get a receive time (bpf_ktime_get_tai_ns) in the
// frame's metadata area for package ring/xsk to read.

// xdp_md field offsets (include/uapi/linux/bpf.h).
const (
	xdpData          = 0
	xdpDataMeta      = 8
	xdpIngressIfidx  = 12
	xdpRxQueueIndex  = 16
	xdpPass          = 2
	xdpMetaLen       = 16         // must match xsk.MetaLen
	xdpMetaMagic     = 0x4e425453 // xsk.MetaMagic
	loadBufOff       = -88        // stack slot bpf_xdp_load_bytes copies into
	skfADIfindex     = 8
	skfADQueue       = 24
	skfADVLANTCI     = 44
	skfADVLANPresent = 48
)

// xdpTarget is what translate needs to build an XDP program.
type xdpTarget struct {
	xskFD     int  // the XSKMAP
	timestamp bool // write the receive time into the metadata
	aborts    bool // some instruction jumps to "abort" (the verifier refuses dead code)
}

// loadBytes copies size bytes at offset R2 of the packet to loadBufOff and
// leaves them in A in host order; a failed copy aborts the program.
func loadBytes(size asm.Size) asm.Instructions {
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R1, regCtx),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, loadBufOff),
		asm.Mov.Imm(asm.R4, int32(size.Sizeof())),
		asm.FnXdpLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "abort"),
		asm.LoadMem(regA, asm.RFP, loadBufOff, size),
	}
	if size != asm.Byte {
		ins = append(ins, asm.HostTo(asm.BE, regA, size))
	}
	return ins
}

// translateLoad translates the classic instructions that read the packet
// or its metadata; ok is false for the others, which translate as for a
// socket filter.
func (x *xdpTarget) translateLoad(ri bpf.RawInstruction) (ins asm.Instructions, ok bool, err error) {
	op, k := ri.Op, ri.K
	if op&0x07 != 0x00 && op&0x07 != 0x01 {
		return nil, false, nil
	}
	size, okSize := loadSize[op&0x18]
	isA := op&0x07 == 0x00
	switch op & 0xe0 {
	case 0x20: // ABS
		if !isA || !okSize {
			return nil, false, nil
		}
		if k >= skfADOff {
			switch k - skfADOff {
			case skfADIfindex:
				return asm.Instructions{asm.LoadMem(regA, regCtx, xdpIngressIfidx, asm.Word)}, true, nil
			case skfADQueue:
				return asm.Instructions{asm.LoadMem(regA, regCtx, xdpRxQueueIndex, asm.Word)}, true, nil
			case skfADVLANPresent, skfADVLANTCI:
				// XDP sees a VLAN tag in the frame, never in metadata
				// (unless the NIC strips it, which XDP cannot read here).
				return asm.Instructions{asm.Mov.Imm32(regA, 0)}, true, nil
			}
			return nil, true, fmt.Errorf("ancillary load %d is not available in XDP", k-skfADOff)
		}
		x.aborts = true
		if k > 0xffff {
			return asm.Instructions{asm.Ja.Label("abort")}, true, nil
		}
		return append(asm.Instructions{asm.Mov.Imm32(asm.R2, int32(k))}, loadBytes(size)...), true, nil
	case 0x40: // IND
		if !isA || !okSize {
			return nil, false, nil
		}
		x.aborts = true
		return append(asm.Instructions{asm.Mov.Reg32(asm.R2, regX), asm.Add.Imm32(asm.R2, int32(k))}, loadBytes(size)...), true, nil
	case 0x80: // LEN
		if isA {
			return asm.Instructions{asm.Mov.Reg(asm.R1, regCtx), asm.FnXdpGetBuffLen.Call(), asm.Mov.Reg32(regA, asm.R0)}, true, nil
		}
		return asm.Instructions{
			asm.StoreMem(asm.RFP, saveOff, regA, asm.Word),
			asm.Mov.Reg(asm.R1, regCtx),
			asm.FnXdpGetBuffLen.Call(),
			asm.Mov.Reg32(regX, asm.R0),
			asm.LoadMem(regA, asm.RFP, saveOff, asm.Word),
		}, true, nil
	case 0xa0: // MSH: X = 4*(pkt[k]&0xf)
		if isA {
			return nil, false, nil
		}
		x.aborts = true
		ins := asm.Instructions{asm.StoreMem(asm.RFP, saveOff, regA, asm.Word), asm.Mov.Imm32(asm.R2, int32(k))}
		ins = append(ins, loadBytes(asm.Byte)...)
		return append(ins,
			asm.And.Imm32(asm.R0, 0xf),
			asm.LSh.Imm32(asm.R0, 2),
			asm.Mov.Reg32(regX, asm.R0),
			asm.LoadMem(regA, asm.RFP, saveOff, asm.Word),
		), true, nil
	}
	return nil, false, nil
}

// exit is the XDP program's end: count the verdict (when counted), then
// redirect an accepted packet (regRet != 0) to its queue's socket, pass a
// rejected one. A failed packet load ("abort") passes the packet uncounted,
// as a classic load past the end ends a socket filter.
func (x *xdpTarget) exit(counted bool) asm.Instructions {
	var out asm.Instructions
	if counted {
		out = append(out, countVerdict("decide")...)
		out = append(out, asm.Ja.Label("decide"))
	} else {
		out = append(out, asm.Ja.Label("decide").WithSymbol("exit"))
	}
	if x.aborts {
		out = append(out, asm.Mov.Imm32(regRet, 0).WithSymbol("abort"))
	}
	out = append(out, asm.JEq.Imm(regRet, 0, "pass").WithSymbol("decide"))
	if x.timestamp {
		out = append(out,
			asm.Mov.Reg(asm.R1, regCtx),
			asm.Mov.Imm(asm.R2, -xdpMetaLen),
			asm.FnXdpAdjustMeta.Call(),
			asm.JNE.Imm(asm.R0, 0, "redirect"),
			asm.FnKtimeGetTaiNs.Call(),
			asm.LoadMem(asm.R2, regCtx, xdpDataMeta, asm.Word),
			asm.LoadMem(asm.R3, regCtx, xdpData, asm.Word),
			asm.Mov.Reg(asm.R4, asm.R2),
			asm.Add.Imm(asm.R4, xdpMetaLen),
			asm.JGT.Reg(asm.R4, asm.R3, "redirect"),
			asm.StoreMem(asm.R2, 0, asm.R0, asm.DWord),
			asm.StoreImm(asm.R2, 8, xdpMetaMagic, asm.Word),
			asm.StoreImm(asm.R2, 12, 0, asm.Word),
		)
	}
	out = append(out,
		asm.LoadMapPtr(asm.R1, x.xskFD).WithSymbol("redirect"),
		asm.LoadMem(asm.R2, regCtx, xdpRxQueueIndex, asm.Word),
		asm.Mov.Imm(asm.R3, xdpPass),
		asm.FnRedirectMap.Call(),
		asm.Return(),
		asm.Mov.Imm(asm.R0, xdpPass).WithSymbol("pass"),
		asm.Return(),
	)
	return out
}

// XDP is a loaded XDP capture program: the filter, a socket map with one
// slot per RX queue, and the filter's counters.
type XDP struct {
	prog     *ebpf.Program
	xsks     *ebpf.Map
	counters *ebpf.Map
	queues   int
}

// XDPOptions tune NewXDP.
type XDPOptions struct {
	// NoTimestamp leaves out the per-packet receive time in the metadata
	// (two helper calls a packet); ring/xsk then stamps each batch.
	NoTimestamp bool
}

// NewXDP translates a classic BPF program (nil: accept everything) into
// an XDP program that redirects what it accepts to the AF_XDP socket
// bound to the packet's RX queue (slots 0 to queues-1, see Bind) and
// passes the rest to the host stack, counting as the socket filter does;
// and loads it (needs CAP_BPF and CAP_NET_ADMIN, kernel 5.18 or later for
// bpf_xdp_load_bytes). The classic program's return value only says
// accept (non-zero) or reject; the snap length is the reader's.
func NewXDP(insns []bpf.Instruction, queues int, opts XDPOptions) (*XDP, error) {
	if queues < 1 || queues > 1024 {
		return nil, fmt.Errorf("filter: XDP program for %d queues: want 1 to 1024", queues)
	}
	if insns == nil {
		insns = []bpf.Instruction{bpf.RetConstant{Val: 0xffff}}
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("filter: classic program: %w", err)
	}
	x := &XDP{queues: queues}
	x.counters, err = ebpf.NewMap(&ebpf.MapSpec{Name: "nb_xdp_ctr", Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: ctrSize, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("filter: creating counters map: %w", needCaps(err))
	}
	x.xsks, err = ebpf.NewMap(&ebpf.MapSpec{Name: "nb_xsks", Type: ebpf.XSKMap, KeySize: 4, ValueSize: 4, MaxEntries: uint32(queues)})
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("filter: creating the XSKMAP: %w", needCaps(err))
	}
	prog, err := translate(raw, x.counters.FD(), &xdpTarget{xskFD: x.xsks.FD(), timestamp: !opts.NoTimestamp})
	if err != nil {
		x.Close()
		return nil, err
	}
	x.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "nb_xdp", Type: ebpf.XDP, Instructions: prog, License: "Dual MIT/GPL"})
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("filter: loading the XDP program: %w", needCaps(err))
	}
	return x, nil
}

// Bind puts AF_XDP socket fd in the slot of RX queue q.
func (x *XDP) Bind(q, fd int) error {
	if q < 0 || q >= x.queues {
		return fmt.Errorf("filter: queue %d outside the XSKMAP's 0 to %d", q, x.queues-1)
	}
	if err := x.xsks.Put(uint32(q), uint32(fd)); err != nil {
		return fmt.Errorf("filter: XSKMAP slot %d: %w", q, err)
	}
	return nil
}

// Attach attaches the program to interface ifindex, in native (driver)
// mode or generic (skb) mode, through a BPF link; closing the returned
// io.Closer detaches it.
func (x *XDP) Attach(ifindex int, native bool) (io.Closer, error) {
	flags := link.XDPGenericMode
	if native {
		flags = link.XDPDriverMode
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: x.prog, Interface: ifindex, Flags: flags})
	if err != nil {
		return nil, fmt.Errorf("filter: attaching XDP to interface %d: %w", ifindex, err)
	}
	return l, nil
}

// Program is the loaded program (for BPF_PROG_TEST_RUN in tests).
func (x *XDP) Program() *ebpf.Program { return x.prog }

// Counters reads and sums the per-CPU counters, as EBPF.Counters does.
func (x *XDP) Counters() (Counters, error) {
	return (&EBPF{counters: x.counters}).Counters()
}

// Close unloads the program and frees the maps. Detach it first.
func (x *XDP) Close() error {
	var errs []error
	if x.prog != nil {
		errs = append(errs, x.prog.Close())
	}
	for _, m := range []*ebpf.Map{x.xsks, x.counters} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}
