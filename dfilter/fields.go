package dfilter

import (
	"net/netip"
	"sort"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/decode/dns"
	"github.com/netblame/netblame/decode/httphead"
	"github.com/netblame/netblame/decode/tlshello"
	"github.com/netblame/netblame/flowtable"
)

// field is one filterable name: its kind and how to read its occurrences
// from a packet.
type field struct {
	name string
	kind kind
	get  func(p *Packet, vs *vals)

	// How -T fields prints it (columns.go): a protocol cannot be
	// printed; hexDigits > 0 prints 0x and at least that many digits;
	// signed prints the value as a negative number when it is one.
	protocol  bool
	hexDigits int
	signed    bool
	nanos     bool // a time: printed from its nanoseconds
	conv      bool // needs Conversations.See (a stream number, a flow's times)
}

var (
	fieldList []*field
	fieldsBy  = map[string]*field{}
)

func lookupField(name string) (*field, bool) {
	f, ok := fieldsBy[name]
	return f, ok
}

// Fields lists the names a filter may use, sorted.
func Fields() []string {
	names := make([]string, len(fieldList))
	for i, f := range fieldList {
		names[i] = f.name
	}
	sort.Strings(names)
	return names
}

func def(name string, k kind, get func(p *Packet, vs *vals)) {
	f := &field{name: name, kind: k, get: get}
	fieldList = append(fieldList, f)
	fieldsBy[name] = f
}

func u(vs *vals, x uint64)  { vs.add(value{k: kUint, u: x}) }
func i64(vs *vals, x int64) { vs.add(value{k: kUint, u: uint64(x)}) }

// seconds adds a time: in seconds for comparisons, its nanoseconds kept
// for printing them exactly.
func seconds(vs *vals, ns int64)  { vs.add(value{k: kFloat, f: float64(ns) / 1e9, u: uint64(ns)}) }
func flag(vs *vals, b bool)       { vs.add(value{k: kUint, u: b2u(b)}) }
func addr(vs *vals, a netip.Addr) { vs.add(value{k: kAddr, a: a}) }
func str(vs *vals, s []byte)      { vs.add(value{k: kString, s: s}) }
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func isIP4(p *Packet) bool { return p.Decoded != nil && p.Decoded.IPVersion == 4 }

// layers are the packet's decoded IP layers: the frame's, and the packet
// an ICMP error quotes, whose addresses and ports tshark's ip.addr,
// tcp.port and the like match too.
func (p *Packet) layers() [2]*decode.Packet {
	return [2]*decode.Packet{p.Decoded, p.inner()}
}

func ipv(d *decode.Packet, v uint8) bool { return d != nil && d.IPVersion == v }

// ports reports whether d carries proto's ports (a quoted packet's
// transport header may be cut after them).
func ports(d *decode.Packet, proto decode.IPProto) bool {
	return d != nil && d.Proto == proto && !d.Has(decode.Fragment) && (d.Layer >= decode.LayerTransport || d.TransOffset > 0 && d.SrcPort|d.DstPort != 0)
}
func isIP6(p *Packet) bool { return p.Decoded != nil && p.Decoded.IPVersion == 6 }
func transport(p *Packet, proto decode.IPProto) bool {
	d := p.Decoded
	return d != nil && d.Layer >= decode.LayerTransport && d.Proto == proto && !d.Has(decode.Fragment)
}
func isTCP(p *Packet) bool { return transport(p, decode.ProtoTCP) }
func isUDP(p *Packet) bool { return transport(p, decode.ProtoUDP) }

// analyzed is the flow table's result for an analysed TCP segment.
func analyzed(p *Packet) *flowtable.PacketResult {
	if r := p.Result; r != nil && r.Tracked && r.Analyzed {
		return r
	}
	return nil
}

