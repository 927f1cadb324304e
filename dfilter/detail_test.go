package dfilter_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/internal/pkttest"
)

// TestDetail: the tree holds a heading for each layer the packet has, in
// the packet's order, and under it each field as Columns spells it; pair
// fields stay out; appending allocates nothing.
func TestDetail(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("192.0.2.80:80")
	syn := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 100, Flags: pkttest.SYN, Win: 64240, Opts: pkttest.Pad4(pkttest.OptMSS(1460))}, nil)
	dns := pkttest.UDPFrame(netip.MustParseAddrPort("10.1.2.3:5000"), netip.MustParseAddrPort("10.1.2.53:53"),
		[]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1})
	get := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 101, Ack: 1, Flags: pkttest.ACK | pkttest.PSH, Win: 502}, []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"))
	pkts := packets(t, syn, dns, get)
	var conv dfilter.Conversations
	for i := range pkts {
		conv.See(&pkts[i])
	}
	tree := dfilter.NewDetail()
	wantLayers := [][]string{
		{"Frame 1: ", "Ethernet II", "Internet Protocol Version 4", "Transmission Control Protocol"},
		{"Frame 2: ", "Ethernet II", "Internet Protocol Version 4", "User Datagram Protocol", "Domain Name System"},
		{"Frame 3: ", "Ethernet II", "Internet Protocol Version 4", "Transmission Control Protocol", "Hypertext Transfer Protocol"},
	}
	for i := range pkts {
		out := string(tree.Append(nil, &pkts[i]))
		var layers []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			name, value, isField := strings.Cut(strings.TrimPrefix(line, "    "), ": ")
			if !strings.HasPrefix(line, "    ") {
				layers = append(layers, line)
				continue
			}
			if !isField {
				t.Errorf("frame %d: line %q is not name: value", i+1, line)
				continue
			}
			if name == "ip.addr" || name == "tcp.port" || name == "udp.port" {
				t.Errorf("frame %d: pair field %s in the tree", i+1, name)
			}
			c, err := dfilter.NewColumns([]string{name})
			if err != nil {
				t.Errorf("frame %d: %s: %v", i+1, name, err)
				continue
			}
			if all := string(c.Append(nil, &pkts[i], 0, 0, '\x00')); !strings.Contains("\x00"+all+"\x00", "\x00"+value+"\x00") {
				t.Errorf("frame %d: %s: %s, -e prints %q", i+1, name, value, all)
			}
		}
		if len(layers) != len(wantLayers[i]) {
			t.Errorf("frame %d: layers %q, want %q", i+1, layers, wantLayers[i])
			continue
		}
		for j, w := range wantLayers[i] {
			if !strings.HasPrefix(layers[j], w) {
				t.Errorf("frame %d: layer %d %q, want %q", i+1, j, layers[j], w)
			}
		}
	}
	if out := string(tree.Append(nil, &pkts[2])); !strings.Contains(out, "\n    http.request.uri: /x\n") || !strings.Contains(out, "\n    tcp.seq: 1\n") {
		t.Errorf("frame 3's tree lacks its URI or relative seq:\n%s", out)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(200, func() {
		for i := range pkts {
			pkts[i].Reset()
			conv.See(&pkts[i])
			buf = tree.Append(buf[:0], &pkts[i])
		}
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// BenchmarkDetail is the cost of one packet's tree.
func BenchmarkDetail(b *testing.B) {
	cl, sv := netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("192.0.2.80:80")
	pkts := packets(b, pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 101, Ack: 1, Flags: pkttest.ACK | pkttest.PSH, Win: 502}, []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")))
	tree := dfilter.NewDetail()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		pkts[0].Reset()
		buf = tree.Append(buf[:0], &pkts[0])
	}
}
