package summary

import (
	"strconv"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/decode/dns"
	"github.com/netblame/netblame/decode/httphead"
	"github.com/netblame/netblame/decode/tlshello"
)

// AppKind says which application layer App found in a packet.
type AppKind uint8

// Application layers the summary words.
const (
	AppNone AppKind = iota
	AppDNS          // a DNS message on port 53, over UDP or TCP
	AppHTTP         // the start of an HTTP/1.x request or response
	AppTLS          // a TLS record whose first handshake message is a ClientHello
)

// App is a packet's application layer as the summary words it in the
// Protocol and Info columns, as tshark 4.0 does: DNS on port 53 (what
// tshark calls DNS; multicast DNS and LLMNR are other protocols to it),
// an HTTP/1.x request or status line on any port, a TLS ClientHello.
//
// An App is caller-owned and reused from packet to packet (it holds a
// DNS message's scratch space, some kilobytes): Parse overwrites it, and
// what it holds are views into the payload, valid as long as the payload
// is.
type App struct {
	Kind AppKind
	DNS  dns.Message
	HTTP httphead.Head
	TLS  tlshello.Hello
}

// Parse looks for an application layer in the payload of d (the bytes
// after its TCP or UDP header) and returns what it found, also kept in
// a.Kind. A fragment, a packet without ports or an empty payload has none;
// so has a DNS message that does not parse whole (tshark shows it
// malformed) and a TCP segment holding only part of one.
func (a *App) Parse(d *decode.Packet, payload []byte) AppKind {
	a.Kind = AppNone
	if !HasPorts(d) || len(payload) == 0 {
		return AppNone
	}
	tcp := d.Proto == decode.ProtoTCP
	if d.SrcPort == dns.Port || d.DstPort == dns.Port {
		msg, whole := payload, true
		if tcp {
			msg, whole = dns.StripTCPLength(payload)
		}
		if whole && a.DNS.Parse(msg) == nil {
			a.Kind = AppDNS
			return AppDNS
		}
	}
	if !tcp {
		return AppNone
	}
	if payload[0] == 22 { // a TLS handshake record
		if a.TLS.Parse(payload) == nil && a.TLS.Type == tlshello.TypeClientHello {
			a.Kind = AppTLS
		}
		return a.Kind
	}
	if a.HTTP.Parse(payload) == nil {
		a.Kind = AppHTTP
	}
	return a.Kind
}

// appProtocol is the Protocol column of a's layer, "" for none.
func (a *App) protocol() string {
	switch a.Kind {
	case AppDNS:
		return "DNS"
	case AppHTTP:
		return "HTTP"
	case AppTLS:
		// A ClientHello is named by its record's version, as tshark
		// names it before a ServerHello has settled the version.
		return tlsVersionName(a.TLS.RecordVersion)
	}
	return ""
}

func tlsVersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSLv3"
	case 0x0301:
		return "TLSv1"
	case 0x0302:
		return "TLSv1.1"
	case 0x0303:
		return "TLSv1.2"
	case 0x0304:
		return "TLSv1.3"
	}
	return "TLS"
}

// appendInfo appends the Info text of a's layer.
func (a *App) appendInfo(b []byte) []byte {
	switch a.Kind {
	case AppDNS:
		return appendDNSInfo(b, &a.DNS)
	case AppHTTP:
		return appendHTTPInfo(b, &a.HTTP)
	case AppTLS:
		return append(b, "Client Hello"...)
	}
	return b
}

// appendHTTPInfo appends the request or status line followed by a space,
// as tshark shows it ("GET /index.html HTTP/1.1 ", "HTTP/1.1 200 OK "):
// tshark puts the line's end there, where it would add the body's
// content type once it has dissected the body.
func appendHTTPInfo(b []byte, h *httphead.Head) []byte {
	if h.Request {
		b = appendText(b, h.Method)
		b = append(b, ' ')
		b = appendText(b, h.URI)
		if len(h.Version) > 0 {
			b = append(b, ' ')
			b = appendText(b, h.Version)
		}
		return append(b, ' ')
	}
	b = appendText(b, h.Version)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(h.Code), 10)
	if len(h.Reason) > 0 {
		b = append(b, ' ')
		b = appendText(b, h.Reason)
	}
	return append(b, ' ')
}

// appendDNSInfo appends "Standard query 0x1a2b A example.com" or
// "Standard query response 0x1a2b A example.com A 192.0.2.1": the opcode,
// the ID, a response's error, the question, then every record of the
// three sections with its data, as tshark words them.
func appendDNSInfo(b []byte, m *dns.Message) []byte {
	b = append(b, dnsOpcodeName(m.Opcode())...)
	if m.Response() {
		b = append(b, " response"...)
	}
	b = append(b, " 0x"...)
	b = appendHex(b, uint64(m.ID), 4)
	if m.Response() && m.RCode() != 0 {
		b = append(b, ' ')
		b = appendDNSRCode(b, m.RCode())
	}
	if m.HasQuestion {
		b = append(b, ' ')
		b = appendDNSType(b, m.Question.Type)
		b = append(b, ' ')
		b = appendText(b, m.Question.Name)
	}
	for i := range m.NRecords {
		r := &m.Records[i]
		b = append(b, ' ')
		b = appendDNSType(b, r.Type)
		switch r.Type {
		case dns.TypeA, dns.TypeAAAA:
			if a, ok := r.Addr(); ok {
				b = a.AppendTo(append(b, ' '))
			}
		case dns.TypeCNAME, dns.TypeNS, dns.TypePTR, dns.TypeSOA:
			if r.Target != nil {
				b = appendText(append(b, ' '), r.Target)
			}
		case dns.TypeMX:
			if r.Target != nil && len(r.Data) >= 2 {
				b = strconv.AppendUint(append(b, ' '), uint64(r.Data[0])<<8|uint64(r.Data[1]), 10)
				b = appendText(append(b, ' '), r.Target)
			}
		}
	}
	return b
}

func dnsOpcodeName(op uint8) string {
	switch op {
	case 0:
		return "Standard query"
	case 1:
		return "Inverse query"
	case 2:
		return "Server status request"
	case 4:
		return "Zone change notification"
	case 5:
		return "Dynamic update"
	}
	return "Unknown operation"
}

func appendDNSRCode(b []byte, rc uint8) []byte {
	names := [...]string{1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented", 5: "Refused",
		6: "Name exists", 7: "RRset exists", 8: "RRset does not exist", 9: "Not authoritative", 10: "Name out of zone"}
	if int(rc) < len(names) && names[rc] != "" {
		return append(b, names[rc]...)
	}
	return strconv.AppendUint(append(b, "Unknown error ("...), uint64(rc), 10)
}

// dnsTypeNames are the record types tshark names, by number.
var dnsTypeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB",
	24: "SIG", 25: "KEY", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT", 39: "DNAME",
	41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
	49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 59: "CDS", 60: "CDNSKEY",
	61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG",
	251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA",
}

func appendDNSType(b []byte, t uint16) []byte {
	if n, ok := dnsTypeNames[t]; ok {
		return append(b, n...)
	}
	b = append(b, "Unknown ("...)
	return append(strconv.AppendUint(b, uint64(t), 10), ')')
}

// appendText appends bytes from the packet (names, URIs) as printable
// ASCII: any other byte as \xNN, so a line stays one line of valid text.
func appendText(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b = append(b, c)
		} else {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return b
}
