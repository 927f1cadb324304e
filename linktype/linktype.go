// Package linktype names what the first byte of a captured frame is: the
// pcap and pcapng LINKTYPE_ registry. Sources (capture files, live rings)
// say it of every packet and the decoder acts on it; it lives apart so
// that a source does not import the parser.
package linktype

import "strconv"

// Type is a pcap LINKTYPE_ value.
type Type uint16

// The link types netblame reads, writes and decodes. DLT 12 and 14 are
// raw IP on some platforms.
const (
	Null      Type = 0   // BSD loopback, host-order 4-byte family
	Ethernet  Type = 1   // Ethernet II, with 802.1Q/802.1ad tags
	RawDLT12  Type = 12  // raw IP (OpenBSD and others write DLT 12)
	RawDLT14  Type = 14  // raw IP (some BSDs write DLT 14)
	Raw       Type = 101 // raw IP, version from the first nibble
	Loop      Type = 108 // OpenBSD loopback, network-order family
	LinuxSLL  Type = 113 // Linux "cooked" capture v1
	IPv4      Type = 228 // raw IPv4
	IPv6      Type = 229 // raw IPv6
	LinuxSLL2 Type = 276 // Linux "cooked" capture v2
)

// String returns the registry's name without its LINKTYPE_ prefix, as
// tcpdump and capinfos print it, or the number for types not listed.
func (t Type) String() string {
	switch t {
	case Null:
		return "NULL"
	case Ethernet:
		return "ETHERNET"
	case RawDLT12, RawDLT14, Raw:
		return "RAW"
	case Loop:
		return "LOOP"
	case LinuxSLL:
		return "LINUX_SLL"
	case IPv4:
		return "IPV4"
	case IPv6:
		return "IPV6"
	case LinuxSLL2:
		return "LINUX_SLL2"
	}
	return "LINKTYPE_" + strconv.Itoa(int(t))
}
