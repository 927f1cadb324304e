package filter

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/linktype"
)

func TestEndpointsExpr(t *testing.T) {
	h, _ := ParseHost("10.1.2.3")
	n, _ := ParseHost("2001:db8::5/32")
	expr := EndpointsExpr([]netip.Prefix{h, n}, []uint16{80, 443})
	want := "(host 10.1.2.3 or host 0000:0000:0000:0000:0000:ffff:0a01:0203 or net 2001:0db8:0000:0000:0000:0000:0000:0000/32) and (tcp or udp) and (port 80 or port 443)"
	if expr != want {
		t.Fatalf("expr\n %s\nwant\n %s", expr, want)
	}
	m, err := NewMatcher(expr, linktype.Raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	for _, c := range []struct {
		src, dst     string
		proto        uint8
		sport, dport uint16
		want         bool
	}{
		{"10.1.2.3", "192.0.2.1", 6, 40000, 443, true},
		{"192.0.2.1", "10.1.2.3", 17, 80, 5000, true},
		{"2001:db8:ff::1", "2001:db9::1", 6, 1, 80, true},
		{"10.1.2.4", "192.0.2.1", 6, 40000, 443, false}, // host
		{"10.1.2.3", "192.0.2.1", 6, 40000, 22, false},  // port
		{"10.1.2.3", "192.0.2.1", 1, 0, 0, false},       // not TCP or UDP
	} {
		if got := m.MatchEndpoints(a(c.src), a(c.dst), c.proto, c.sport, c.dport); got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
	if EndpointsExpr(nil, nil) != "" {
		t.Error("no hosts and ports should give no expression")
	}
	if _, err := ParseHost("10.0.0.0/33"); err == nil {
		t.Error("bad prefix accepted")
	}
}
