package filter

import (
	"encoding/binary"
	"net/netip"
)

// frameBuilder crafts Ethernet frames for the differential tests: each
// method appends a header and fills in the type field before it; bytes()
// fixes the IP length fields.
type frameBuilder struct {
	b       []byte
	typeOff int // offset of the type field the next layer sets
	ipOff   int // offset of the IP header, -1 before one is added
	ipVer   int
}

const (
	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoICMPv6 = 58
	ipProtoSCTP   = 132
)

func newFrame() *frameBuilder {
	f := &frameBuilder{ipOff: -1, typeOff: 12}
	f.b = append(f.b, 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0, 0)
	return f
}

func (f *frameBuilder) setType(t uint16) { binary.BigEndian.PutUint16(f.b[f.typeOff:], t) }

// macs sets destination and source addresses.
func (f *frameBuilder) macs(dst, src [6]byte) *frameBuilder {
	copy(f.b[0:6], dst[:])
	copy(f.b[6:12], src[:])
	return f
}

// vlan adds an 802.1Q (or other TPID) tag.
func (f *frameBuilder) vlan(tpid, id uint16) *frameBuilder {
	f.setType(tpid)
	f.b = binary.BigEndian.AppendUint16(f.b, 0x2000|id) // priority 1
	f.typeOff = len(f.b)
	f.b = append(f.b, 0, 0)
	return f
}

func (f *frameBuilder) etherType(t uint16) *frameBuilder { f.setType(t); return f }

func (f *frameBuilder) ipv4(proto uint8, src, dst string) *frameBuilder {
	f.setType(0x0800)
	f.ipOff, f.ipVer = len(f.b), 4
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	h := []byte{0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0}
	h = append(h, s[:]...)
	f.b = append(append(f.b, h...), d[:]...)
	return f
}

// ipv4Options makes the IPv4 header longer (IHL 6..15) with NOP options.
func (f *frameBuilder) ipv4Options(words int) *frameBuilder {
	f.b[f.ipOff] = byte(0x40 | (5 + words))
	for i := 0; i < 4*words; i++ {
		f.b = append(f.b, 1)
	}
	return f
}

// frag sets the IPv4 fragment offset (in 8-byte units) and MF flag.
func (f *frameBuilder) frag(offset uint16, more bool) *frameBuilder {
	v := offset & 0x1fff
	if more {
		v |= 0x2000
	}
	binary.BigEndian.PutUint16(f.b[f.ipOff+6:], v)
	return f
}

// ttl sets the IPv4 TTL.
func (f *frameBuilder) ttl(v byte) *frameBuilder { f.b[f.ipOff+8] = v; return f }

func (f *frameBuilder) ipv6(next uint8, src, dst string) *frameBuilder {
	f.setType(0x86dd)
	f.ipOff, f.ipVer = len(f.b), 6
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	f.b = append(f.b, 0x60, 0, 0, 0, 0, 0, next, 64)
	f.b = append(append(f.b, s[:]...), d[:]...)
	return f
}

// fragHeader6 appends an IPv6 fragment header carrying next.
func (f *frameBuilder) fragHeader6(next uint8, offset uint16, more bool) *frameBuilder {
	v := offset << 3
	if more {
		v |= 1
	}
	f.b = append(f.b, next, 0, byte(v>>8), byte(v), 0, 0, 0, 1)
	return f
}

