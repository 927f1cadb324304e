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
