package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
	"golang.org/x/net/bpf"
)

// diffExprs are compared with tcpdump's own compilation. Every one must be
// accepted by both compilers.
var diffExprs = []string{
	"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "arp", "rarp", "sctp",
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "host 1.2.3.4 or 5.6.7.8",
	"src and dst host 10.0.0.1", "src or dst host 10.0.0.2", "ip host 10.0.0.1", "arp host 10.0.0.2",
	"host ::1", "ip6 host 2001:db8::1", "src host fe80::1", "dst host 2001:db8:1::53",
	"net 10.0.0.0/8", "net 10", "net 10.1", "net 192.168.1", "src net 192.168.0.0/16",
	"dst net 10.0.0.0 mask 255.255.255.0", "net 2001:db8::/32", "src net fe80::/10", "net ::/0", "net 0.0.0.0/0",
	"port 80", "port 53", "tcp port 80", "udp port 53", "sctp port 80", "src port 80", "dst port 80",
	"port 80 or 443", "tcp port 80 or 443 or 22", "src or dst port 53", "src and dst port 53",
	"portrange 100-200", "tcp portrange 1-1024", "udp dst portrange 50-60", "portrange 200-100",
	"tcp dst port 80 and src host 10.0.0.1", "not port 22", "! tcp", "not (host 10.0.0.1 or port 53)",
	"tcp and not port 80", "udp or icmp", "tcp || udp && port 53", "host 10.0.0.1 and (port 80 or port 1234)",
	"ip proto 6", "ip proto 17", "ip6 proto 6", "ip6 proto 58", "proto \\tcp", "proto 17", "ip proto \\udp",
	"len > 100", "len <= 60", "greater 100", "less 64", "len = 54", "len >= 1400 and tcp",
	"tcp[tcpflags] & (tcp-syn|tcp-ack) != 0", "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack = 0",
	"tcp[13] & 2 != 0", "tcp[13] = 0x12", "tcp[tcpflags] == tcp-rst", "ip[8] < 64", "ip[8] >= 64 and icmp",
	"udp[0:2] = 53", "udp[2:2] = 53 or udp[0:2] = 53", "tcp[0:2] > 1023", "tcp[2:2] - 80 = 0",
	"ip[0] & 0xf > 5", "ip[6:2] & 0x1fff != 0", "ip[2:2] > 100", "ip6[6] = 6", "ip6[7] = 64",
	"icmp[icmptype] = icmp-echo", "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
	"icmp6[0] = 128", "icmp6[icmp6type] = icmp6-neighborsolicit", "ether[12:2] = 0x806", "ether[0] & 1 != 0",
	"ether host 0:11:22:33:44:55", "ether src 2:0:0:0:0:1", "ether dst ff:ff:ff:ff:ff:ff", "ether proto 0x88cc",
	"tcp[(tcp[12] >> 4) * 4 - 1] = 0 or tcp[12] >> 4 = 5", "ip[ip[0] & 0xf] = 0x40", "tcp[13] * 2 + 1 > 3",
	"len % 7 = 3", "len / 2 > 40", "len ^ 0xff = 0xc9", "len << 1 > 200", "-len < -100 or len - 1 = 53",
	"(tcp[13] & 2) != 0", "(len) > 100 and (ip)", "len > 50 and len < 100", "1 = 1 and tcp",
	"vlan", "vlan 10", "vlan 20 or vlan 10", "vlan and tcp port 80", "vlan 10 and host 10.0.0.1",
	"vlan 100 and vlan 10 and tcp", "vlan and arp", "not vlan", "vlan or tcp", "tcp or vlan 4095 and arp",
	"vlan 0 and icmp", "vlan and ip and tcp[13] = 0x10", "vlan 20 or vlan 10 and tcp",
	"vlan 100 or vlan and udp port 53", "not vlan 100 and vlan and tcp port 80",
}

var (
	crafted     [][]byte
	craftedOnce sync.Once
)

func craftedSet() [][]byte {
	craftedOnce.Do(func() { crafted = craftedFrames() })
	return crafted
}

