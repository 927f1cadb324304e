package decode_test

import (
	"testing"

	"github.com/netblame/netblame/decode"
)

func TestIPProtoNames(t *testing.T) {
	for _, c := range []struct {
		p         decode.IPProto
		name, str string
		transport bool
	}{
		{decode.ProtoTCP, "TCP", "TCP", true},
		{decode.ProtoUDP, "UDP", "UDP", true},
		{decode.ProtoICMP, "ICMP", "ICMP", true},
		{decode.ProtoICMPv6, "ICMPv6", "ICMPv6", true},
		{2, "IGMP", "IGMP", false},
		{41, "IPv6", "IPv6", false},
		{47, "GRE", "GRE", false},
		{132, "SCTP", "SCTP", false},
		{0, "", "0", false}, // hop-by-hop: not a protocol tshark names here
		{59, "", "59", false},
		{255, "", "255", false},
	} {
		if got := c.p.Name(); got != c.name {
			t.Errorf("IPProto(%d).Name() = %q, want %q", uint8(c.p), got, c.name)
		}
		if got := c.p.String(); got != c.str {
			t.Errorf("IPProto(%d).String() = %q, want %q", uint8(c.p), got, c.str)
		}
		if got := c.p.Transport(); got != c.transport {
			t.Errorf("IPProto(%d).Transport() = %v", uint8(c.p), got)
		}
	}
}

func TestEtherTypeString(t *testing.T) {
	for _, c := range []struct {
		t    decode.EtherType
		want string
	}{
		{decode.EtherTypeIPv4, "IPv4"},
		{decode.EtherTypeIPv6, "IPv6"},
		{0x0806, "ARP"},
		{0x8035, "RARP"},
		{0x88cc, "LLDP"},
		{0x8847, "MPLS"},
		{0x8848, "MPLS"},
		{0x888e, "EAPOL"},
		{0x8863, "PPPoE"},
		{0x8864, "PPPoE"},
		{0x88e5, "MACsec"},
		{0x88f7, "PTP"},
		{0x8809, "Slow"},
		{0x9000, "LOOP"},
		{0x22f3, "TRILL"},
		{0x8137, "IPX"},
		{0, "LLC"}, // 802.3 length fields
		{1500, "LLC"},
		{1501, "0x05dd"},
		{0x0600, "0x0600"},
		{0x88b5, "0x88b5"},
		{0xffff, "0xffff"},
	} {
		if got := c.t.String(); got != c.want {
			t.Errorf("EtherType(%#04x).String() = %q, want %q", uint16(c.t), got, c.want)
		}
	}
}

func TestTCPFlagsString(t *testing.T) {
	for _, c := range []struct {
		f    decode.TCPFlags
		want string
	}{
		{0, "<None>"},
		{decode.TCPSyn, "SYN"},
		{decode.TCPSyn | decode.TCPAck, "SYN, ACK"},
		{decode.TCPAck | decode.TCPPsh, "PSH, ACK"}, // tshark's order, not the caller's
		{decode.TCPFin | decode.TCPAck, "FIN, ACK"},
		{decode.TCPRst, "RST"},
		{decode.TCPUrg | decode.TCPEce | decode.TCPCwr, "URG, ECE, CWR"},
		{decode.TCPNs, "NS"},
		{0x1ff, "FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, NS"},
		{0x200, "<None>"}, // reserved bits have no name
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("TCPFlags(%#03x).String() = %q, want %q", uint16(c.f), got, c.want)
		}
		b, err := c.f.AppendText([]byte("x "))
		if err != nil || string(b) != "x "+c.want {
			t.Errorf("TCPFlags(%#03x).AppendText = %q, %v", uint16(c.f), b, err)
		}
	}
	var f decode.TCPFlags = decode.TCPSyn | decode.TCPAck
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf, _ = f.AppendText(buf[:0]) }); n != 0 {
		t.Errorf("AppendText allocates %v times", n)
	}
}

func TestICMPTypeName(t *testing.T) {
	for _, c := range []struct {
		proto decode.IPProto
		typ   uint8
		want  string
	}{
		{decode.ProtoICMP, 8, "Echo (ping) request"},
		{decode.ProtoICMP, 0, "Echo (ping) reply"},
		{decode.ProtoICMP, 11, "Time-to-live exceeded"},
		{decode.ProtoICMP, 128, ""},
		{decode.ProtoICMPv6, 128, "Echo (ping) request"},
		{decode.ProtoICMPv6, 135, "Neighbor Solicitation"},
		{decode.ProtoICMPv6, 143, "Multicast Listener Report Message v2"},
		{decode.ProtoICMPv6, 8, ""},
		{decode.ProtoTCP, 8, ""},
	} {
		if got := decode.ICMPTypeName(c.proto, c.typ); got != c.want {
			t.Errorf("ICMPTypeName(%v, %d) = %q, want %q", c.proto, c.typ, got, c.want)
		}
	}
}
