package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// EndpointsExpr is the expression that keeps packets to or from any of
// hosts (addresses or prefixes) and, when ports are given, on any of
// ports over TCP or UDP: "(host A or net P) and (tcp or udp) and (port N
// or port M)". An IPv4 host or prefix also matches its IPv4-mapped IPv6
// form. Either list may be empty; both empty give "".
func EndpointsExpr(hosts []netip.Prefix, ports []uint16) string {
	var parts []string
	if len(hosts) > 0 {
		var alt []string
		for _, p := range hosts {
			alt = append(alt, hostPrimitive(p))
			if p.Addr().Is4() {
				mapped := netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
				alt = append(alt, hostPrimitive(mapped))
			}
		}
		parts = append(parts, "("+strings.Join(alt, " or ")+")")
	}
	if len(ports) > 0 {
		var alt []string
		for _, n := range ports {
			alt = append(alt, "port "+strconv.Itoa(int(n)))
		}
		parts = append(parts, "(tcp or udp)", "("+strings.Join(alt, " or ")+")")
	}
	return strings.Join(parts, " and ")
}

// hostPrimitive is "host A" for a single address, "net P" for a prefix.
func hostPrimitive(p netip.Prefix) string {
	if p.IsSingleIP() {
		return "host " + p.Addr().StringExpanded()
	}
	return "net " + p.Addr().StringExpanded() + "/" + strconv.Itoa(p.Bits())
}

// ParseHost reads an address or a CIDR prefix (masked); an address is the
// prefix of its full length, without a zone.
func ParseHost(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