func init() {
	// frame
	def("frame", kNone, func(p *Packet, vs *vals) { u(vs, 1) })
	def("frame.number", kUint, func(p *Packet, vs *vals) { u(vs, p.Frame) })
	def("frame.len", kUint, func(p *Packet, vs *vals) { u(vs, uint64(p.Len)) })
	def("frame.cap_len", kUint, func(p *Packet, vs *vals) { u(vs, uint64(len(p.Data))) })
	def("frame.time_relative", kFloat, func(p *Packet, vs *vals) { seconds(vs, p.TS-p.First) })
	def("frame.time_delta", kFloat, func(p *Packet, vs *vals) { seconds(vs, p.TS-p.Prev) })
	def("frame.time_epoch", kFloat, func(p *Packet, vs *vals) { seconds(vs, p.TS) })

	// Ethernet and VLAN
	ether := func(p *Packet) bool {
		return p.Decoded != nil && p.Decoded.Link == decode.LinkEthernet && len(p.Data) >= 14
	}
	def("eth", kNone, func(p *Packet, vs *vals) {
		if ether(p) {
			u(vs, 1)
		}
	})
	def("eth.dst", kMAC, func(p *Packet, vs *vals) {
		if ether(p) {
			vs.add(value{k: kMAC, s: p.Data[0:6]})
		}
	})
	def("eth.src", kMAC, func(p *Packet, vs *vals) {
		if ether(p) {
			vs.add(value{k: kMAC, s: p.Data[6:12]})
		}
	})
	def("eth.type", kUint, func(p *Packet, vs *vals) {
		if !ether(p) {
			return
		}
		// Below 0x600 the field is an 802.3 length (tshark's eth.len).
		if t := uint64(p.Data[12])<<8 | uint64(p.Data[13]); t >= 0x600 {
			u(vs, t)
		}
	})
	def("eth.addr", kMAC, func(p *Packet, vs *vals) {
		if ether(p) {
			vs.add(value{k: kMAC, s: p.Data[0:6]})
			vs.add(value{k: kMAC, s: p.Data[6:12]})
		}
	})
	def("vlan", kNone, func(p *Packet, vs *vals) {
		if p.Decoded != nil && p.Decoded.VLANCount > 0 {
			u(vs, 1)
		}
	})
	def("vlan.id", kUint, func(p *Packet, vs *vals) {
		if d := p.Decoded; d != nil {
			for i := range min(int(d.VLANCount), len(d.VLANs)) {
				u(vs, uint64(d.VLANs[i]))
			}
		}
	})

	// IPv4
	presence := func(name string, has func(d *decode.Packet) bool) {
		def(name, kNone, func(p *Packet, vs *vals) {
			for _, d := range p.layers() {
				if has(d) {
					u(vs, 1)
					return
				}
			}
		})
	}
	addrs := func(name string, v uint8, src, dst bool) {
		def(name, kAddr, func(p *Packet, vs *vals) {
			for _, d := range p.layers() {
				if ipv(d, v) {
					if src {
						addr(vs, d.Src())
					}
					if dst {
						addr(vs, d.Dst())
					}
				}
			}
		})
	}
	portField := func(name string, proto decode.IPProto, src, dst bool) {
		def(name, kUint, func(p *Packet, vs *vals) {
			for _, d := range p.layers() {
				if ports(d, proto) {
					if src {
						u(vs, uint64(d.SrcPort))
					}
					if dst {
						u(vs, uint64(d.DstPort))
					}
				}
			}
		})
	}
	presence("ip", func(d *decode.Packet) bool { return ipv(d, 4) })
	// An IPv4 header field has an occurrence in the frame's header and
	// in the header an ICMP error quotes, as in tshark.
	ip4 := func(name string, get func(d *decode.Packet, vs *vals)) {
		def(name, kUint, func(p *Packet, vs *vals) {
			for _, d := range p.layers() {
				if ipv(d, 4) {
					get(d, vs)
				}
			}
		})
	}
	addrs("ip.src", 4, true, false)
	addrs("ip.dst", 4, false, true)
	addrs("ip.addr", 4, true, true)
	ip4("ip.ttl", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.TTL)) })
	ip4("ip.id", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.IPID)) })
	ip4("ip.proto", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.Proto)) })
	ip4("ip.len", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.IPLen)) })
	ip4("ip.dsfield", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.TOS)) })
	ip4("ip.flags", func(d *decode.Packet, vs *vals) {
		// The three flag bits as a number: DF 2, MF 1.
		u(vs, b2u(d.Has(decode.IPv4DontFragment))<<1|b2u(d.Has(decode.MoreFragments)))
	})
	ip4("ip.flags.mf", func(d *decode.Packet, vs *vals) { flag(vs, d.Has(decode.MoreFragments)) })
	ip4("ip.flags.df", func(d *decode.Packet, vs *vals) { flag(vs, d.Has(decode.IPv4DontFragment)) })
	// In 8-byte units, as on the wire (tshark shows the value so).
	ip4("ip.frag_offset", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.FragOffset/8)) })

	// IPv6
	presence("ipv6", func(d *decode.Packet) bool { return ipv(d, 6) })
	addrs("ipv6.src", 6, true, false)
	addrs("ipv6.dst", 6, false, true)
	addrs("ipv6.addr", 6, true, true)
	ip6 := func(name string, get func(d *decode.Packet, vs *vals)) {
		def(name, kUint, func(p *Packet, vs *vals) {
			if isIP6(p) {
				get(p.Decoded, vs)
			}
		})
	}
	ip6("ipv6.hlim", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.TTL)) })
	ip6("ipv6.flow", func(d *decode.Packet, vs *vals) { u(vs, uint64(d.FlowLabel)) })
	// ipv6.nxt is the fixed header's next header (44 for a fragment, 0 for
	// hop-by-hop options), not the transport protocol after them.
	def("ipv6.nxt", kUint, func(p *Packet, vs *vals) {
		if d := p.Decoded; isIP6(p) && d.NetOffset+6 < len(p.Data) {
			u(vs, uint64(p.Data[d.NetOffset+6]))
		}
	})

	// TCP
	presence("tcp", func(d *decode.Packet) bool { return ports(d, decode.ProtoTCP) })
	tcp := func(name string, k kind, get func(p *Packet, d *decode.Packet, vs *vals)) {
		def(name, k, func(p *Packet, vs *vals) {
			if isTCP(p) {
				get(p, p.Decoded, vs)
			}
		})
	}
	portField("tcp.srcport", decode.ProtoTCP, true, false)
	portField("tcp.dstport", decode.ProtoTCP, false, true)
	portField("tcp.port", decode.ProtoTCP, true, true)
	tcp("tcp.seq_raw", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.Seq)) })
	// Wireshark shows the acknowledgement number without the ACK flag
	// too (a SYN's is 0), as it is.
	tcp("tcp.ack_raw", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.Ack)) })
	tcp("tcp.seq", kUint, func(p *Packet, d *decode.Packet, vs *vals) {
		if r := analyzed(p); r != nil {
			u(vs, uint64(r.RelSeq))
		}
	})
	tcp("tcp.ack", kUint, func(p *Packet, d *decode.Packet, vs *vals) {
		if r := analyzed(p); r != nil && d.TCPFlags&decode.TCPAck != 0 {
			u(vs, uint64(r.RelAck))
		} else if r != nil {
			u(vs, uint64(d.Ack))
		}
	})
	tcp("tcp.len", kUint, func(_ *Packet, d *decode.Packet, vs *vals) {
		if d.PayloadLen >= 0 {
			u(vs, uint64(d.PayloadLen))
		}
	})
	tcp("tcp.hdr_len", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.TCPHeaderLen)) })
	tcp("tcp.window_size_value", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.Window)) })
	tcp("tcp.window_size", kUint, func(p *Packet, d *decode.Packet, vs *vals) {
		if r := analyzed(p); r != nil && r.Window >= 0 {
			u(vs, uint64(r.Window))
		} else {
			u(vs, uint64(d.Window))
		}
	})
	tcp("tcp.stream", kUint, stream)
	tcp("tcp.time_relative", kFloat, func(p *Packet, _ *decode.Packet, vs *vals) {
		if p.conv {
			seconds(vs, p.TS-p.flowFirst)
		}
	})
	tcp("tcp.time_delta", kFloat, func(p *Packet, _ *decode.Packet, vs *vals) {
		if p.conv {
			seconds(vs, p.TS-p.flowPrev)
		}
	})
	tcp("tcp.window_size_scalefactor", kUint, func(p *Packet, d *decode.Packet, vs *vals) {
		// Wireshark shows the multiplier, -1 when the handshake was
		// not seen and -2 when one end did not offer scaling; a SYN
		// has none.
		if r := analyzed(p); r != nil && d.TCPFlags&decode.TCPSyn == 0 {
			if r.WinScale < 0 {
				i64(vs, int64(r.WinScale))
			} else {
				u(vs, 1<<uint(r.WinScale))
			}
		}
	})
	tcp("tcp.nxtseq", kUint, func(p *Packet, d *decode.Packet, vs *vals) {
		if r := analyzed(p); r != nil {
			n := r.RelSeq + r.Len
			if d.TCPFlags&(decode.TCPSyn|decode.TCPFin) != 0 {
				n++
			}
			u(vs, uint64(n))
		}
	})
	tcp("tcp.checksum", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.Checksum)) })
	tcp("tcp.urgent_pointer", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.Urgent)) })
	tcp("tcp.options.mss_val", kUint, func(_ *Packet, d *decode.Packet, vs *vals) {
		if d.Has(decode.HasMSS) {
			u(vs, uint64(d.MSS))
		}
	})
	tcp("tcp.options.wscale.shift", kUint, func(_ *Packet, d *decode.Packet, vs *vals) {
		if d.Has(decode.HasWScale) {
			u(vs, uint64(d.WScale))
		}
	})
	tcp("tcp.options.timestamp.tsval", kUint, func(_ *Packet, d *decode.Packet, vs *vals) {
		if d.Has(decode.HasTimestamps) {
			u(vs, uint64(d.TSVal))
		}
	})
	tcp("tcp.options.timestamp.tsecr", kUint, func(_ *Packet, d *decode.Packet, vs *vals) {
		if d.Has(decode.HasTimestamps) {
			u(vs, uint64(d.TSEcr))
		}
	})
	tcp("tcp.options.sack", kBytes, func(p *Packet, d *decode.Packet, vs *vals) {
		if opt := p.tcpOption(5); opt != nil {
			vs.add(value{k: kBytes, s: opt})
		}
	})
	tcp("tcp.options.sack_perm", kBytes, func(p *Packet, d *decode.Packet, vs *vals) {
		if opt := p.tcpOption(4); opt != nil {
			vs.add(value{k: kBytes, s: opt})
		}
	})
	for name, bit := range map[string]decode.TCPFlags{
		"fin": decode.TCPFin, "syn": decode.TCPSyn, "reset": decode.TCPRst, "push": decode.TCPPsh,
		"ack": decode.TCPAck, "urg": decode.TCPUrg, "ece": decode.TCPEce, "cwr": decode.TCPCwr,
	} {
		tcp("tcp.flags."+name, kBool, func(_ *Packet, d *decode.Packet, vs *vals) { flag(vs, d.TCPFlags&bit != 0) })
	}
	tcp("tcp.flags", kUint, func(_ *Packet, d *decode.Packet, vs *vals) { u(vs, uint64(d.TCPFlags)) })

	// TCP analysis: Wireshark's flags under tcp.analysis, netblame's own
	// under netblame.
	tcp("tcp.analysis.flags", kNone, func(p *Packet, _ *decode.Packet, vs *vals) {
		if r := analyzed(p); r != nil && r.Events&wiresharkEvents != 0 {
			u(vs, 1)
		}
	})
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		name := "netblame." + e.String()
		if e.Wireshark() {
			name = "tcp.analysis." + e.String()
		}
		// Wireshark's tree holds a duplicate ACK's flag twice (the
		// analysis' summary and the count), so -T fields prints 1,1.
		n := 1
		if e == flowtable.DuplicateAck {
			n = 2
		}
		tcp(name, kNone, func(p *Packet, _ *decode.Packet, vs *vals) {
			if r := analyzed(p); r != nil && r.Events.MatchesFilter(e) {
				for range n {
					u(vs, 1)
				}
			}
		})
	}

	// UDP
	presence("udp", func(d *decode.Packet) bool { return ports(d, decode.ProtoUDP) })
	portField("udp.srcport", decode.ProtoUDP, true, false)
	portField("udp.dstport", decode.ProtoUDP, false, true)
	portField("udp.port", decode.ProtoUDP, true, true)
	def("udp.stream", kUint, func(p *Packet, vs *vals) {
		if isUDP(p) {
			stream(p, p.Decoded, vs)
		}
	})
	def("udp.checksum", kUint, func(p *Packet, vs *vals) {
		if isUDP(p) {
			u(vs, uint64(p.Decoded.Checksum))
		}
	})
	def("udp.length", kUint, func(p *Packet, vs *vals) {
		if isUDP(p) {
			u(vs, uint64(p.Decoded.UDPLen))
		}
	})

	// ICMP
	icmp := func(p *Packet, proto decode.IPProto) bool {
		d := p.Decoded
		return d != nil && d.Layer >= decode.LayerTransport && d.Proto == proto && !d.Has(decode.Fragment)
	}
	def("icmp", kNone, func(p *Packet, vs *vals) {
		if icmp(p, decode.ProtoICMP) {
			u(vs, 1)
		}
	})
	def("icmp.type", kUint, func(p *Packet, vs *vals) {
		if icmp(p, decode.ProtoICMP) {
			u(vs, uint64(p.Decoded.ICMPType))
		}
	})
	def("icmp.code", kUint, func(p *Packet, vs *vals) {
		if icmp(p, decode.ProtoICMP) {
			u(vs, uint64(p.Decoded.ICMPCode))
		}
	})

	// Application layers, parsed once per packet when a filter asks.
	// The protocol "dns" is DNS proper, port 53: tshark calls multicast
	// DNS and LLMNR "mdns" and "llmnr", though their fields are dns.*.
	def("dns", kNone, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil && (p.Decoded.SrcPort == dns.Port || p.Decoded.DstPort == dns.Port) {
			u(vs, 1)
		}
	})
	def("dns.qry.name", kString, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil && m.HasQuestion {
			str(vs, m.Question.Name)
		}
	})
	def("dns.id", kUint, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil {
			u(vs, uint64(m.ID))
		}
	})
	def("dns.flags", kUint, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil {
			u(vs, uint64(m.Flags))
		}
	})
	def("dns.resp.name", kString, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil {
			for i := range m.NRecords {
				str(vs, m.Records[i].Name)
			}
		}
	})
	def("dns.qry.type", kUint, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil && m.HasQuestion {
			u(vs, uint64(m.Question.Type))
		}
	})
	def("dns.flags.response", kBool, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil {
			flag(vs, m.Response())
		}
	})
	def("dns.flags.rcode", kUint, func(p *Packet, vs *vals) {
		if m := p.dns(); m != nil && m.Response() {
			u(vs, uint64(m.RCode()))
		}
	})
	def("dns.a", kAddr, func(p *Packet, vs *vals) { p.dnsAddrs(vs, true) })
	def("dns.aaaa", kAddr, func(p *Packet, vs *vals) { p.dnsAddrs(vs, false) })
	def("http", kNone, func(p *Packet, vs *vals) {
		if p.http() != nil {
			u(vs, 1)
		}
	})
	def("http.request", kNone, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && h.Request {
			u(vs, 1)
		}
	})
	def("http.response", kNone, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && !h.Request {
			u(vs, 1)
		}
	})
	def("http.request.method", kString, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && h.Request {
			str(vs, h.Method)
		}
	})
	def("http.request.uri", kString, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && h.Request {
			str(vs, h.URI)
		}
	})
	def("http.response.code", kUint, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && !h.Request {
			u(vs, uint64(h.Code))
		}
	})
	def("http.host", kString, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && h.Host != nil {
			str(vs, h.Host)
		}
	})
	def("http.user_agent", kString, func(p *Packet, vs *vals) {
		if h := p.http(); h != nil && h.UserAgent != nil {
			str(vs, h.UserAgent)
		}
	})
	def("tls.handshake.type", kUint, func(p *Packet, vs *vals) {
		if h := p.tls(); h != nil {
			u(vs, uint64(h.Type))
		}
	})
	def("tls.handshake.extensions_server_name", kString, func(p *Packet, vs *vals) {
		if h := p.tls(); h != nil && h.ServerName != nil {
			str(vs, h.ServerName)
		}
	})
	def("tls.handshake.extensions_alpn_str", kString, func(p *Packet, vs *vals) {
		if h := p.tls(); h != nil {
			for i := range h.NALPN {
				str(vs, h.ALPN[i])
			}
		}
	})
}

