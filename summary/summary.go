// Package summary builds tshark's one-line summary of a packet: the
// columns of its default output (No., Time, Source, Destination,
// Protocol, Length, Info), from a packet decode parsed and what the flow
// table made of it (relative sequence numbers, scaled window, analysis
// tags such as "[TCP Retransmission]").
//
// The Append functions write into a caller's buffer and allocate nothing
// once it has grown, so a program can print a summary line for every
// packet of a capture at about the speed it decodes them:
//
//	var line []byte
//	p := summary.Packet{Decoded: &dec, Result: &res}
//	...
//	p.Frame, p.Time, p.Len = frame, ts-first, origLen
//	line = append(summary.AppendLine(line[:0], &p), '\n')
//
// It is not a dissector: it describes the layers decode parses (link,
// IP, TCP, UDP, ICMP) and the application layers of App (DNS, the start
// of an HTTP message, a TLS ClientHello) and words them as tshark does;
// for other
// EtherTypes and IP protocols it gives the number. Which columns to show
// and how to lay out a table of them is the caller's choice.
package summary

import (
	"strconv"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// Packet is what a summary is built from. The pointers are read, never
// kept.
type Packet struct {
	Frame uint64 // 1-based, as Wireshark counts
	// File, when set, names the file Frame counts in (several files read
	// as one): the line shows "FILE:FRAME".
	File string
	Time int64 // ns since the capture's first packet (tshark's default time column)
	Len  int   // original length on the wire
	// Decoded is the packet decode parsed; it must not be nil.
	Decoded *decode.Packet
	// Result is what the flow table reported for the packet; nil (or a
	// segment the table did not analyse) shows Seq, Ack and Win raw and
	// no analysis tags.
	Result *flowtable.PacketResult
	// DecodeErr is Decode's error, shown in brackets at the end of Info.
	DecodeErr error
	// App is the packet's application layer, parsed by the caller
	// (App.Parse); nil, or an App that found none, words the transport.
	App *App
}

// AppendLine appends the text line tshark prints for the packet by
// default, without a newline:
//
//	"    3   0.127610 10.0.0.1 → 10.0.0.2 TCP 68 46656 → 80 [ACK] Seq=1 ..."
//
// Frame and time are right-aligned, the source right- and the
// destination left-aligned in 15 columns, as tshark pads them.
func AppendLine(b []byte, p *Packet) []byte {
	d := p.Decoded
	start := len(b)
	if p.File != "" {
		b = append(append(b, p.File...), ':')
	}
	b = strconv.AppendUint(b, p.Frame, 10)
	b = padLeft(b, start, 5, ' ')
	b = append(b, ' ')
	start = len(b)
	b = AppendSeconds(b, p.Time, 6)
	b = padLeft(b, start, 11, ' ')
	b = append(b, ' ')
	start = len(b)
	b = AppendSource(b, d)
	b = padLeft(b, start, 15, ' ')
	b = append(b, " → "...)
	start = len(b)
	b = AppendDestination(b, d)
	for i := len(b) - start; i < 15; i++ {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	b = AppendProtocolOf(b, p)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(p.Len), 10)
	b = append(b, ' ')
	return AppendInfo(b, p)
}

// AppendSource appends the Source column: the IP source address, or "-"
// for a packet without IP.
func AppendSource(b []byte, d *decode.Packet) []byte {
	if a := d.Src(); a.IsValid() {
		return a.AppendTo(b)
	}
	return append(b, '-')
}

// AppendDestination appends the Destination column, as AppendSource.
func AppendDestination(b []byte, d *decode.Packet) []byte {
	if a := d.Dst(); a.IsValid() {
		return a.AppendTo(b)
	}
	return append(b, '-')
}

// HasPorts reports whether the packet shows TCP or UDP ports. A first
// fragment carries them, but tshark shows them with the datagram once it
// is whole, so a fragment has none.
func HasPorts(d *decode.Packet) bool {
	return d.Layer == decode.LayerTransport && (d.Proto == decode.ProtoTCP || d.Proto == decode.ProtoUDP) &&
		!d.Has(decode.Fragment)
}

// Protocol returns the Protocol column: the deepest protocol decoded, as
// tshark names it for the layers decode parses ("TCP", "ICMPv6", "IPv4"
// for a fragment or a cut transport header, "ARP", "LINKTYPE_147" for a
// link decode does not parse).
func Protocol(d *decode.Packet) string {
	if n := protocolName(d); n != "" {
		return n
	}
	return "LINKTYPE_" + strconv.Itoa(int(d.Link))
}

// ProtocolOf returns the packet's Protocol column: its application
// layer's name ("DNS", "HTTP", "TLSv1.2") when p.App found one, else
// Protocol(p.Decoded).
func ProtocolOf(p *Packet) string {
	if p.App != nil {
		if n := p.App.protocol(); n != "" {
			return n
		}
	}
	return Protocol(p.Decoded)
}

// AppendProtocolOf appends ProtocolOf(p).
func AppendProtocolOf(b []byte, p *Packet) []byte {
	if p.App != nil {
		if n := p.App.protocol(); n != "" {
			return append(b, n...)
		}
	}
	return AppendProtocol(b, p.Decoded)
}

// AppendProtocol appends Protocol(d).
func AppendProtocol(b []byte, d *decode.Packet) []byte {
	if n := protocolName(d); n != "" {
		return append(b, n...)
	}
	return strconv.AppendUint(append(b, "LINKTYPE_"...), uint64(d.Link), 10)
}

// protocolName is Protocol's name, or "" for an undecoded link.
func protocolName(d *decode.Packet) string {
	switch {
	case d.Layer >= decode.LayerNetwork && d.Has(decode.Fragment):
		return ipName(d) // a piece of a datagram
	case d.Layer == decode.LayerTransport && d.Proto.Transport():
		return d.Proto.String()
	case d.Layer >= decode.LayerNetwork:
		// A transport header decode did not reach (cut) is named by the
		// IP version, as tshark does; other protocols by their name.
		if n := d.Proto.Name(); n != "" && !d.Proto.Transport() {
			return n
		}
		return ipName(d)
	case d.Layer == decode.LayerLink:
		return d.EtherType.String()
	}
	return ""
}

func ipName(d *decode.Packet) string {
	if d.IPVersion == 6 {
		return "IPv6"
	}
	return "IPv4"
}

// AppendSeconds appends ns as seconds with digits (1 to 9) fractional
// digits, truncated, not rounded ("1700000000.123456", "-0.000001"):
// exact for any int64, unlike a float.
func AppendSeconds(b []byte, ns int64, digits int) []byte {
	u := uint64(ns)
	if ns < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/1e9, 10)
	b = append(b, '.')
	start := len(b)
	b = strconv.AppendUint(b, u%1e9, 10)
	b = padLeft(b, start, 9, '0')
	return b[:start+max(1, min(digits, 9))]
}

// padLeft right-aligns b[start:] in a field of width bytes, filling with
// pad on the left; a longer field is left as it is.
func padLeft(b []byte, start, width int, pad byte) []byte {
	n := len(b) - start
	if n >= width {
		return b
	}
	for i := n; i < width; i++ {
		b = append(b, pad)
	}
	copy(b[start+width-n:], b[start:start+n])
	for i := start; i < start+width-n; i++ {
		b[i] = pad
	}
	return b
}
