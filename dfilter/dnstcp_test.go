package dfilter_test

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestDNSOverTCPFields: DNS over TCP (each message after its 2-byte
// length, as no shared capture holds it) gives the dns.* fields tshark's
// -T fields -e gives for the same frames.
func TestDNSOverTCPFields(t *testing.T) {
	tsharktest.Need40(t)
	cl, sv := netip.MustParseAddrPort("10.1.2.3:41000"), netip.MustParseAddrPort("10.1.2.53:53")
	name := []byte{3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}
	query := pkttest.Cat([]byte{0x2a, 0x2b, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, name, []byte{0, 1, 0, 1})
	answer := pkttest.Cat([]byte{0x2a, 0x2b, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0}, name, []byte{0, 1, 0, 1},
		[]byte{0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0, 0, 6, 3, 'w', 'e', 'b', 0xc0, 16}, // CNAME web.example.com
		[]byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 192, 0, 2, 7})
	withLen := func(m []byte) []byte { return pkttest.Cat(pkttest.BE16(uint16(len(m))), m) }
	frames := [][]byte{
		pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512}, withLen(query)),
		pkttest.TCPFrame(sv, cl, pkttest.TCP{Seq: 1, Ack: 1 + uint32(len(query)+2), Flags: pkttest.PSH | pkttest.ACK, Win: 512}, withLen(answer)),
	}
	fields := []string{"dns.id", "dns.flags", "dns.qry.name", "dns.qry.type", "dns.flags.response", "dns.flags.rcode", "dns.resp.name", "dns.a"}
	path := pkttest.WriteFile(t, "dnstcp.pcap", pkttest.Pcap(1, pkttest.Frames(1e18, frames...)...))
	want := tsharktest.MustFields(t, path, tsharktest.Query{Fields: fields, All: true, Prefs: []string{"tcp.desegment_tcp_streams:FALSE"}})
	c, err := dfilter.NewColumns(fields)
	if err != nil {
		t.Fatal(err)
	}
	pkts := packets(t, frames...)
	if len(want) != len(pkts) {
		t.Fatalf("tshark %d rows, netblame %d packets", len(want), len(pkts))
	}
	agree := 0
	for i := range pkts {
		for j, f := range fields {
			got := string(c.Append(nil, &pkts[i], j, 0, ','))
			if got != want[i][j] {
				t.Errorf("frame %d %s: %q, tshark %q", i+1, f, got, want[i][j])
			} else if got != "" {
				agree++
			}
		}
	}
	t.Logf("%d DNS-over-TCP values agree with tshark", agree)
	if agree == 0 {
		t.Error("no value compared")
	}
}
