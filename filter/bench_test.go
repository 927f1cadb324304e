package filter

import (
	"net"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// benchExprs range from one comparison to a long chain.
var benchExprs = []struct{ name, expr string }{
	{"port", "tcp port 443"},
	{"hosts", "host 10.9.9.9 or net 172.16.0.0/12 or host 2001:db8::99"},
	{"flags", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not src net 10.0.0.0/8 and len > 1000"},
}

// benchFrame is a TCP segment none of benchExprs accepts, so every
// program runs to the end of its rejecting path.
func benchFrame() []byte {
	return newFrame().ipv4(ipProtoTCP, "10.0.0.1", "192.168.1.2").tcp(1234, 80, 0x10).payload(64).bytes()
}

// BenchmarkFilterVM runs the classic programs in x/net/bpf's VM (user space).
func BenchmarkFilterVM(b *testing.B) {
	fr := benchFrame()
	for _, be := range benchExprs {
		b.Run(be.name, func(b *testing.B) {
			prog, err := CompileOffline(be.expr, decode.LinkEthernet, 0)
			if err != nil {
				b.Fatal(err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if n, _ := vm.Run(fr); n != 0 {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkFilterKernel compares the in-kernel cost per packet of each
// program: eBPF (our translation, with counters) by BPF_PROG_TEST_RUN,
// whose per-run time the kernel measures; and, since the kernel cannot
// test-run classic programs, classic vs eBPF vs a one-instruction
// "ret #0" classic baseline attached to an AF_PACKET socket on a veth,
// timing the sender (the veth delivers to the socket in the sending
// context). The socket numbers include the packet path; their difference
// to the baseline is the filter's cost.
func BenchmarkFilterKernel(b *testing.B) {
	needRoot(b)
	fr := benchFrame()
	data := append(make([]byte, 14), fr...)
	data[12] = 0x08
	// The test-run loop's own cost: a program that only returns 0.
	ret0, err := translate([]bpf.RawInstruction{{Op: 0x06}}, -1, nil)
	if err != nil {
		b.Fatal(err)
	}
	base, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: ret0, License: "Dual MIT/GPL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline/testrun-ret0", func(b *testing.B) {
		_, d, err := base.Benchmark(data, b.N, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(d.Nanoseconds()), "kernel-ns/pkt")
	})
	base.Close()
	for _, be := range benchExprs {
		prog, err := Compile(be.expr, decode.LinkEthernet, 0)
		if err != nil {
			b.Fatal(err)
		}
		e, err := NewEBPF(prog)
		if err != nil {
			b.Fatal(err)
		}
		// The same translation without counters: close to what the kernel
		// runs for the classic program, which it converts to eBPF itself.
		raw, err := bpf.Assemble(prog)
		if err != nil {
			b.Fatal(err)
		}
		bare, err := translate(raw, -1, nil)
		if err != nil {
			b.Fatal(err)
		}
		plain, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SocketFilter, Instructions: bare, License: "Dual MIT/GPL"})
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range []struct {
			name string
			p    *ebpf.Program
		}{{"testrun-ebpf", e.Program()}, {"testrun-ebpf-nocounters", plain}} {
			b.Run(be.name+"/"+v.name, func(b *testing.B) {
				_, d, err := v.p.Benchmark(data, b.N, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(d.Nanoseconds()), "kernel-ns/pkt")
			})
		}
		e.Close()
		plain.Close()
	}

	const ns = "bfbench"
	vethPair(b, ns)
	var tx, ifA, ifB int
	inNetns(b, ns, func() {
		a, err := net.InterfaceByName("bfA")
		if err != nil {
			b.Fatal(err)
		}
		bb, err := net.InterfaceByName("bfB")
		if err != nil {
			b.Fatal(err)
		}
		ifA, ifB = a.Index, bb.Index
		tx, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
	})
	defer unix.Close(tx)
	to := &unix.SockaddrLinklayer{Ifindex: ifA}
	attachClassic := func(prog []bpf.Instruction) func(fd int) error {
		return func(fd int) error {
			raw, err := bpf.Assemble(prog)
			if err != nil {
				return err
			}
			f := make([]unix.SockFilter, len(raw))
			for i, r := range raw {
				f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
			}
			return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
				&unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]})
		}
	}
	sendLoop := func(b *testing.B, attach func(fd int) error) {
		var fd int
		inNetns(b, ns, func() { fd = packetSocket(b, ifB, attach) })
		defer unix.Close(fd)
		b.ReportAllocs()
		for b.Loop() {
			if err := unix.Sendto(tx, fr, 0, to); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline/socket-ret0", func(b *testing.B) {
		sendLoop(b, attachClassic([]bpf.Instruction{bpf.RetConstant{Val: 0}}))
	})
	for _, be := range benchExprs {
		prog, err := Compile(be.expr, decode.LinkEthernet, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(be.name+"/socket-classic", func(b *testing.B) { sendLoop(b, attachClassic(prog)) })
		e, err := NewEBPF(prog)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(be.name+"/socket-ebpf", func(b *testing.B) {
			sendLoop(b, func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, e.FD()) })
		})
		e.Close()
	}
}