// How -T fields prints the fields (columns.go) beyond their kind.
func init() {
	for _, name := range []string{"frame", "eth", "vlan", "ip", "ipv6", "tcp", "udp", "icmp", "dns", "http"} {
		fieldsBy[name].protocol = true
	}
	for name, digits := range map[string]int{
		"eth.type": 4, "ip.id": 4, "ip.dsfield": 2, "ip.flags": 2, "ipv6.flow": 6,
		"tcp.flags": 4, "tcp.checksum": 4, "udp.checksum": 4, "dns.id": 4, "dns.flags": 4,
	} {
		fieldsBy[name].hexDigits = digits
	}
	fieldsBy["tcp.window_size_scalefactor"].signed = true
	for _, name := range []string{"tcp.stream", "tcp.time_relative", "tcp.time_delta", "udp.stream"} {
		fieldsBy[name].conv = true
	}
	for _, name := range []string{"frame.time_relative", "frame.time_delta", "frame.time_epoch", "tcp.time_relative", "tcp.time_delta"} {
		fieldsBy[name].nanos = true
	}
}

// stream is tcp.stream or udp.stream: tshark's number when Conversations
// numbered the packet, the flow table's index otherwise.
func stream(p *Packet, _ *decode.Packet, vs *vals) {
	switch {
	case p.conv:
		u(vs, p.stream)
	case p.Result != nil && p.Result.Tracked:
		u(vs, p.Result.Index)
	}
}