func (f *frameBuilder) tcp(sport, dport uint16, flags byte) *frameBuilder {
	f.b = binary.BigEndian.AppendUint16(f.b, sport)
	f.b = binary.BigEndian.AppendUint16(f.b, dport)
	f.b = append(f.b, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return f
}

func (f *frameBuilder) udp(sport, dport uint16) *frameBuilder {
	f.b = binary.BigEndian.AppendUint16(f.b, sport)
	f.b = binary.BigEndian.AppendUint16(f.b, dport)
	f.b = append(f.b, 0, 8, 0, 0)
	return f
}

func (f *frameBuilder) icmp(typ, code byte) *frameBuilder {
	f.b = append(f.b, typ, code, 0, 0, 0, 1, 0, 1)
	return f
}

// arp appends an Ethernet/IPv4 ARP (or RARP) body.
func (f *frameBuilder) arp(etype uint16, op uint16, sender, target string) *frameBuilder {
	f.setType(etype)
	s, t := netip.MustParseAddr(sender).As4(), netip.MustParseAddr(target).As4()
	f.b = append(f.b, 0, 1, 8, 0, 6, 4, byte(op>>8), byte(op), 2, 0, 0, 0, 0, 1)
	f.b = append(f.b, s[:]...)
	f.b = append(f.b, 0, 0, 0, 0, 0, 0)
	f.b = append(f.b, t[:]...)
	return f
}

func (f *frameBuilder) payload(n int) *frameBuilder {
	for i := 0; i < n; i++ {
		f.b = append(f.b, byte(i))
	}
	return f
}

func (f *frameBuilder) bytes() []byte {
	if f.ipOff >= 0 {
		n := len(f.b) - f.ipOff
		if f.ipVer == 4 {
			binary.BigEndian.PutUint16(f.b[f.ipOff+2:], uint16(n))
		} else {
			binary.BigEndian.PutUint16(f.b[f.ipOff+4:], uint16(n-40))
		}
	}
	return f.b
}

// craftedFrames is the packet set every table expression is tried on.
func craftedFrames() [][]byte {
	var out [][]byte
	add := func(f *frameBuilder) { out = append(out, f.bytes()) }
	for _, ports := range [][2]uint16{{1234, 80}, {80, 1234}, {443, 50000}, {53, 53}, {22, 2222}, {150, 199}, {8080, 65535}} {
		add(newFrame().ipv4(ipProtoTCP, "10.0.0.1", "192.168.1.2").tcp(ports[0], ports[1], 0x02))
		add(newFrame().ipv4(ipProtoUDP, "192.168.1.2", "10.1.2.3").udp(ports[0], ports[1]).payload(20))
		add(newFrame().ipv6(ipProtoTCP, "2001:db8::1", "fe80::2").tcp(ports[0], ports[1], 0x12))
		add(newFrame().ipv6(ipProtoUDP, "::1", "2001:db8:1::53").udp(ports[0], ports[1]))
	}
	for _, flags := range []byte{0x01, 0x02, 0x04, 0x10, 0x12, 0x18, 0x11, 0x00, 0xc2} {
		add(newFrame().ipv4(ipProtoTCP, "1.2.3.4", "5.6.7.8").tcp(40000, 443, flags).payload(int(flags)))
	}
	add(newFrame().ipv4(ipProtoSCTP, "1.2.3.4", "5.6.7.8").udp(80, 9))
	add(newFrame().ipv6(ipProtoSCTP, "::1", "::2").udp(9, 80))
	add(newFrame().ipv4(ipProtoICMP, "10.0.0.1", "10.0.0.2").icmp(8, 0))
	add(newFrame().ipv4(ipProtoICMP, "10.0.0.2", "10.0.0.1").icmp(0, 0).ttl(3))
	add(newFrame().ipv4(ipProtoICMP, "10.9.8.7", "1.2.3.4").icmp(3, 3).ttl(200))
	add(newFrame().ipv6(ipProtoICMPv6, "fe80::1", "ff02::1").icmp(128, 0))
	add(newFrame().ipv6(ipProtoICMPv6, "fe80::1", "fe80::2").icmp(135, 0))
	add(newFrame().ipv6(44, "2001:db8::1", "2001:db8::2").fragHeader6(ipProtoTCP, 0, true).tcp(1234, 80, 0x02))
	add(newFrame().ipv6(44, "2001:db8::1", "2001:db8::2").fragHeader6(ipProtoICMPv6, 0, false).icmp(129, 0))
	add(newFrame().ipv6(0, "2001:db8::1", "2001:db8::2").payload(8))
	// IPv4 fragments: first (MF), middle and last.
	add(newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").frag(0, true).tcp(1234, 80, 0x18).payload(40))
	add(newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").frag(6, true).payload(48))
	add(newFrame().ipv4(ipProtoUDP, "10.0.0.1", "10.0.0.2").frag(12, false).udp(53, 53))
	add(newFrame().ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").ipv4Options(3).tcp(5555, 80, 0x02))
	add(newFrame().ipv4(ipProtoUDP, "172.16.5.4", "10.0.0.255").ipv4Options(1).udp(67, 68).payload(300))
	// ARP and RARP.
	add(newFrame().arp(0x0806, 1, "10.0.0.1", "10.0.0.2"))
	add(newFrame().arp(0x0806, 2, "192.168.1.2", "1.2.3.4"))
	add(newFrame().arp(0x8035, 3, "1.2.3.4", "10.0.0.2"))
	// VLAN-tagged frames, including QinQ and the other TPIDs.
	add(newFrame().vlan(0x8100, 10).ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02))
	add(newFrame().vlan(0x8100, 20).ipv4(ipProtoUDP, "10.0.0.1", "10.0.0.2").udp(53, 5353))
	add(newFrame().vlan(0x8100, 10).ipv6(ipProtoTCP, "2001:db8::1", "::1").tcp(443, 80, 0x10))
	add(newFrame().vlan(0x88a8, 100).vlan(0x8100, 10).ipv4(ipProtoTCP, "1.2.3.4", "10.0.0.2").tcp(80, 22, 0x02))
	add(newFrame().vlan(0x9100, 4095).arp(0x0806, 1, "10.0.0.1", "10.0.0.2"))
	add(newFrame().vlan(0x8100, 0).ipv4(ipProtoICMP, "10.0.0.1", "10.0.0.2").icmp(8, 0))
	add(newFrame().vlan(0x8100, 20).ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02))
	add(newFrame().vlan(0x8100, 20).vlan(0x8100, 10).ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1234, 80, 0x02))
	add(newFrame().vlan(0x8100, 100).vlan(0x8100, 7).ipv4(ipProtoUDP, "10.0.0.1", "10.0.0.2").udp(53, 53))
	// Ethernet addresses, odd ethertypes, runts and truncated headers.
	add(newFrame().macs([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, [6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}).arp(0x0806, 1, "10.0.0.9", "10.0.0.1"))
	add(newFrame().macs([6]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, [6]byte{2, 0, 0, 0, 0, 1}).ipv4(ipProtoTCP, "10.0.0.1", "10.0.0.2").tcp(1, 2, 0x04))
	add(newFrame().etherType(0x88cc).payload(40))
	add(newFrame().etherType(0x0060).payload(46))
	out = append(out, newFrame().ipv4(ipProtoTCP, "10.0.0.1", "192.168.1.2").tcp(1234, 80, 0x02).bytes()[:40])
	out = append(out, newFrame().ipv6(ipProtoUDP, "::1", "::2").udp(53, 53).bytes()[:56])
	out = append(out, newFrame().ipv4(ipProtoUDP, "10.0.0.1", "10.0.0.2").bytes()[:20])
	out = append(out, newFrame().bytes()[:10])
	add(newFrame().ipv4(ipProtoTCP, "10.0.0.1", "192.168.1.2").tcp(1234, 80, 0x02).payload(1400))
	return out
}
