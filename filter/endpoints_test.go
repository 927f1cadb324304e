package filter

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/linktype"
)

// TestMatchEndpointsAgreesWithFrames: for address, protocol and port
// expressions, matching two endpoints decides as matching a real raw IP
// packet between them does.
func TestMatchEndpointsAgreesWithFrames(t *testing.T) {
	exprs := []string{
		"host 10.0.0.1", "src host 10.0.0.1", "dst net 192.168.0.0/16", "net 10.0.0.0/8 and port 80",
		"tcp port 80", "udp port 53", "port 80 or port 443", "tcp and not port 22", "portrange 1-1024",
		"host 2001:db8::1", "ip6 and tcp dst port 443", "ip", "ip6", "udp", "icmp", "host ::ffff:10.0.0.1",
		"(tcp or udp) and (port 53 or port 80) and (host 10.0.0.1 or net 2001:db8::/32)",
	}
	type ep struct {
		src, dst     string
		proto        uint8
		sport, dport uint16
	}
	eps := []ep{
		{"10.0.0.1", "192.168.1.2", ipProtoTCP, 1234, 80}, {"192.168.1.2", "10.0.0.1", ipProtoTCP, 80, 1234},
		{"10.0.0.1", "10.0.0.2", ipProtoUDP, 53, 5353}, {"10.9.0.1", "10.0.0.3", ipProtoTCP, 22, 443},
		{"2001:db8::1", "2001:db8::2", ipProtoTCP, 50000, 443}, {"2001:db8::1", "fe80::1", ipProtoUDP, 53, 53},
		{"10.0.0.1", "10.0.0.2", ipProtoICMP, 0, 0}, {"::ffff:10.0.0.1", "::1", ipProtoTCP, 80, 80},
	}
	for _, e := range exprs {
		m, err := NewMatcher(e, linktype.Raw, 0)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		for _, p := range eps {
			f := newFrame()
			if netip.MustParseAddr(p.src).Is4() {
				f.ipv4(p.proto, p.src, p.dst)
			} else {
				f.ipv6(p.proto, p.src, p.dst)
			}
			switch p.proto {
			case ipProtoTCP:
				f.tcp(p.sport, p.dport, 0x10)
			case ipProtoUDP:
				f.udp(p.sport, p.dport)
			default:
				f.icmp(8, 0)
			}
			raw := toRaw(f.bytes())
			want := m.Match(raw, uint32(len(raw)))
			got := m.MatchEndpoints(netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst), p.proto, p.sport, p.dport)
			if got != want {
				t.Errorf("%q %v: endpoints %v, packet %v", e, p, got, want)
			}
		}
	}
	eth, _ := NewMatcher("host 10.0.0.1", linktype.Ethernet, 0)
	if eth.MatchEndpoints(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 6, 1, 2) {
		t.Error("an Ethernet matcher matched endpoints")
	}
}

func TestLinkMatcher(t *testing.T) {
	if _, err := NewLinkMatcher("tcp port", 0); err == nil {
		t.Fatal("a syntax error passed")
	}
	lm, err := NewLinkMatcher("arp or tcp", 0)
	if err != nil {
		t.Fatal(err)
	}
	eth := newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1, 2, 0x02).bytes()
	if !lm.Match(eth, uint32(len(eth)), linktype.Ethernet) {
		t.Error("Ethernet TCP frame rejected")
	}
	sll := toSLL(eth)
	if !lm.Match(sll, uint32(len(sll)), linktype.LinuxSLL) || !lm.Match(eth, uint32(len(eth)), linktype.Ethernet) {
		t.Error("SLL then Ethernet TCP frame rejected")
	}
	if lm.Err() != nil {
		t.Errorf("Err %v before any failure", lm.Err())
	}
	raw := toRaw(eth)
	if lm.Match(raw, uint32(len(raw)), linktype.Raw) {
		t.Error("arp compiled for raw IP")
	}
	if lm.Err() == nil {
		t.Error("no Err after a link type that cannot carry arp")
	}
	if n := testing.AllocsPerRun(100, func() {
		lm.Match(eth, uint32(len(eth)), linktype.Ethernet)
		lm.Match(sll, uint32(len(sll)), linktype.LinuxSLL)
	}); n != 0 {
		t.Errorf("LinkMatcher.Match allocates %v times", n)
	}
	m, _ := NewMatcher("tcp port 80 and host 10.0.0.1", linktype.Raw, 0)
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if n := testing.AllocsPerRun(100, func() { m.MatchEndpoints(a, b, 6, 80, 1234) }); n != 0 {
		t.Errorf("MatchEndpoints allocates %v times", n)
	}
}