// tcpOption returns the TCP option of this kind (its kind and length bytes
// included), nil when the header has none.
func (p *Packet) tcpOption(kind byte) []byte {
	d := p.Decoded
	b := p.Data
	if p.Transport != nil {
		b = p.Transport
	}
	off := d.TransOffset
	// What the capture holds of the header: a truncated one still shows
	// the options it kept whole.
	end := min(off+int(d.TCPHeaderLen), len(b))
	if int(d.TCPHeaderLen) < 20 {
		return nil
	}
	for i := off + 20; i < end; {
		switch b[i] {
		case 0:
			return nil
		case 1:
			i++
			continue
		}
		if i+1 >= end || b[i+1] < 2 || i+int(b[i+1]) > end {
			return nil
		}
		if b[i] == kind {
			return b[i : i+int(b[i+1])]
		}
		i += int(b[i+1])
	}
	return nil
}

// wiresharkEvents are the events tcp.analysis.flags stands for.
var wiresharkEvents = func() flowtable.EventSet {
	var s flowtable.EventSet
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		if e.Wireshark() {
			s = s.Add(e)
		}
	}
	return s
}()

// appCache holds a packet's application-layer parses, done at most once.
type appCache struct {
	done     uint8 // bits: which parses were tried
	ok       uint8 // bits: which succeeded
	dnsMsg   dns.Message
	httpHead httphead.Head
	tlsHello tlshello.Hello
	inner    decode.Packet
}