// needTcpdump returns an empty capture file for tcpdump -r, or skips.
func needTcpdump(t testing.TB, linkType uint32) string {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed (apt-get install tcpdump); skipping the differential test")
	}
	path := filepath.Join(t.TempDir(), "empty.pcap")
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], linkType)
	if err := os.WriteFile(path, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var tcpdumpCache sync.Map // "file\x00expr" -> tcpdumpResult

type tcpdumpResult struct {
	prog []bpf.Instruction
	err  error
}

// tcpdumpVM returns a VM running tcpdump's program for expr, or nil after
// reporting why there is none.
func tcpdumpVM(t *testing.T, empty, expr string) *bpf.VM {
	t.Helper()
	ref, err := tcpdumpProgram(empty, expr)
	if err != nil {
		t.Errorf("%q: %v", expr, err)
		return nil
	}
	vm, err := bpf.NewVM(ref)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// tcpdumpProgram compiles expr with tcpdump -ddd (decimal classic BPF);
// results are cached per empty file's link type, as several tests ask.
func tcpdumpProgram(empty, expr string) ([]bpf.Instruction, error) {
	hdr, err := os.ReadFile(empty)
	if err != nil {
		return nil, err
	}
	key := string(hdr[20:24]) + "\x00" + expr
	if r, ok := tcpdumpCache.Load(key); ok {
		return r.(tcpdumpResult).prog, r.(tcpdumpResult).err
	}
	prog, err := runTcpdump("tcpdump", "-ddd", "-r", empty, "--", expr)
	tcpdumpCache.Store(key, tcpdumpResult{prog, err})
	return prog, err
}

// runTcpdump runs a command that prints a classic program in tcpdump's
// -ddd format and parses it.
// prefetchTcpdump compiles exprs with a few tcpdump processes at a time,
// filling the cache; process start-up dominates these tests otherwise.
func prefetchTcpdump(empty string, exprs []string) {
	parallel(len(exprs), func(i int) { _, _ = tcpdumpProgram(empty, exprs[i]) })
}

// parallel runs fn(0..n-1) on four goroutines.
func parallel(n int, fn func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				fn(i)
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

func runTcpdump(args ...string) ([]bpf.Instruction, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tcpdump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var raw []bpf.RawInstruction
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			continue // instruction count
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("tcpdump output line %q", sc.Text())
		}
		var v [4]uint64
		for i := range f {
			if v[i], err = strconv.ParseUint(f[i], 10, 32); err != nil {
				return nil, err
			}
		}
		raw = append(raw, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		return nil, errors.New("tcpdump program does not disassemble")
	}
	// x/net/bpf's VM cannot run "neg"; multiplying by 2^32-1 is the same.
	for i, in := range insns {
		if _, ok := in.(bpf.NegateA); ok {
			insns[i] = bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0xffffffff}
		}
	}
	return insns, nil
}

// sharedFrames reads every packet of the given link type from ../shared/pcaps.
func sharedFrames(t testing.TB, link decode.LinkType) [][]byte {
	t.Helper()
	dir := sharedtest.PcapsIfPresent()
	if dir == "" {
		t.Log("shared captures (../shared/pcaps) not found; using crafted frames only")
		return nil
	}
	var frames [][]byte
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.Contains(name, ".pcap") && !strings.HasSuffix(name, ".cap") {
			return nil
		}
		r, err := capfile.Open(path)
		if err != nil {
			return nil // corrupt on purpose, or an unsupported format
		}
		defer r.Close()
		var p capfile.Packet
		for {
			if err := r.Next(&p); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Logf("%s: stopped at %v", name, err)
				}
				return nil
			}
			if p.Link == link {
				frames = append(frames, bytes.Clone(p.Data))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

// run executes a classic program in x/net/bpf's VM and returns how many
// bytes it keeps (0: rejected).
func run(t testing.TB, vm *bpf.VM, frame []byte) int {
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("VM: %v", err)
	}
	return n
}

func TestDifferentialTcpdump(t *testing.T) {
	empty := needTcpdump(t, 1)
	frames := append(append([][]byte{}, craftedSet()...), sharedFrames(t, decode.LinkEthernet)...)
	t.Logf("%d expressions over %d frames (%d crafted)", len(diffExprs), len(frames), len(craftedSet()))
	prefetchTcpdump(empty, diffExprs)
	if len(diffExprs) < 60 {
		t.Fatalf("only %d expressions in the table, want at least 60", len(diffExprs))
	}
	for _, expr := range diffExprs {
		ref, err := tcpdumpProgram(empty, expr)
		if err != nil {
			t.Errorf("%q: tcpdump refuses it: %v", expr, err)
			continue
		}
		mine, err := CompileOffline(expr, decode.LinkEthernet, 262144)
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		plain, err := compileWith(expr, decode.LinkEthernet, 262144, false, false)
		if err != nil {
			t.Fatalf("%q: unoptimised: %v", expr, err)
		}
		refVM, err := bpf.NewVM(ref)
		if err != nil {
			t.Fatalf("%q: tcpdump program in VM: %v", expr, err)
		}
		myVM, err := bpf.NewVM(mine)
		if err != nil {
			t.Fatalf("%q: our program in VM: %v", expr, err)
		}
		plainVM, err := bpf.NewVM(plain)
		if err != nil {
			t.Fatalf("%q: our unoptimised program in VM: %v", expr, err)
		}
		bad := 0
		for i, fr := range frames {
			want, got, gotPlain := run(t, refVM, fr), run(t, myVM, fr), run(t, plainVM, fr)
			if want != got || want != gotPlain {
				bad++
				if bad <= 3 {
					t.Errorf("%q: frame %d (% x): tcpdump keeps %d bytes, we keep %d (unoptimised %d)", expr, i, fr[:min(len(fr), 64)], want, got, gotPlain)
				}
			}
		}
		if bad > 3 {
			t.Errorf("%q: %d frames disagree in all", expr, bad)
		}
	}
}
