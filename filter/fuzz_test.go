package filter

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
)

// FuzzCompile: the compiler never panics; an error is a SyntaxError with a
// position inside the expression (0 for a program that is too large);
// a program it returns assembles, is no longer than the kernel
// allows, ends every path in a return, translates to eBPF whose jumps all
// resolve, and (offline mode, in the VM) decides every crafted frame as
// the unoptimised program does.
func FuzzCompile(f *testing.F) {
	for _, e := range diffExprs {
		f.Add(e)
	}
	for _, e := range []string{"", "(", ")", "tcp[", "tcp[1:", "host ::", "net 1.2.3.4/", "port 1-2-3",
		"not not not tcp", "((((((tcp))))))", "\\", "len+len+len+len*len*len > len", "vlan vlan 1 vlan 2 and tcp",
		"ether[ether[0]] = ether[ether[1]:2]", "1:2:3:4:5:6", "0x", "tcp[-1] = 1", "!!!!!ip", "ip6[ip6[0]:4] > 0"} {
		f.Add(e)
	}
	frames := craftedFrames()
	f.Fuzz(func(t *testing.T, expr string) {
		for _, link := range []decode.LinkType{decode.LinkEthernet, decode.LinkLinuxSLL, decode.LinkRaw} {
			for _, live := range []bool{false, true} {
				prog, err := compile(expr, link, 0, live)
				if err != nil {
					var se *SyntaxError
					if errors.As(err, &se) {
						if se.Pos < 0 || se.Pos > len(expr) {
							t.Fatalf("%q: error position %d outside the expression", expr, se.Pos)
						}
						_ = se.Error()
					}
					continue
				}
				checkProgram(t, expr, prog)
				if !live {
					// The optimiser must not change a single decision.
					plain, err := compileWith(expr, link, 0, live, false)
					if err != nil {
						t.Fatalf("%q: compiles optimised but not plain: %v", expr, err)
					}
					vm, err := bpf.NewVM(prog)
					if err != nil {
						t.Fatalf("%q: VM refuses the program: %v", expr, err)
					}
					plainVM, err := bpf.NewVM(plain)
					if err != nil {
						t.Fatalf("%q: VM refuses the unoptimised program: %v", expr, err)
					}
					for _, fr := range frames {
						a, err1 := vm.Run(fr)
						b, err2 := plainVM.Run(fr)
						if err1 != nil || err2 != nil || a != b {
							t.Fatalf("%q on % x: optimised %d (%v), unoptimised %d (%v)", expr, fr, a, err1, b, err2)
						}
					}
				}
			}
		}
	})
}

// checkProgram validates what the kernel's classic checker would: size,
// jumps inside the program, a return at the end, scratch slots in range.
func checkProgram(t *testing.T, expr string, prog []bpf.Instruction) {
	t.Helper()
	raw, err := bpf.Assemble(prog)
	if err != nil {
		t.Fatalf("%q: does not assemble: %v", expr, err)
	}
	if len(raw) == 0 || len(raw) > maxInsns {
		t.Fatalf("%q: %d instructions", expr, len(raw))
	}
	for pc, ri := range raw {
		switch ri.Op & 0x07 {
		case 0x05:
			if ri.Op&0xf0 == 0 {
				if pc+1+int(ri.K) >= len(raw) {
					t.Fatalf("%q: ja at %d leaves the program", expr, pc)
				}
			} else if pc+1+int(ri.Jt) >= len(raw) || pc+1+int(ri.Jf) >= len(raw) {
				t.Fatalf("%q: jump at %d leaves the program", expr, pc)
			}
		case 0x02, 0x03:
			if ri.K >= 16 {
				t.Fatalf("%q: store to M[%d]", expr, ri.K)
			}
		}
	}
	if last := raw[len(raw)-1]; last.Op&0x07 != 0x06 {
		t.Fatalf("%q: last instruction is not a return", expr)
	}
	insns, err := translate(raw, 0, nil)
	if err != nil {
		t.Fatalf("%q: eBPF translation: %v", expr, err)
	}
	if err := insns.Marshal(io.Discard, binary.LittleEndian); err != nil {
		t.Fatalf("%q: eBPF program does not marshal: %v", expr, err)
	}
}

// FuzzTranslate feeds arbitrary classic programs (8 bytes an instruction)
// to the eBPF translator: it never panics, and what it accepts marshals
// with every jump resolved.
func FuzzTranslate(f *testing.F) {
	for _, e := range []string{"tcp port 80", "vlan 10 and udp", "len / (len - 60) > 1", "ip[ip[0] & 0xf] = 0x40"} {
		prog, err := Compile(e, decode.LinkEthernet, 0)
		if err != nil {
			f.Fatal(err)
		}
		b := programBytes(f, prog)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var raw []bpf.RawInstruction
		for ; len(b) >= 8; b = b[8:] {
			raw = append(raw, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])})
		}
		insns, err := translate(raw, 3, nil)
		if err != nil {
			return
		}
		if err := insns.Marshal(io.Discard, binary.LittleEndian); err != nil {
			t.Fatalf("translation does not marshal: %v", err)
		}
	})
}

// programBytes encodes a classic program as the fuzz targets take it: 8
// bytes an instruction (op, jt, jf, k; little-endian).
func programBytes(tb testing.TB, prog []bpf.Instruction) []byte {
	tb.Helper()
	raw, err := bpf.Assemble(prog)
	if err != nil {
		tb.Fatal(err)
	}
	var b []byte
	for _, r := range raw {
		b = binary.LittleEndian.AppendUint16(b, r.Op)
		b = append(b, r.Jt, r.Jf)
		b = binary.LittleEndian.AppendUint32(b, r.K)
	}
	return b
}