const (
	appDNS = 1 << iota
	appHTTP
	appTLS
	appInner
)

// inner decodes the packet an ICMP or ICMPv6 error quotes (its IP header
// and the first 8 bytes after it), nil for any other packet.
func (p *Packet) inner() *decode.Packet {
	c := &p.app
	if c.done&appInner == 0 {
		c.done |= appInner
		c.ok &^= appInner
		d := p.Decoded
		if d != nil && d.Layer >= decode.LayerTransport && !d.Has(decode.Fragment) && icmpError(d) && d.TransOffset+8 < len(p.Data) {
			q := p.Data[d.TransOffset+8:]
			et := uint16(0x0800)
			if q[0]>>4 == 6 {
				et = 0x86dd
			}
			_ = c.inner.DecodeNetwork(q, et) // cut short by design: what was read counts
			if c.inner.IPVersion != 0 {
				c.ok |= appInner
			}
		}
	}
	if c.ok&appInner == 0 {
		return nil
	}
	return &c.inner
}

// icmpError reports whether d is an ICMP message that quotes a packet:
// destination unreachable, source quench, redirect, time exceeded,
// parameter problem (ICMPv6: types 1 to 4).
func icmpError(d *decode.Packet) bool {
	switch d.Proto {
	case decode.ProtoICMP:
		switch d.ICMPType {
		case 3, 4, 5, 11, 12:
			return true
		}
	case decode.ProtoICMPv6:
		return d.ICMPType >= 1 && d.ICMPType <= 4
	}
	return false
}

