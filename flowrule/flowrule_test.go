package flowrule

import (
	"testing"

	"github.com/netblame/netblame/decode"
)

func TestSourceIsClient(t *testing.T) {
	const syn, ack = decode.TCPSyn, decode.TCPAck
	for _, c := range []struct {
		name         string
		proto        decode.IPProto
		flags        decode.TCPFlags
		sport, dport uint16
		want         bool
	}{
		{"SYN from a high port", decode.ProtoTCP, syn, 40000, 80, true},
		{"SYN from a low port", decode.ProtoTCP, syn, 80, 40000, true},
		{"SYN-ACK", decode.ProtoTCP, syn | ack, 40000, 5201, false},
		{"server data mid-stream", decode.ProtoTCP, ack, 443, 51000, false},
		{"client data mid-stream", decode.ProtoTCP, ack, 51000, 443, true},
		{"both high, from the lower port", decode.ProtoTCP, ack, 5201, 40000, false},
		{"both high, from the higher port", decode.ProtoTCP, ack, 40000, 5201, true},
		{"both low", decode.ProtoTCP, ack, 22, 513, false},
		{"equal ports", decode.ProtoTCP, ack, 7000, 7000, true},
		{"DNS answer", decode.ProtoUDP, 0, 53, 40000, false},
		{"DNS query", decode.ProtoUDP, 0, 40000, 53, true},
		{"UDP both high, first datagram", decode.ProtoUDP, 0, 5004, 40000, true},
	} {
		p := decode.Packet{Proto: c.proto, TCPFlags: c.flags, SrcPort: c.sport, DstPort: c.dport}
		if got := SourceIsClient(&p); got != c.want {
			t.Errorf("%s: SourceIsClient = %v, want %v", c.name, got, c.want)
		}
	}
}

// The mid-stream rule names one client whichever direction's packet came
// first: what two captures of one connection need.
func TestSourceIsClientSymmetric(t *testing.T) {
	for _, ports := range [][2]uint16{{443, 51000}, {5201, 40000}, {22, 513}, {8080, 8443}} {
		a := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPAck, SrcPort: ports[0], DstPort: ports[1]}
		b := decode.Packet{Proto: decode.ProtoTCP, TCPFlags: decode.TCPAck, SrcPort: ports[1], DstPort: ports[0]}
		if SourceIsClient(&a) == SourceIsClient(&b) {
			t.Errorf("ports %v: the two directions name different clients", ports)
		}
	}
}
