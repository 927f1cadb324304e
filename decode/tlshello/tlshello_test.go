package tlshello_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/decode/tlshello"
	"github.com/netblame/netblame/internal/payloadtest"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// clientHello returns the ClientHello record Go's crypto/tls sends for
// cfg: a real one, as browsers' and tools' look.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		c := tls.Client(a, cfg)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_ = c.Handshake() // fails when b closes; only its first write matters
	}()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16384)
	hdr := buf[:5]
	if _, err := readFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if _, err := readFull(b, buf[5:5+n]); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return buf[:5+n]
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestClientHello(t *testing.T) {
	rec := clientHello(t, &tls.Config{ServerName: "www.example.org", NextProtos: []string{"h2", "http/1.1"}})
	var h tlshello.Hello
	if err := h.Parse(rec); err != nil {
		t.Fatal(err)
	}
	if h.Type != tlshello.TypeClientHello || string(h.ServerName) != "www.example.org" || h.NALPN != 2 ||
		string(h.ALPN[0]) != "h2" || string(h.ALPN[1]) != "http/1.1" || h.Partial || h.Version != 0x0303 {
		t.Errorf("parsed %+v", h)
	}
	// The first 200 bytes, as a segment of a hello that spans two: no
	// error, Partial, and what the cut left out is not invented.
	if err := h.Parse(rec[:200]); err != nil || !h.Partial || h.Type != tlshello.TypeClientHello {
		t.Errorf("cut hello: %v, %+v", err, h)
	}
	// A length that contradicts the record's own, within the bytes given.
	bad := append([]byte(nil), rec...)
	bad[5+4+2+32] = 200 // session id length past the message
	if err := h.Parse(bad); !errors.Is(err, tlshello.ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
	if err := h.Parse([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); !errors.Is(err, tlshello.ErrNotHandshake) {
		t.Errorf("HTTP: %v", err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = h.Parse(rec); _ = h.Parse(bad) }); n != 0 {
		t.Errorf("%v allocations per parse", n)
	}
}

func BenchmarkParse(b *testing.B) {
	rec := clientHello(b, &tls.Config{ServerName: "www.example.org", NextProtos: []string{"h2", "http/1.1"}})
	var h tlshello.Hello
	b.ReportAllocs()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		_ = h.Parse(rec)
	}
}

func FuzzParse(f *testing.F) {
	rec := clientHello(f, &tls.Config{ServerName: "a.example", NextProtos: []string{"h2"}})
	f.Add(rec)
	f.Add(rec[:100])
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h tlshello.Hello
		_ = h.Parse(b)
		if h.NALPN > tlshello.MaxALPN || len(h.ServerName) > len(b) {
			t.Fatalf("parsed %+v from %d bytes", h, len(b))
		}
	})
}

// TestTshark: on a capture of real ClientHellos (Go's crypto/tls, with and
// without SNI and ALPN, IPv4 and IPv6) and on the shared captures, every
// segment holding a whole ClientHello gives tshark's handshake type,
// server name and ALPN protocols.
func TestTshark(t *testing.T) {
	tsharktest.Path(t)
	cfgs := []*tls.Config{
		{ServerName: "www.example.org", NextProtos: []string{"h2", "http/1.1"}},
		{ServerName: "api.internal.example.com"},
		{InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}}, // no SNI
	}
	var frames [][]byte
	for i, cfg := range cfgs {
		for _, v6 := range []bool{false, true} {
			cl, sv := "10.0.0.1", "10.0.0.2"
			if v6 {
				cl, sv = "2001:db8::1", "2001:db8::2"
			}
			src := netip.AddrPortFrom(netip.MustParseAddr(cl), uint16(40000+i))
			dst := netip.AddrPortFrom(netip.MustParseAddr(sv), 443)
			frames = append(frames,
				pkttest.TCPFrame(src, dst, pkttest.TCP{Seq: 100, Flags: pkttest.SYN, Win: 65535}, nil),
				pkttest.TCPFrame(dst, src, pkttest.TCP{Seq: 900, Ack: 101, Flags: pkttest.SYN | pkttest.ACK, Win: 65535}, nil),
				pkttest.TCPFrame(src, dst, pkttest.TCP{Seq: 101, Ack: 901, Flags: pkttest.ACK, Win: 65535}, nil),
				pkttest.TCPFrame(src, dst, pkttest.TCP{Seq: 101, Ack: 901, Flags: pkttest.ACK | pkttest.PSH, Win: 65535}, clientHello(t, cfg)))
		}
	}
	paths := []string{pkttest.WriteFile(t, "hello.pcap", pkttest.Pcap(1, pkttest.Frames(1.7e18, frames...)...))}
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, f := range []string{"zeek/openjdk-25.0.2-zeek.org.pcap", "suricata-verify/tcp-opt.pcap"} {
			paths = append(paths, filepath.Join(dir, f))
		}
	}
	compared := 0
	for _, path := range paths {
		rows, err := tsharktest.Fields(path, tsharktest.Query{Filter: "tls.handshake.type == 1", All: true,
			Fields: []string{"frame.number", "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str"}})
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		ours := hellos(t, path)
		for _, r := range rows {
			got, ok := ours[r[0]]
			if !ok {
				t.Errorf("%s frame %s: a ClientHello to tshark, not whole here", filepath.Base(path), r[0])
				continue
			}
			compared++
			if want := r[1] + "|" + r[2]; got != want {
				t.Errorf("%s frame %s: ours %q, tshark %q", filepath.Base(path), r[0], got, want)
			}
		}
	}
	if compared < len(cfgs)*2 {
		t.Fatalf("%d ClientHellos compared", compared)
	}
	t.Logf("%d ClientHellos compared with tshark", compared)
}

// hellos returns, by frame, "sni|alpn,alpn" of every whole ClientHello.
func hellos(t *testing.T, path string) map[string]string {
	out := map[string]string{}
	var h tlshello.Hello
	err := payloadtest.Each(path, func(frame uint64, dp *decode.Packet, payload []byte) {
		if !dp.IsTCP() || h.Parse(payload) != nil || h.Type != tlshello.TypeClientHello || h.Partial {
			return
		}
		var alpn []string
		for i := range h.NALPN {
			alpn = append(alpn, string(h.ALPN[i]))
		}
		out[strconv.FormatUint(frame, 10)] = string(h.ServerName) + "|" + strings.Join(alpn, ",")
	})
	if err != nil && len(out) == 0 {
		t.Fatal(err)
	}
	return out
}
