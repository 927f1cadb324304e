package flowtable

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/linktype"
)

func TestParseSelector(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, c := range []struct {
		in   string
		want Selector
		str  string // String; "" for an error
	}{
		{"0", Selector{ByIndex: true}, "0"},
		{"17", Selector{ByIndex: true, Index: 17}, "17"},
		{"10.0.0.1:80-10.0.0.2:5000", Selector{A: ap("10.0.0.1:80"), B: ap("10.0.0.2:5000")}, "10.0.0.1:80-10.0.0.2:5000"},
		{"[2001:db8::1]:443-[2001:db8::2]:1", Selector{A: ap("[2001:db8::1]:443"), B: ap("[2001:db8::2]:1")}, "[2001:db8::1]:443-[2001:db8::2]:1"},
		// Packets carry neither mapped addresses nor zones.
		{"[::ffff:1.2.3.4]:80-[fe80::1%eth0]:2", Selector{A: ap("1.2.3.4:80"), B: ap("[fe80::1]:2")}, "1.2.3.4:80-[fe80::1]:2"},
		{"1.2.3.4:80", Selector{}, ""},
		{"-", Selector{}, ""},
		{"1.2.3.4:99999-1.2.3.4:1", Selector{}, ""},
		{"-1", Selector{}, ""},
		{"", Selector{}, ""},
	} {
		got, err := ParseSelector(c.in)
		if c.str == "" {
			if err == nil || !strings.Contains(err.Error(), "want ip:port-ip:port") {
				t.Errorf("ParseSelector(%q) = %v, %v; want an error", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseSelector(%q) = %+v (%q), %v; want %+v (%q)", c.in, got, got.String(), err, c.want, c.str)
		}
	}
}

// TestSelectorMatch: by endpoints in either direction (IPv4-mapped or
// not), by index, never an untracked packet.
func TestSelectorMatch(t *testing.T) {
	c := netip.MustParseAddrPort("10.0.0.1:46656")
	s := netip.MustParseAddrPort("10.0.0.2:80")
	frame := func(src, dst netip.AddrPort) *decode.Packet {
		var d decode.Packet
		if err := d.Decode(pkttest.TCPFrame(src, dst, pkttest.TCP{Flags: pkttest.ACK}, nil), linktype.Ethernet); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	c2s, s2c := frame(c, s), frame(s, c)
	other := frame(c, netip.MustParseAddrPort("10.0.0.2:81"))
	mapped := frame(c, s)
	mapped.SetAddrs(netip.AddrFrom16(c.Addr().As16()), netip.AddrFrom16(s.Addr().As16()))
	tracked := &PacketResult{Tracked: true, Index: 3}
	byEnds, _ := ParseSelector("10.0.0.2:80-10.0.0.1:46656")
	byIndex, _ := ParseSelector("3")
	for _, m := range []struct {
		name string
		sel  Selector
		p    *decode.Packet
		r    *PacketResult
		want bool
	}{
		{"client to server", byEnds, c2s, tracked, true},
		{"server to client", byEnds, s2c, tracked, true},
		{"IPv4-mapped addresses", byEnds, mapped, tracked, true},
		{"another port", byEnds, other, tracked, false},
		{"untracked", byEnds, c2s, &PacketResult{}, false},
		{"index", byIndex, other, tracked, true},
		{"another index", byIndex, c2s, &PacketResult{Tracked: true, Index: 4}, false},
		{"index, untracked", byIndex, c2s, &PacketResult{Index: 3}, false},
	} {
		if got := m.sel.Match(m.p, m.r); got != m.want {
			t.Errorf("%s: Match = %v, want %v", m.name, got, m.want)
		}
	}
}

// FuzzParseSelector: the parser never panics, and what it accepts prints
// back to a string that parses to the same selector.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"0", "17", "10.0.0.1:80-10.0.0.2:5000", "[::1]:80-[::1]:1", "[fe80::1%eth0]:1-1.2.3.4:2",
		"::ffff:1.2.3.4:80-1.2.3.4:81", "1.2.3.4:80", "-", "1.2.3.4:99999-1.2.3.4:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again != sel {
			t.Fatalf("%q parsed as %+v, printed %q, parsed again as %+v (%v)", s, sel, sel.String(), again, err)
		}
	})
}
