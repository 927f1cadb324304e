package summary

import (
	"strconv"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// AppendInfo appends the Info column: what the packet is, in tshark's
// words for TCP (with the flow table's analysis tags and relative
// numbers), DNS, HTTP and TLS (p.App), UDP, ICMP and ICMPv6, IP fragments that did not complete a
// datagram, other IP protocols and EtherTypes, followed by the decode
// error, if any, in brackets.
func AppendInfo(b []byte, p *Packet) []byte {
	d, start := p.Decoded, len(b)
	switch {
	case d.Layer >= decode.LayerNetwork && d.Has(decode.Fragment):
		// Decode's complaint about a transport header the fragment cuts
		// is no news: tshark words only the fragment.
		return appendFragmentInfo(b, d)
	case p.App != nil && p.App.Kind != AppNone:
		// The application layer replaces the transport's words; a TCP
		// segment keeps its analysis tags in front, as in tshark.
		if r := p.Result; d.IsTCP() && r != nil && r.Tracked && r.Analyzed {
			b = appendEventTags(b, r.Events)
		}
		b = p.App.appendInfo(b)
	case d.IsTCP():
		b = appendTCPInfo(b, d, p.Result)
	case d.IsUDP():
		b = appendPorts(b, d)
		b = append(b, " Len="...)
		b = strconv.AppendInt(b, int64(d.PayloadLen), 10)
	case d.Layer == decode.LayerTransport && (d.Proto == decode.ProtoICMP || d.Proto == decode.ProtoICMPv6):
		b = appendICMPInfo(b, d)
	case d.Layer >= decode.LayerNetwork:
		b = append(b, "IP protocol "...)
		b = strconv.AppendUint(b, uint64(d.Proto), 10)
	case d.Layer == decode.LayerLink && d.EtherType != 0:
		b = append(b, "EtherType 0x"...)
		b = appendHex(b, uint64(d.EtherType), 4)
	}
	if p.DecodeErr != nil {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, '[')
		b = append(b, p.DecodeErr.Error()...)
		b = append(b, ']')
	}
	return b
}

func appendPorts(b []byte, d *decode.Packet) []byte {
	b = strconv.AppendUint(b, uint64(d.SrcPort), 10)
	b = append(b, " → "...)
	return strconv.AppendUint(b, uint64(d.DstPort), 10)
}

// appendFragmentInfo appends the Info of a fragment that did not complete
// its datagram: "Fragmented IP protocol (proto=TCP 6, off=0, ID=0001)", or
// for IPv6 "IPv6 fragment (off=0 more=y ident=0xa5d33a2d nxt=6)".
func appendFragmentInfo(b []byte, d *decode.Packet) []byte {
	if d.IPVersion == 6 {
		b = append(b, "IPv6 fragment (off="...)
		b = strconv.AppendUint(b, uint64(d.FragOffset), 10)
		b = append(b, " more="...)
		if d.Has(decode.MoreFragments) {
			b = append(b, 'y')
		} else {
			b = append(b, 'n')
		}
		b = append(b, " ident=0x"...)
		b = appendHex(b, uint64(d.IPID), 8)
		b = append(b, " nxt="...)
		b = strconv.AppendUint(b, uint64(d.Proto), 10)
		return append(b, ')')
	}
	b = append(b, "Fragmented IP protocol (proto="...)
	if name := d.Proto.Name(); name != "" {
		b = append(append(b, name...), ' ')
	}
	b = strconv.AppendUint(b, uint64(d.Proto), 10)
	b = append(b, ", off="...)
	b = strconv.AppendUint(b, uint64(d.FragOffset), 10)
	b = append(b, ", ID="...)
	b = appendHex(b, uint64(d.IPID), 4)
	return append(b, ')')
}