func (p *Packet) dns() *dns.Message {
	c := &p.app
	if c.done&appDNS == 0 {
		c.done |= appDNS
		d := p.Decoded
		if d != nil && (isUDP(p) || isTCP(p)) && (dns.IsPort(d.SrcPort) || dns.IsPort(d.DstPort)) && len(p.Payload) > 0 {
			msg := p.Payload
			if isTCP(p) {
				msg, _ = dns.StripTCPLength(msg)
			}
			if c.dnsMsg.Parse(msg) == nil || c.dnsMsg.HasQuestion {
				c.ok |= appDNS
			} else {
				c.ok &^= appDNS
			}
		} else {
			c.ok &^= appDNS
		}
	}
	if c.ok&appDNS == 0 {
		return nil
	}
	return &c.dnsMsg
}

func (p *Packet) dnsAddrs(vs *vals, v4 bool) {
	m := p.dns()
	if m == nil {
		return
	}
	for i := range m.NRecords {
		if a, ok := m.Records[i].Addr(); ok && a.Is4() == v4 {
			addr(vs, a)
		}
	}
}

func (p *Packet) http() *httphead.Head {
	c := &p.app
	if c.done&appHTTP == 0 {
		c.done |= appHTTP
		c.ok &^= appHTTP
		if isTCP(p) && len(p.Payload) > 0 && c.httpHead.Parse(p.Payload) == nil {
			c.ok |= appHTTP
		}
	}
	if c.ok&appHTTP == 0 {
		return nil
	}
	return &c.httpHead
}

func (p *Packet) tls() *tlshello.Hello {
	c := &p.app
	if c.done&appTLS == 0 {
		c.done |= appTLS
		c.ok &^= appTLS
		if isTCP(p) && len(p.Payload) > 0 && c.tlsHello.Parse(p.Payload) == nil {
			c.ok |= appTLS
		}
	}
	if c.ok&appTLS == 0 {
		return nil
	}
	return &c.tlsHello
}
