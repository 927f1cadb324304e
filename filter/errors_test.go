package filter

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"golang.org/x/net/bpf"
)

func TestSyntaxErrorPositions(t *testing.T) {
	tests := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"tcp port", 8, "expected a port number"},
		{"host", 4, "expected an address"},
		{"host foo.example", 5, "host names are not supported"},
		{"port http", 5, "service names are not supported"},
		{"port 70000", 5, "above 65535"},
		{"tcp and", 7, "expression ends"},
		{"(tcp or udp", 11, "expected ')'"},
		{"tcp)", 3, "unexpected \")\""},
		{"host 10.0.0.1 and gateway 1.2.3.4", 18, "\"gateway\" is not supported"},
		{"net 10.0.0.1/8", 4, "non-network bits"},
		{"net 10.0.0.0/33", 13, "prefix length"},
		{"tcp[13:3] = 1", 7, "data size must be 1, 2, or 4"},
		{"tcp[13] & 2 !=", 14, "expected a number"},
		{"len / 0 > 1", 4, "division by zero"},
		{"len << 32 = 0", 4, "must be below 32"},
		{"ip6 host 1.2.3.4", 9, "IPv4 address"},
		{"ip host ::1", 8, "IPv6 address"},
		{"udp host 1.2.3.4", 9, "illegal qualifier"},
		{"ip port 80", 8, "illegal qualifier"},
		{"vlan 5000", 5, "above 4095"},
		{"portrange 10-x", 10, "port range"},
		{"ether host 1.2.3.4", 11, "Ethernet address"},
		{"host 1:2:3:4:5:6", 5, "ether qualifier"},
		{"tcp port 80 $", 12, "unexpected character"},
		{"proto \\bogus", 6, "unknown protocol"},
		{"ip proto 300", 9, "above 255"},
		{"tcp port 80 80", 12, "after a complete expression"},
		{"not", 3, "expression ends"},
		{"1 + 2", 5, "comparison"},
		{"mpls 3", 0, "\"mpls\" is not supported"},
		{"ip[-1] > 0", 3, "out of range"},
		{"ether[0xfffff000] > 0", 6, "out of range"},
		{strings.Repeat("(", 101) + "tcp" + strings.Repeat(")", 101), 100, "nested more than 100 deep"},
		{strings.Repeat("(", 101) + "1" + strings.Repeat(")", 101) + " = 1", 100, "nested more than 100 deep"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.expr, decode.LinkEthernet, 0)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *SyntaxError", tt.expr, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("%q: error at %d %q, want at %d containing %q", tt.expr, se.Pos, se.Msg, tt.pos, tt.msg)
		}
		// The caret sits under Pos on the line that repeats the expression.
		lines := strings.Split(se.Error(), "\n")
		if len(lines) != 3 || strings.Index(lines[2], "^")-2 != tt.pos || lines[1] != "  "+tt.expr {
			t.Errorf("%q: Error() = %q, want the caret under column %d", tt.expr, se.Error(), tt.pos)
		}
	}
}

func TestLinkRestrictions(t *testing.T) {
	for _, tt := range []struct {
		expr string
		link decode.LinkType
	}{
		{"vlan", decode.LinkLinuxSLL},
		{"vlan 3", decode.LinkRaw},
		{"ether host 0:1:2:3:4:5", decode.LinkRaw},
		{"arp", decode.LinkRaw},
		{"vlan", decode.LinkLinuxSLL2},
		{"arp", decode.LinkIPv4},
		{"ether host 0:1:2:3:4:5", decode.LinkNull},
		{"ether proto 0x806", decode.LinkLoop},
	} {
		if _, err := Compile(tt.expr, tt.link, 0); err == nil {
			t.Errorf("%q on link %d: compiled, want an error", tt.expr, tt.link)
		}
	}
	if _, err := Compile("tcp", 127, 0); err == nil { // 802.11 radiotap
		t.Error("link type 127: compiled, want an unsupported-link error")
	}
}

func TestEmptyExpressionAcceptsAll(t *testing.T) {
	for _, expr := range []string{"", "   "} {
		p, err := Compile(expr, decode.LinkEthernet, 128)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 1 {
			t.Fatalf("%q: %d instructions, want a single return", expr, len(p))
		}
		if r, ok := p[0].(interface{ String() string }); ok && r.String() != "ret #128" {
			t.Errorf("%q: %s, want ret #128", expr, r.String())
		}
	}
}

// TestLongExpressionsUseFarJumps builds an expression whose code is longer
// than a conditional jump reaches (255 instructions), which layout must
// route through unconditional jumps; the VM then checks the decisions.
func TestLongExpressionsUseFarJumps(t *testing.T) {
	var parts []string
	for i := 0; i < 40; i++ {
		parts = append(parts, "port "+strconv.Itoa(1000+i))
	}
	expr := "tcp and (" + strings.Join(parts, " or ") + " or port 80)"
	prog, err := CompileOffline(expr, decode.LinkEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program has %d instructions; the test needs more than 255", len(prog))
	}
	far := false
	for _, in := range prog {
		if j, ok := in.(bpf.Jump); ok && j.Skip > 0 {
			far = true
		}
	}
	if !far {
		t.Error("no unconditional jump in a program longer than a conditional jump reaches")
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		port uint16
		want bool
	}{{80, true}, {1000, true}, {1039, true}, {1040, false}, {999, false}} {
		for _, fr := range [][]byte{
			newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(5, c.port, 2).bytes(),
			newFrame().ipv6(ipProtoTCP, "::1", "::2").tcp(c.port, 5, 2).bytes(),
		} {
			if got := run(t, vm, fr) > 0; got != c.want {
				t.Errorf("port %d: accepted=%v, want %v", c.port, got, c.want)
			}
		}
	}
}

// TestLiveEqualsOfflineWithoutVLAN: the two modes differ only in "vlan".
func TestLiveEqualsOfflineWithoutVLAN(t *testing.T) {
	for _, expr := range diffExprs {
		live, err1 := Compile(expr, decode.LinkEthernet, 0)
		off, err2 := CompileOffline(expr, decode.LinkEthernet, 0)
		if err1 != nil || err2 != nil {
			t.Fatalf("%q: %v / %v", expr, err1, err2)
		}
		hasExt := false
		for _, in := range live {
			if e, ok := in.(bpf.LoadExtension); ok && e.Num != bpf.ExtLen {
				hasExt = true
			}
		}
		if strings.Contains(expr, "vlan") {
			if !hasExt {
				t.Errorf("%q: live program does not read the VLAN metadata", expr)
			}
			continue
		}
		if hasExt || len(live) != len(off) {
			t.Errorf("%q: live and offline programs differ without vlan", expr)
			continue
		}
		for i := range live {
			if live[i] != off[i] {
				t.Errorf("%q: instruction %d: live %v, offline %v", expr, i, live[i], off[i])
				break
			}
		}
	}
}
