package flowtable

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netblame/netblame/decode"
)

// Selector names one flow the way a user asks for it: by its index
// (FlowRecord.Index, as a flow table lists it) or by its two endpoints in
// either order. By endpoints it selects every flow between them, so the
// connections of a reused port pair all match.
type Selector struct {
	ByIndex bool
	Index   uint64
	// A and B are the endpoints, IPv4-mapped addresses unmapped and zones
	// dropped, since a packet's addresses have neither.
	A, B netip.AddrPort
}

// ParseSelector reads a flow index ("17") or two endpoints
// ("10.0.0.1:80-10.0.0.2:5000", "[2001:db8::1]:443-[2001:db8::2]:50000").
func ParseSelector(s string) (Selector, error) {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return Selector{ByIndex: true, Index: n}, nil
	}
	if l, r, ok := strings.Cut(s, "-"); ok {
		a, errA := netip.ParseAddrPort(l)
		b, errB := netip.ParseAddrPort(r)
		if errA == nil && errB == nil {
			return Selector{A: plainAddrPort(a), B: plainAddrPort(b)}, nil
		}
	}
	return Selector{}, fmt.Errorf("%q: want ip:port-ip:port ([v6]:port for IPv6) or a flow index", s)
}

func plainAddrPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
}

// String returns the selector as ParseSelector reads it.
func (s Selector) String() string {
	if s.ByIndex {
		return strconv.FormatUint(s.Index, 10)
	}
	return s.A.String() + "-" + s.B.String()
}

// Match reports whether packet p, which the table reported as r, belongs
// to the selected flow. Packets the table did not track (no ports, later
// fragments) belong to none.
func (s Selector) Match(p *decode.Packet, r *PacketResult) bool {
	if !r.Tracked {
		return false
	}
	if s.ByIndex {
		return r.Index == s.Index
	}
	src := netip.AddrPortFrom(p.Src().Unmap(), p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst().Unmap(), p.DstPort)
	return (src == s.A && dst == s.B) || (src == s.B && dst == s.A)
}
