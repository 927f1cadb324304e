package summary

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/tsharktest"
	"github.com/netblame/netblame/linktype"
)

// dnsName encodes a dotted name as DNS labels.
func dnsName(s string) []byte {
	var b []byte
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			b = append(b, byte(i-start))
			b = append(b, s[start:i]...)
			start = i + 1
		}
	}
	return append(b, 0)
}

// dnsMsg builds a message: header, one question for example.com, then
// the records given (already encoded).
func dnsMsg(id, flags uint16, qtype uint16, an, ns, ar uint16, records ...[]byte) []byte {
	m := pkttest.Cat(pkttest.BE16(id), pkttest.BE16(flags), pkttest.BE16(1), pkttest.BE16(an), pkttest.BE16(ns), pkttest.BE16(ar),
		dnsName("example.com"), pkttest.BE16(qtype), pkttest.BE16(1))
	for _, r := range records {
		m = append(m, r...)
	}
	return m
}

// rr is a record owned by the question's name (a pointer to offset 12).
func rr(typ uint16, data []byte) []byte {
	return pkttest.Cat([]byte{0xc0, 12}, pkttest.BE16(typ), pkttest.BE16(1), pkttest.BE32(300), pkttest.BE16(uint16(len(data))), data)
}

// ptrTo is a name: labels, then a pointer to the question's name.
func ptrTo(label string) []byte { return append(append([]byte{byte(len(label))}, label...), 0xc0, 12) }

// tlsClientHello is a minimal ClientHello record (one cipher suite, the
// server name extension) with the given record version.
func tlsClientHello(recVersion uint16, sni string) []byte {
	name := pkttest.Cat([]byte{0}, pkttest.BE16(uint16(len(sni))), []byte(sni))
	ext := pkttest.Cat(pkttest.BE16(0), pkttest.BE16(uint16(len(name)+2)), pkttest.BE16(uint16(len(name))), name)
	body := pkttest.Cat(pkttest.BE16(0x0303), make([]byte, 32), []byte{0}, pkttest.BE16(2), pkttest.BE16(0x002f), []byte{1, 0},
		pkttest.BE16(uint16(len(ext))), ext)
	hs := pkttest.Cat([]byte{1, 0}, pkttest.BE16(uint16(len(body))), body)
	return pkttest.Cat([]byte{22}, pkttest.BE16(recVersion), pkttest.BE16(uint16(len(hs))), hs)
}

// appFrames are packets of each application layer App words, with the
// layer Parse must find.
func appFrames() []struct {
	frame []byte
	kind  AppKind
} {
	c := netip.MustParseAddrPort("10.0.0.1:41000")
	dnsSrv := netip.MustParseAddrPort("10.0.0.53:53")
	web := netip.MustParseAddrPort("10.0.0.80:80")
	tlsSrv := netip.MustParseAddrPort("10.0.0.44:443")
	soa := pkttest.Cat(ptrTo("ns1"), ptrTo("hostmaster"), pkttest.BE32(1), pkttest.BE32(2), pkttest.BE32(3), pkttest.BE32(4), pkttest.BE32(5))
	opt := pkttest.Cat([]byte{0}, pkttest.BE16(41), pkttest.BE16(1232), pkttest.BE32(0), pkttest.BE16(0))
	get := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n")
	ok := []byte("HTTP/1.1 404 Not Found\r\nServer: t\r\n\r\n")
	return []struct {
		frame []byte
		kind  AppKind
	}{
		{pkttest.UDPFrame(c, dnsSrv, dnsMsg(0x1a2b, 0x0100, 1, 0, 0, 1, opt)), AppDNS},
		{pkttest.UDPFrame(dnsSrv, c, dnsMsg(0x1a2b, 0x8180, 1, 2, 0, 0,
			rr(5, ptrTo("www")), rr(1, []byte{192, 0, 2, 1}))), AppDNS},
		{pkttest.UDPFrame(dnsSrv, c, dnsMsg(0x1a2c, 0x8183, 28, 0, 1, 0, rr(6, soa))), AppDNS},
		{pkttest.UDPFrame(dnsSrv, c, dnsMsg(0x1a2d, 0x8180, 15, 1, 1, 0,
			rr(15, pkttest.Cat(pkttest.BE16(10), ptrTo("mail"))), rr(2, ptrTo("ns1")))), AppDNS},
		{pkttest.UDPFrame(dnsSrv, c, dnsMsg(0x1a2e, 0x8180, 28, 1, 0, 0,
			rr(28, netip.MustParseAddr("2001:db8::1").AsSlice()))), AppDNS},
		{pkttest.TCPFrame(c, web, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512}, get), AppHTTP},
		{pkttest.TCPFrame(web, c, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512}, ok), AppHTTP},
		{pkttest.TCPFrame(c, tlsSrv, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512}, tlsClientHello(0x0301, "example.com")), AppTLS},
		{pkttest.TCPFrame(netip.MustParseAddrPort("10.0.0.1:41001"), tlsSrv, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512}, tlsClientHello(0x0303, "example.org")), AppTLS},
		// DNS over TCP: each message after its 2-byte length.
		{pkttest.TCPFrame(netip.MustParseAddrPort("10.0.0.1:41002"), dnsSrv, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.PSH | pkttest.ACK, Win: 512},
			withLength(dnsMsg(0x2a2b, 0x0100, 28, 0, 0, 0))), AppDNS},
		{pkttest.TCPFrame(dnsSrv, netip.MustParseAddrPort("10.0.0.1:41002"), pkttest.TCP{Seq: 1, Ack: 1 + 31, Flags: pkttest.PSH | pkttest.ACK, Win: 512},
			withLength(dnsMsg(0x2a2b, 0x8180, 28, 1, 0, 0, rr(28, netip.MustParseAddr("2001:db8::53").AsSlice())))), AppDNS},
		// Not an application layer App words: a DNS port with a short
		// message, TLS application data, a payload that is not HTTP.
		{pkttest.UDPFrame(c, dnsSrv, []byte{1, 2, 3}), AppNone},
		{pkttest.TCPFrame(c, tlsSrv, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.ACK, Win: 512}, []byte{23, 3, 3, 0, 2, 1, 2}), AppNone},
		{pkttest.TCPFrame(c, web, pkttest.TCP{Seq: 1, Ack: 1, Flags: pkttest.ACK, Win: 512}, []byte("hello\r\n")), AppNone},
	}
}