// appendTCPInfo appends "[TCP Retransmission] 46656 → 80 [SYN, ACK] Seq=0
// Ack=1 Win=8192 Len=0 MSS=1440 WS=256 SACK_PERM TSval=... TSecr=...".
// Seq and Ack are relative and Win scaled once the flow table has analysed
// the segment (raw otherwise, e.g. for fragments); options are listed in a
// fixed order, not in header order as tshark does.
func appendTCPInfo(b []byte, d *decode.Packet, r *flowtable.PacketResult) []byte {
	seq, ack, win := d.Seq, d.Ack, int64(d.Window)
	var sackBase uint32 // SACK edges are shown relative, like Ack
	if r != nil && r.Tracked && r.Analyzed {
		seq, ack = r.RelSeq, r.RelAck
		if d.TCPFlags&decode.TCPAck != 0 {
			sackBase = d.Ack - r.RelAck
		}
		if r.Window >= 0 {
			win = r.Window
		}
		b = appendEventTags(b, r.Events)
	}
	b = appendPorts(b, d)
	b = append(b, " ["...)
	b, _ = d.TCPFlags.AppendText(b)
	b = append(b, "] Seq="...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	if d.TCPFlags&decode.TCPAck != 0 {
		b = append(b, " Ack="...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, " Win="...)
	b = strconv.AppendInt(b, win, 10)
	if d.TCPFlags&decode.TCPUrg != 0 {
		b = append(b, " Urg="...)
		b = strconv.AppendUint(b, uint64(d.Urgent), 10)
	}
	b = append(b, " Len="...)
	b = strconv.AppendInt(b, int64(d.PayloadLen), 10)
	return appendTCPOptions(b, d, sackBase)
}

// appendTCPOptions appends the options tshark shows in Info.
func appendTCPOptions(b []byte, d *decode.Packet, sackBase uint32) []byte {
	if d.Has(decode.HasMSS) {
		b = append(b, " MSS="...)
		b = strconv.AppendUint(b, uint64(d.MSS), 10)
	}
	if d.Has(decode.HasWScale) {
		b = append(b, " WS="...)
		b = strconv.AppendUint(b, 1<<min(d.WScale, 14), 10) // RFC 7323: larger shifts count as 14
	}
	if d.Has(decode.HasSACKPerm) {
		b = append(b, " SACK_PERM"...)
	}
	if d.Has(decode.HasTimestamps) {
		b = append(b, " TSval="...)
		b = strconv.AppendUint(b, uint64(d.TSVal), 10)
		b = append(b, " TSecr="...)
		b = strconv.AppendUint(b, uint64(d.TSEcr), 10)
	}
	for i := 0; i < int(d.SACKCount) && i < decode.MaxSACKBlocks; i++ {
		b = append(b, " SLE="...)
		b = strconv.AppendUint(b, uint64(d.SACK[i].Left-sackBase), 10)
		b = append(b, " SRE="...)
		b = strconv.AppendUint(b, uint64(d.SACK[i].Right-sackBase), 10)
	}
	return b
}

// appendEventTags appends the tshark Info tag of each event the segment
// raised, "[TCP Retransmission] " and the like, in the events' order.
func appendEventTags(b []byte, s flowtable.EventSet) []byte {
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		if tag := e.InfoTag(); s.Has(e) && tag != "" {
			b = append(b, '[')
			b = append(b, tag...)
			b = append(b, "] "...)
		}
	}
	return b
}

// appendICMPInfo appends "Echo (ping) request (type=8, code=0)"; a type
// without a name here shows only the numbers.
func appendICMPInfo(b []byte, d *decode.Packet) []byte {
	if n := decode.ICMPTypeName(d.Proto, d.ICMPType); n != "" {
		b = append(b, n...)
		b = append(b, ' ')
	}
	b = append(b, "(type="...)
	b = strconv.AppendUint(b, uint64(d.ICMPType), 10)
	b = append(b, ", code="...)
	b = strconv.AppendUint(b, uint64(d.ICMPCode), 10)
	return append(b, ')')
}

// appendHex appends v in lower-case hex, zero-padded to width digits.
func appendHex(b []byte, v uint64, width int) []byte {
	start := len(b)
	return padLeft(strconv.AppendUint(b, v, 16), start, width, '0')
}
