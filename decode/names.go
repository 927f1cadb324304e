package decode

import "strconv"

// IPProto is an IP protocol number: IPv4's protocol field, IPv6's last
// next header.
type IPProto uint8

// IP protocol numbers the decoder parses as a transport layer.
const (
	ProtoICMP   IPProto = 1
	ProtoTCP    IPProto = 6
	ProtoUDP    IPProto = 17
	ProtoICMPv6 IPProto = 58
)

// ipProtoNames are tshark's names of the IP protocols netblame does not
// decode further.
var ipProtoNames = map[IPProto]string{
	2: "IGMP", 4: "IPIP", 41: "IPv6", 47: "GRE", 50: "ESP", 51: "AH",
	89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP",
}

// Transport reports whether the decoder parses p as a transport layer
// (TCP, UDP, ICMP, ICMPv6).
func (p IPProto) Transport() bool {
	return p == ProtoTCP || p == ProtoUDP || p == ProtoICMP || p == ProtoICMPv6
}

// Name returns the protocol's name as tshark spells it ("TCP", "ICMPv6",
// "GRE"), or "" for a number it has no name for here.
func (p IPProto) Name() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "ICMPv6"
	}
	return ipProtoNames[p]
}

// String returns Name, or the number in decimal when p has no name.
func (p IPProto) String() string {
	if n := p.Name(); n != "" {
		return n
	}
	return strconv.Itoa(int(p))
}

// icmpNames are tshark's names of the common ICMP (v4) types.
var icmpNames = map[uint8]string{
	0: "Echo (ping) reply", 3: "Destination unreachable", 5: "Redirect",
	8: "Echo (ping) request", 11: "Time-to-live exceeded", 12: "Parameter problem",
	13: "Timestamp request", 14: "Timestamp reply",
}

// icmpv6Names are tshark's names of the common ICMPv6 types.
var icmpv6Names = map[uint8]string{
	1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded",
	4: "Parameter Problem", 128: "Echo (ping) request", 129: "Echo (ping) reply",
	130: "Multicast Listener Query", 131: "Multicast Listener Report",
	133: "Router Solicitation", 134: "Router Advertisement",
	135: "Neighbor Solicitation", 136: "Neighbor Advertisement",
	143: "Multicast Listener Report Message v2",
}

// ICMPTypeName names an ICMP type (proto ProtoICMP) or ICMPv6 type
// (ProtoICMPv6) as tshark's Info column does ("Echo (ping) request"), or
// returns "" for a type it has no name for here or another protocol.
func ICMPTypeName(proto IPProto, typ uint8) string {
	switch proto {
	case ProtoICMP:
		return icmpNames[typ]
	case ProtoICMPv6:
		return icmpv6Names[typ]
	}
	return ""
}

// EtherType is the type of an Ethernet frame's payload (after VLAN tags),
// or, when at most 1500, an 802.3 length field.
type EtherType uint16

// EtherTypes of the network layers the decoder parses.
const (
	EtherTypeIPv4 EtherType = etherTypeIPv4
	EtherTypeIPv6 EtherType = etherTypeIPv6
)

// String names the EtherType as tshark's Protocol column does ("IPv4",
// "ARP", "LLDP"; "LLC" for an 802.3 length), else "0x" and four hex digits.
func (t EtherType) String() string {
	switch t {
	case EtherTypeIPv4:
		return "IPv4"
	case EtherTypeIPv6:
		return "IPv6"
	case 0x0806:
		return "ARP"
	case 0x8035:
		return "RARP"
	case 0x88cc:
		return "LLDP"
	case 0x8847, 0x8848:
		return "MPLS"
	case 0x888e:
		return "EAPOL"
	case 0x8863, 0x8864:
		return "PPPoE"
	case 0x88e5:
		return "MACsec"
	case 0x88f7:
		return "PTP"
	case 0x8809:
		return "Slow"
	case 0x9000:
		return "LOOP"
	case 0x22f3:
		return "TRILL"
	case 0x8137:
		return "IPX"
	}
	if t <= 1500 {
		return "LLC"
	}
	return "0x" + strconv.FormatUint(uint64(t)|0x10000, 16)[1:]
}

// TCPFlags are the TCP flag bits as they appear in the header: byte 13,
// plus NS from byte 12 shifted to bit 8.
type TCPFlags uint16

// TCP flag bits.
const (
	TCPFin TCPFlags = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
	TCPNs
)

// tcpFlagNames are the TCP flags in the order tshark lists them.
var tcpFlagNames = [...]struct {
	bit  TCPFlags
	name string
}{
	{TCPFin, "FIN"}, {TCPSyn, "SYN"}, {TCPRst, "RST"},
	{TCPPsh, "PSH"}, {TCPAck, "ACK"}, {TCPUrg, "URG"},
	{TCPEce, "ECE"}, {TCPCwr, "CWR"}, {TCPNs, "NS"},
}

// AppendText appends the flags as tshark lists them ("SYN, ACK"), or
// "<None>"; it never fails. It lets a caller print flags without
// allocating.
func (f TCPFlags) AppendText(b []byte) ([]byte, error) {
	n := 0
	for _, fl := range tcpFlagNames {
		if f&fl.bit != 0 {
			if n > 0 {
				b = append(b, ", "...)
			}
			b = append(b, fl.name...)
			n++
		}
	}
	if n == 0 {
		b = append(b, "<None>"...)
	}
	return b, nil
}

// String returns the flags as AppendText appends them.
func (f TCPFlags) String() string {
	b, _ := f.AppendText(nil)
	return string(b)
}
