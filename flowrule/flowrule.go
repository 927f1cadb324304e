// Package flowrule holds the rule that names the client of a flow from
// the first packet seen of it. The flow table and two-capture correlation
// both follow it, so they name the same client for the same connection,
// whichever of its packets each capture happened to see first.
package flowrule

import "github.com/netblame/netblame/decode"

// SourceIsClient reports whether the sender of p, the first packet seen
// of a flow, is the flow's client:
//   - a TCP SYN without ACK comes from the client, a SYN-ACK from the
//     server;
//   - otherwise a port below 1024 facing one at or above it is the
//     server's (a well-known service answering);
//   - otherwise, mid-stream TCP: the higher port is the client's, as
//     clients send from ephemeral ports (Linux 32768-60999, Windows
//     49152-65535) above the services they reach; both points of a
//     two-point capture then agree without seeing the handshake;
//   - otherwise (UDP and other protocols with both ports on one side of
//     1024): the sender, whose first datagram is usually the request.
func SourceIsClient(p *decode.Packet) bool {
	tcp := p.Proto == decode.ProtoTCP
	if tcp {
		switch p.TCPFlags & (decode.TCPSyn | decode.TCPAck) {
		case decode.TCPSyn:
			return true
		case decode.TCPSyn | decode.TCPAck:
			return false
		}
	}
	switch src, dst := p.SrcPort, p.DstPort; {
	case src < 1024 && dst >= 1024:
		return false
	case dst < 1024 && src >= 1024:
		return true
	case tcp && src != dst:
		return src > dst
	}
	return true
}

// A connection's port reuse is told, as Wireshark tells it, from sequence
// numbers: each direction has a base, set at its first packet (Base) or,
// before that, from the other direction's acknowledgement (AckBase), and a
// SYN that does not repeat its direction's base opens a new connection on
// the same addresses and ports (Reuses).

// Base is the sequence base a direction gets from its first packet p: its
// ISN for a SYN, else one before p's sequence number.
func Base(p *decode.Packet) uint32 {
	if p.TCPFlags&decode.TCPSyn != 0 {
		return p.Seq
	}
	return p.Seq - 1
}

// AckBase is the base p's acknowledgement gives the other direction when
// that direction has none yet; ok is false when p acknowledges nothing.
func AckBase(p *decode.Packet) (base uint32, ok bool) {
	if p.TCPFlags&decode.TCPAck == 0 {
		return 0, false
	}
	return p.Ack - 1, true
}

// Reuses reports whether p, sent on the addresses and ports of a known
// connection, opens a new connection on them: a SYN without ACK whose
// sequence number is not the base of its sender's direction (senderBase,
// when set). A SYN repeating the base is a retransmission of the known
// connection's.
func Reuses(p *decode.Packet, senderBase uint32, set bool) bool {
	return p.Proto == decode.ProtoTCP && p.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn &&
		set && p.Seq != senderBase
}
