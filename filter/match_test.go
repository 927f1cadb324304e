package filter

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/netblame/netblame/linktype"
	"golang.org/x/net/bpf"
)

// matchLinks are the link types the matcher tests run on, with the
// conversion of a crafted Ethernet frame for each.
var matchLinks = []struct {
	name string
	link linktype.Type
	conv func([]byte) []byte
}{
	{"ether", linktype.Ethernet, func(b []byte) []byte { return b }},
	{"sll", linktype.LinuxSLL, toSLL},
	{"raw", linktype.Raw, toRaw},
}

// TestMatcherAgreesWithVM: for every expression of the differential table
// on every link, the interpreter decides every crafted frame (whole and
// truncated) as x/net/bpf's VM does.
func TestMatcherAgreesWithVM(t *testing.T) {
	for _, lt := range matchLinks {
		var frames [][]byte
		for _, fr := range craftedSet() {
			if c := lt.conv(fr); c != nil {
				frames = append(frames, c, c[:len(c)/2], c[:min(len(c), 20)])
			}
		}
		for _, expr := range diffExprs {
			prog, err := CompileOffline(expr, lt.link, 0)
			if err != nil {
				continue // e.g. arp on raw IP
			}
			m, err := NewMatcher(expr, lt.link, 0)
			if err != nil {
				t.Fatalf("%s %q: %v", lt.name, expr, err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatal(err)
			}
			for _, fr := range frames {
				want, err := vm.Run(fr)
				if err != nil {
					t.Fatalf("%s %q: VM: %v", lt.name, expr, err)
				}
				if got := m.Run(fr, uint32(len(fr))); int(got) != want {
					t.Errorf("%s %q on % x: matcher %d, VM %d", lt.name, expr, fr, got, want)
				}
			}
		}
	}
}

// TestMatcherInstructions runs hand-written programs over the
// instructions the compiler emits rarely or that the VM cannot run.
func TestMatcherInstructions(t *testing.T) {
	pkt := []byte{0x45, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07}
	for _, c := range []struct {
		name    string
		prog    []bpf.Instruction
		wireLen uint32
		want    uint32
	}{
		{"neg", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: 5}, bpf.NegateA{}, bpf.RetA{}}, 8, 0xfffffffb},
		{"mod-xor", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: 17}, bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: 5},
			bpf.ALUOpConstant{Op: bpf.ALUOpXor, Val: 0xff}, bpf.RetA{}}, 8, 0xfd},
		{"len is the wire length", []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}, bpf.RetA{}}, 1500, 1500},
		{"ldx len", []bpf.Instruction{bpf.RawInstruction{Op: opLdxLen}, bpf.TXA{}, bpf.RetA{}}, 99, 99},
		{"msh", []bpf.Instruction{bpf.LoadMemShift{Off: 0}, bpf.TXA{}, bpf.RetA{}}, 8, 20},
		{"ind", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 2}, bpf.LoadIndirect{Off: 2, Size: 4}, bpf.RetA{}}, 8, 0x04050607},
		{"st stx", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: 7}, bpf.StoreScratch{Src: bpf.RegA, N: 3},
			bpf.LoadConstant{Dst: bpf.RegX, Val: 9}, bpf.StoreScratch{Src: bpf.RegX, N: 15},
			bpf.LoadScratch{Dst: bpf.RegA, N: 15}, bpf.LoadScratch{Dst: bpf.RegX, N: 3}, bpf.ALUOpX{Op: bpf.ALUOpSub}, bpf.RetA{}}, 8, 2},
		{"tax ja jset", []bpf.Instruction{bpf.LoadAbsolute{Off: 1, Size: 1}, bpf.TAX{}, bpf.Jump{Skip: 1}, bpf.RetConstant{Val: 1},
			bpf.JumpIfX{Cond: bpf.JumpBitsSet, SkipTrue: 1}, bpf.RetConstant{Val: 2}, bpf.RetConstant{Val: 3}}, 8, 3},
		{"shift of 32 gives 0", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: 1}, bpf.LoadConstant{Dst: bpf.RegX, Val: 32},
			bpf.ALUOpX{Op: bpf.ALUOpShiftLeft}, bpf.RetA{}}, 8, 0},
		{"division by X = 0 rejects", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: 1}, bpf.ALUOpX{Op: bpf.ALUOpDiv}, bpf.RetConstant{Val: 9}}, 8, 0},
		{"modulo by X = 0 rejects", []bpf.Instruction{bpf.ALUOpX{Op: bpf.ALUOpMod}, bpf.RetConstant{Val: 9}}, 8, 0},
		{"abs load past the end rejects", []bpf.Instruction{bpf.LoadAbsolute{Off: 6, Size: 4}, bpf.RetConstant{Val: 9}}, 8, 0},
		{"abs load to the end", []bpf.Instruction{bpf.LoadAbsolute{Off: 6, Size: 2}, bpf.RetA{}}, 8, 0x0607},
		{"ind load past the end rejects", []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegX, Val: 0xffffffff},
			bpf.LoadIndirect{Off: 2, Size: 1}, bpf.RetConstant{Val: 9}}, 8, 0},
		{"msh past the end rejects", []bpf.Instruction{bpf.LoadMemShift{Off: 8}, bpf.RetConstant{Val: 9}}, 8, 0},
		{"loads stop at the captured bytes, not the wire length", []bpf.Instruction{bpf.LoadAbsolute{Off: 8, Size: 1}, bpf.RetConstant{Val: 9}}, 1500, 0},
	} {
		m, err := NewMatcherProgram(c.prog)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := m.Run(pkt, c.wireLen); got != c.want {
			t.Errorf("%s: got %#x, want %#x", c.name, got, c.want)
		}
	}
}