// withLength prefixes a DNS message with its length, as DNS over TCP
// sends it.
func withLength(m []byte) []byte { return pkttest.Cat(pkttest.BE16(uint16(len(m))), m) }

// payloadOf is the bytes after d's transport header.
func payloadOf(d *decode.Packet, frame []byte) []byte {
	return frame[d.PayloadOffset : d.PayloadOffset+d.CapPayloadLen]
}

// TestAppInfoMatchesTshark writes the frames of appFrames into a capture
// and compares, for each frame where App finds its layer, Protocol and
// Info with tshark's _ws.col.Protocol and _ws.col.Info; App must find
// the layer named, and none in the others.
func TestAppInfoMatchesTshark(t *testing.T) {
	tsharktest.Need40(t)
	frames := appFrames()
	recs := make([]pkttest.Record, len(frames))
	for i, f := range frames {
		recs[i] = pkttest.Record{TS: 1_700_000_000_000_000_000 + int64(i)*1e8, Data: f.frame}
	}
	path := pkttest.WriteFile(t, "app.pcap", pkttest.Pcap(1, recs...))
	want := tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"_ws.col.Protocol", "_ws.col.Info"},
		Prefs: []string{"tcp.desegment_tcp_streams:FALSE"}})
	if len(want) != len(frames) {
		t.Fatalf("tshark read %d frames, wrote %d", len(want), len(frames))
	}
	var d decode.Packet
	var app App
	for i, f := range frames {
		if err := d.Decode(f.frame, linktype.Ethernet); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		if got := app.Parse(&d, payloadOf(&d, f.frame)); got != f.kind {
			t.Errorf("frame %d: Parse found %d, want %d", i+1, got, f.kind)
			continue
		}
		if f.kind == AppNone {
			continue
		}
		p := &Packet{Decoded: &d, App: &app}
		proto, info := ProtocolOf(p), string(AppendInfo(nil, p))
		if proto != want[i][0] || info != want[i][1] {
			t.Errorf("frame %d:\n netblame %s %q\n tshark   %s %q", i+1, proto, info, want[i][0], want[i][1])
		}
	}
}

// TestAppInfoTags: a TCP segment keeps its analysis tags in front of the
// application layer's Info, as tshark shows "[TCP Retransmission] GET ...".
func TestAppInfoTags(t *testing.T) {
	f := appFrames()[5].frame
	var d decode.Packet
	if err := d.Decode(f, linktype.Ethernet); err != nil {
		t.Fatal(err)
	}
	var app App
	app.Parse(&d, payloadOf(&d, f))
	p := &Packet{Decoded: &d, App: &app, Result: analysed(1, 1, 512, flowtable.Retransmission)}
	if got, want := string(AppendInfo(nil, p)), "[TCP Retransmission] GET /index.html HTTP/1.1 "; got != want {
		t.Errorf("Info %q, want %q", got, want)
	}
}

// TestAppAllocs: parsing every application layer into a reused App and
// wording its line allocates nothing.
func TestAppAllocs(t *testing.T) {
	frames := appFrames()
	decs := make([]decode.Packet, len(frames))
	for i, f := range frames {
		if err := decs[i].Decode(f.frame, linktype.Ethernet); err != nil {
			t.Fatal(err)
		}
	}
	var app App
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		for i, f := range frames {
			app.Parse(&decs[i], payloadOf(&decs[i], f.frame))
			p := Packet{Frame: uint64(i + 1), Decoded: &decs[i], App: &app}
			buf = AppendLine(buf[:0], &p)
			buf = AppendProtocolOf(buf[:0], &p)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations for %d packets, want 0", allocs, len(frames))
	}
}

// BenchmarkAppLine is the cost of parsing a DNS response and wording its
// line.
func BenchmarkAppLine(b *testing.B) {
	f := appFrames()[1].frame
	var d decode.Packet
	if err := d.Decode(f, linktype.Ethernet); err != nil {
		b.Fatal(err)
	}
	var app App
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		app.Parse(&d, payloadOf(&d, f))
		p := Packet{Frame: 1, Decoded: &d, App: &app}
		buf = AppendLine(buf[:0], &p)
	}
}
