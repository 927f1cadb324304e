package dfilter_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/internal/pkttest"
)

// TestColumns: values spelled as tshark spells them (hexadecimal fields,
// nine-decimal times, flags, occurrences), conversations numbered per
// protocol, and no allocation when appending.
func TestColumns(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("192.0.2.80:443")
	syn := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 100, Flags: pkttest.SYN, Win: 64240, Opts: pkttest.Pad4(pkttest.OptMSS(1460))}, nil)
	dns := pkttest.UDPFrame(netip.MustParseAddrPort("10.1.2.3:5000"), netip.MustParseAddrPort("10.1.2.53:53"),
		[]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1})
	data := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 101, Ack: 1, Flags: pkttest.ACK | pkttest.PSH, Win: 502}, []byte("GET / HTTP/1.1\r\n\r\n"))
	pkts := packets(t, syn, dns, data)
	var conv dfilter.Conversations
	for i := range pkts {
		conv.See(&pkts[i])
	}
	names := []string{"frame.number", "frame.time_relative", "ip.addr", "tcp.flags", "tcp.flags.syn", "tcp.stream", "udp.stream",
		"tcp.time_delta", "dns.id", "dns.qry.name", "tcp.options.mss_val", "http.request.uri"}
	c, err := dfilter.NewColumns(names)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1|0.000000000|10.1.2.3,192.0.2.80|0x0002|1|0||0.000000000|||1460|",
		"2|0.001000000|10.1.2.3,10.1.2.53||||0||0x1234|www.example.com||",
		"3|0.002000000|10.1.2.3,192.0.2.80|0x0018|0|0||0.002000000||||/",
	}
	for i := range pkts {
		var cells []string
		for j := range c.Len() {
			cells = append(cells, string(c.Append(nil, &pkts[i], j, 0, ',')))
		}
		// The UDP flow is the table's flow 1 but udp.stream 0.
		if got := strings.Join(cells, "|"); got != want[i] {
			t.Errorf("frame %d:\n got %s\nwant %s", i+1, got, want[i])
		}
	}
	if got := string(c.Append(nil, &pkts[0], 2, -1, ',')); got != "192.0.2.80" {
		t.Errorf("last occurrence of ip.addr: %q", got)
	}
	if got := string(c.Append(nil, &pkts[0], 2, 1, ',')); got != "10.1.2.3" {
		t.Errorf("first occurrence of ip.addr: %q", got)
	}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(200, func() {
		for i := range pkts {
			pkts[i].Reset()
			conv.See(&pkts[i])
			for j := range c.Len() {
				buf = c.Append(buf[:0], &pkts[i], j, 0, ',')
			}
		}
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
	for _, bad := range []string{"tcp", "tcp.prot"} {
		if _, err := dfilter.NewColumns([]string{bad}); err == nil {
			t.Errorf("-e %s: no error", bad)
		}
	}
}

// NeedsConversations must name every filter and column list that reads a
// field Conversations.See sets, or analyze would print the flow table's
// index for tcp.stream instead of tshark's number.
func TestNeedsConversations(t *testing.T) {
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"tcp.stream == 3", true},
		{"tcp.port == 80 and udp.stream in {1 2}", true},
		{"not tcp.time_relative > 1", true},
		{"tcp.time_delta", true},
		{"tcp.srcport == tcp.stream", true},
		{"tcp.analysis.retransmission", false},
		{"ip.src == 10.0.0.0/8 or frame.time_relative > 2", false},
	} {
		f, err := dfilter.Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.NeedsConversations(); got != c.want {
			t.Errorf("Compile(%q).NeedsConversations() = %v, want %v", c.expr, got, c.want)
		}
	}
	for _, c := range []struct {
		names []string
		want  bool
	}{
		{[]string{"frame.number", "tcp.stream"}, true},
		{[]string{"udp.stream"}, true},
		{[]string{"tcp.time_delta", "ip.src"}, true},
		{[]string{"frame.number", "ip.src", "tcp.srcport", "frame.time_delta"}, false},
	} {
		cols, err := dfilter.NewColumns(c.names)
		if err != nil {
			t.Fatal(err)
		}
		if got := cols.NeedsConversations(); got != c.want {
			t.Errorf("NewColumns(%q).NeedsConversations() = %v, want %v", c.names, got, c.want)
		}
	}
}