// TestMatcherRefusesBadPrograms: what the kernel's checker refuses, and
// kernel extensions, never reach the interpreter.
func TestMatcherRefusesBadPrograms(t *testing.T) {
	for name, raw := range map[string][]bpf.RawInstruction{
		"empty":           nil,
		"no return":       {{Op: opLdImm}},
		"jump past end":   {{Op: opJeqK, Jt: 1}, {Op: opRetK}},
		"ja past end":     {{Op: opJa, K: 1}, {Op: opRetK}},
		"scratch 16":      {{Op: opSt, K: 16}, {Op: opRetK}},
		"div by const 0":  {{Op: opDivK}, {Op: opRetK}},
		"unknown opcode":  {{Op: 0xff}, {Op: opRetK}},
		"vlan extension":  {{Op: opLdBAbs, K: extOffset + uint32(bpf.ExtVLANTagPresent)}, {Op: opRetA}},
		"too many insns":  make([]bpf.RawInstruction, maxInsns+1),
		"ja wraps around": {{Op: opJa, K: 0xffffffff}, {Op: opRetK}},
	} {
		if _, err := newMatcherRaw(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A live program with vlan uses the extensions: refused, with a reason.
	prog, err := Compile("vlan 10", linktype.Ethernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMatcherProgram(prog); err == nil || !strings.Contains(err.Error(), "extension") {
		t.Errorf("live vlan program: %v", err)
	}
}

func TestNewMatcherErrors(t *testing.T) {
	_, err := NewMatcher("tcp port 80 and", linktype.Ethernet, 0)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != len("tcp port 80 and") {
		t.Errorf("got %v, want a SyntaxError at the end", err)
	}
	if _, err := NewMatcher("arp", linktype.Raw, 0); !errors.As(err, &se) {
		t.Errorf("arp on raw IP: %v, want a SyntaxError", err)
	}
	m, err := NewMatcher("tcp port 80", linktype.Ethernet, 96)
	if err != nil {
		t.Fatal(err)
	}
	if m.String() != "tcp port 80" || m.Link() != linktype.Ethernet {
		t.Errorf("String %q Link %v", m.String(), m.Link())
	}
	fr := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02).bytes()
	if got := m.Run(fr, uint32(len(fr))); got != 96 {
		t.Errorf("accepting path returned %d, want the snap length 96", got)
	}
}

func TestMatchAllocs(t *testing.T) {
	m, err := NewMatcher(benchExprs[2].expr, linktype.Ethernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	fr := benchFrame()
	if n := testing.AllocsPerRun(1000, func() { m.Match(fr, uint32(len(fr))) }); n != 0 {
		t.Errorf("Match allocates %v times a packet", n)
	}
}

// BenchmarkMatch compares the interpreter with x/net/bpf's VM on the same
// programs and frames (the crafted set: every kind of packet the tests
// know, accepted and rejected). ns/pkt is the time per frame.
func BenchmarkMatch(b *testing.B) {
	frames := craftedSet()
	for _, be := range append(benchExprs, struct{ name, expr string }{"vlan", "vlan 10 and tcp port 80"}) {
		prog, err := CompileOffline(be.expr, linktype.Ethernet, 0)
		if err != nil {
			b.Fatal(err)
		}
		m, err := NewMatcherProgram(prog)
		if err != nil {
			b.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			b.Fatal(err)
		}
		// Both, alternating on every pass over the frames, so that a
		// busy machine slows them alike: the speedup is the figure to
		// trust when the ns/pkt of the runs below wander.
		b.Run(be.name+"/alternating", func(b *testing.B) {
			b.ReportAllocs()
			var tm, tv time.Duration
			for b.Loop() {
				t0 := time.Now()
				for _, fr := range frames {
					m.Match(fr, uint32(len(fr)))
				}
				t1 := time.Now()
				for _, fr := range frames {
					_, _ = vm.Run(fr)
				}
				tm, tv = tm+t1.Sub(t0), tv+time.Since(t1)
			}
			pkts := float64(b.N * len(frames))
			b.ReportMetric(float64(tm.Nanoseconds())/pkts, "matcher-ns/pkt")
			b.ReportMetric(float64(tv.Nanoseconds())/pkts, "xnetbpf-ns/pkt")
			b.ReportMetric(float64(tv)/float64(tm), "speedup")
		})
		b.Run(be.name+"/matcher", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, fr := range frames {
					if m.Match(fr, uint32(len(fr))) {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
		})
		b.Run(be.name+"/xnetbpf", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				for _, fr := range frames {
					if k, _ := vm.Run(fr); k != 0 {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/pkt")
		})
	}
}

// FuzzMatch: a program compiled from an expression (the corpus holds the
// differential table) run on arbitrary bytes never panics, and decides as
// x/net/bpf's VM does wherever that VM runs the program.
func FuzzMatch(f *testing.F) {
	frames := craftedFrames()
	for i, e := range diffExprs {
		f.Add(e, uint8(i%3), frames[i%len(frames)])
	}
	f.Add("tcp[(tcp[12] >> 4) * 4] = 0", uint8(0), []byte{})
	f.Add("len / (len - 60) > 1", uint8(2), []byte{0x45})
	f.Fuzz(func(t *testing.T, expr string, link uint8, pkt []byte) {
		lt := matchLinks[int(link)%len(matchLinks)].link
		prog, err := CompileOffline(expr, lt, 0)
		if err != nil {
			return
		}
		m, err := NewMatcherProgram(prog)
		if err != nil {
			t.Fatalf("%q: compiled but refused by the matcher: %v", expr, err)
		}
		got := m.Run(pkt, uint32(len(pkt)))
		vm, err := bpf.NewVM(prog)
		if err != nil {
			return
		}
		want, err := vm.Run(pkt)
		if err != nil {
			return // e.g. neg, which the VM does not implement
		}
		if int(got) != want {
			t.Fatalf("%q on % x: matcher %d, VM %d", expr, pkt, got, want)
		}
	})
}

// FuzzMatchProgram: arbitrary classic programs (8 bytes an instruction)
// are refused or run without panicking, and agree with the VM where it
// runs them.
func FuzzMatchProgram(f *testing.F) {
	for _, e := range []string{"tcp port 80", "vlan 10 and udp", "len / (len - 60) > 1", "ip[ip[0] & 0xf] = 0x40", "-len < -100"} {
		prog, err := CompileOffline(e, linktype.Ethernet, 0)
		if err != nil {
			f.Fatal(err)
		}
		b := programBytes(f, prog)
		f.Add(b, benchFrame())
	}
	f.Fuzz(func(t *testing.T, b, pkt []byte) {
		var raw []bpf.RawInstruction
		for ; len(b) >= 8; b = b[8:] {
			raw = append(raw, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:])})
		}
		m, err := newMatcherRaw(raw)
		if err != nil {
			return
		}
		got := m.Run(pkt, uint32(len(pkt)))
		insns, ok := bpf.Disassemble(raw)
		if !ok {
			return
		}
		vm, err := bpf.NewVM(insns)
		if err != nil {
			return
		}
		want, err := vm.Run(pkt)
		if err != nil {
			return
		}
		if int(got) != want {
			t.Fatalf("program %v on % x: matcher %d, VM %d", insns, pkt, got, want)
		}
	})
}
