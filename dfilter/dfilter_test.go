package dfilter_test

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"flag"
	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
	"github.com/netblame/netblame/track"
)

// TestErrors: a filter that does not compile says what and where, and an
// unknown field names the nearest ones.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		expr, reason string
		pos          int
	}{
		{"tcp.prot == 1", `unknown field "tcp.prot" (did you mean tcp.port`, 0},
		{"tcp.port == ", "expected a value", 12},
		{"tcp.port == http", `"http" is not a number`, 12},
		{"(tcp", "unclosed parenthesis", 0},
		{"tcp and", "expected a field name", 7},
		{"ip.addr > 10.0.0.0/8", "a prefix takes == or != only", 10},
		{"ip.src < 10.0.0.1", "has no order", 9},
		{"tcp.port in {}", "empty set", 12},
		{"http.host matches \"(\"", "bad regular expression", 18},
		{"tcp.port == 80 tcp", `unexpected "tcp"`, 15},
		{"tcp.len $ 1", "unexpected character", 8},
		{"", "empty filter", 0},
	} {
		_, err := dfilter.Compile(c.expr)
		e, ok := err.(*dfilter.Error)
		if !ok || !strings.Contains(e.Reason, c.reason) || e.Pos != c.pos {
			t.Errorf("%q: %v; want %q at %d", c.expr, err, c.reason, c.pos)
		}
	}
}

// TestSemantics runs filters on built packets through a real flow table.
func TestSemantics(t *testing.T) {
	cl, sv := netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("192.0.2.80:443")
	syn := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 100, Flags: pkttest.SYN, Win: 64240, Opts: pkttest.Pad4(pkttest.OptMSS(1460))}, nil)
	data := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 101, Ack: 1, Flags: pkttest.ACK | pkttest.PSH, Win: 502}, []byte("GET /x HTTP/1.1\r\nHost: example.org\r\n\r\n"))
	dns6 := pkttest.UDPFrame(netip.MustParseAddrPort("[2001:db8::1]:5000"), netip.MustParseAddrPort("[2001:db8::53]:53"),
		[]byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1})
	pkts := packets(t, syn, data, dns6)
	for _, c := range []struct {
		expr string
		want []uint64 // frames
	}{
		{"tcp", []uint64{1, 2}},
		{"tcp.flags.syn == 1 && tcp.flags.ack == 0", []uint64{1}},
		{"!tcp.flags.ack", []uint64{3}}, // a flag field is present in every TCP packet, as in Wireshark
		{"tcp.port in {80 443}", []uint64{1, 2}},
		{"tcp.srcport in {39000..40000}", []uint64{1, 2}},
		{"tcp.port == 40001", nil},
		{"tcp.port != 443", nil}, // no occurrence may equal it
		{"tcp.port != 40001", []uint64{1, 2}},
		{"ip.addr == 10.0.0.0/8", []uint64{1, 2}},
		{"ip.addr == 192.0.2.80 and tcp.len > 0", []uint64{2}},
		{"ipv6.addr == 2001:db8::/32", []uint64{3}},
		{"tcp.options.mss_val == 1460", []uint64{1}},
		{"http.request.method == \"GET\" and http.host contains \"example\"", []uint64{2}},
		{"http.host matches \"^ex.*\\\\.org$\"", []uint64{2}},
		{"dns.qry.name == \"www.example.com\" and dns.flags.response == 0", []uint64{3}},
		{"dns or http", []uint64{2, 3}},
		{"not ip", []uint64{3}},
		{"frame.number >= 2", []uint64{2, 3}},
		{"frame.time_relative > 0.0015", []uint64{3}},
		{"tcp.seq == 1 and tcp.stream == 0", []uint64{2}},
		{"udp.length == 41", []uint64{3}},
	} {
		f, err := dfilter.Compile(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		var got []uint64
		for i := range pkts {
			if f.Match(&pkts[i]) {
				got = append(got, pkts[i].Frame)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: frames %v, want %v", c.expr, got, c.want)
		}
	}
	f, _ := dfilter.Compile("tcp.port in {80 443} and http.host contains \"ex\" or dns.qry.name matches \"com$\" or ip.addr == 10.0.0.0/8")
	if n := testing.AllocsPerRun(200, func() {
		for i := range pkts {
			pkts[i].Reset()
			f.Match(&pkts[i])
		}
	}); n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

// packets runs frames (one a millisecond) through a tracker and returns
// them as filter packets (with copies of their decodes and results).
func packets(t testing.TB, frames ...[]byte) []dfilter.Packet {
	t.Helper()
	path := pkttest.WriteFile(t, "f.pcap", pkttest.Pcap(1, pkttest.Frames(1e18, frames...)...))
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tr, err := track.New(track.Options{Flows: &flowtable.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	var out []dfilter.Packet
	var first int64
	err = tr.Run(r, func(p *track.Packet) error {
		if first == 0 {
			first = p.Capture.Timestamp
		}
		d := *p.Decoded
		res := p.Result
		out = append(out, dfilter.Packet{Frame: p.Capture.Frame, TS: p.Capture.Timestamp, First: first,
			Len: p.Capture.OrigLen, Data: slices.Clone(p.Capture.Data), Decoded: &d, Result: &res, Payload: slices.Clone(p.Payload())})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Decoded offsets refer to Data, which was copied whole: they hold.
	return out
}

// expressions compared with tshark -Y on the shared captures.
var expressions = []string{
	"tcp", "udp", "ip", "ipv6", "icmp", "vlan", "!tcp",
	"tcp.port == 80", "tcp.port in {80, 443, 8080}", "tcp.port in {1024..5000}", "udp.port == 53", "tcp.srcport > 1024 and tcp.dstport < 1024",
	"tcp.flags.syn == 1 && tcp.flags.ack == 0", "tcp.flags.reset == 1", "tcp.flags.fin == 1 or tcp.flags.reset == 1",
	"tcp.len > 0", "tcp.len >= 1000", "tcp.window_size_value < 1000", "frame.len > 1000", "ip.ttl < 64",
	"ip.addr == 10.0.0.0/8", "ip.addr == 192.168.0.0/16 and tcp", "ip.flags.mf == 1", "ipv6.nxt == 6",
	"tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.duplicate_ack",
	"tcp.analysis.lost_segment", "tcp.analysis.out_of_order", "tcp.analysis.zero_window", "tcp.analysis.window_update",
	"tcp.analysis.keep_alive", "tcp.analysis.flags",
	"tcp.seq == 1", "tcp.ack == 1", "tcp.stream == 0",
	"dns", "dns.flags.response == 1", "dns.qry.type == 28",
	"tls.handshake.type == 1",
}

var allPairs = flag.Bool("dfilter-all", false, "compare every expression on every shared capture with tshark (slow: one tshark run each)")

// TestTshark: each expression keeps the frames tshark -Y keeps, frame for
// frame, on two shared captures: one where it keeps some frames and one
// where it keeps none (which would show what it misses), chosen in turn
// so the expressions meet different captures; -dfilter-all runs them all.
func TestTshark(t *testing.T) {
	tsharktest.Need40(t)
	dir := sharedtest.Pcaps(t)
	var filters []*dfilter.Filter
	for _, e := range expressions {
		f, err := dfilter.Compile(e)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		filters = append(filters, f)
	}
	type file struct {
		name string
		ours [][]uint64
	}
	var files []file
	for _, m := range sharedtest.Manifest(t) {
		if m.ReadError {
			continue
		}
		ours, n, err := run(filepath.Join(dir, m.File), filters)
		if err != nil {
			continue
		}
		if n != m.Packets {
			// pcapng blocks other than packets are frames to tshark
			t.Logf("%s: tshark numbers %d frames, %d of them packets: left out", m.File, m.Packets, n)
			continue
		}
		files = append(files, file{m.File, ours})
	}
	agree, pairs, kept := 0, 0, 0
	for i, e := range expressions {
		var chosen []int
		var with, without []int
		for k := range files {
			if len(files[k].ours[i]) > 0 {
				with = append(with, k)
			} else {
				without = append(without, k)
			}
		}
		switch {
		case *allPairs:
			for k := range files {
				chosen = append(chosen, k)
			}
		default:
			if len(with) > 0 {
				chosen = append(chosen, with[i%len(with)])
			}
			if len(without) > 0 {
				chosen = append(chosen, without[i%len(without)])
			}
		}
		for _, k := range chosen {
			path := filepath.Join(dir, files[k].name)
			rows, err := tsharktest.Fields(path, tsharktest.Query{Filter: e, Fields: []string{"frame.number"}})
			if err != nil && !strings.Contains(err.Error(), "exit status") {
				t.Errorf("%s %q: %v", files[k].name, e, err)
				continue
			}
			var want []uint64
			for _, r := range rows {
				n, _ := strconv.ParseUint(r[0], 10, 64)
				want = append(want, n)
			}
			pairs++
			kept += len(want)
			got := files[k].ours[i]
			if slices.Equal(got, want) {
				agree++
				continue
			}
			t.Errorf("%s %q: %d frames, tshark %d; first differences %v", files[k].name, e, len(got), len(want), firstDiffs(got, want))
		}
	}
	t.Logf("%d of %d capture-expression pairs keep exactly tshark's frames (%d frames kept in all)", agree, pairs, kept)
}

// run filters the capture at path with each filter, returning the frames
// each keeps and how many packets there were.
func run(path string, filters []*dfilter.Filter) ([][]uint64, int, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	// Flows across VLAN tags are one, as Wireshark (and analyze) see them.
	tr, err := track.New(track.Options{Flows: &flowtable.Config{IgnoreVLAN: true}})
	if err != nil {
		return nil, 0, err
	}
	n := 0
	out := make([][]uint64, len(filters))
	var fp dfilter.Packet
	var prev int64
	first := true
	err = tr.Run(r, func(p *track.Packet) error {
		fp.Reset()
		if first {
			fp.First, prev, first = p.Capture.Timestamp, p.Capture.Timestamp, false
		}
		fp.Frame, fp.TS, fp.Prev, fp.Len, fp.Data = p.Capture.Frame, p.Capture.Timestamp, prev, p.Capture.OrigLen, p.Capture.Data
		fp.Decoded, fp.Result, fp.Payload = p.Decoded, nil, p.Payload()
		if p.Result.Tracked {
			fp.Result = &p.Result
		}
		prev = p.Capture.Timestamp
		n++
		for i, f := range filters {
			if f.Match(&fp) {
				out[i] = append(out[i], p.Capture.Frame)
			}
		}
		return nil
	})
	return out, n, err
}

func firstDiffs(a, b []uint64) []string {
	in := func(s []uint64, x uint64) bool { _, ok := slices.BinarySearch(s, x); return ok }
	var d []string
	for _, x := range a {
		if !in(b, x) && len(d) < 4 {
			d = append(d, "+"+strconv.FormatUint(x, 10))
		}
	}
	for _, x := range b {
		if !in(a, x) && len(d) < 8 {
			d = append(d, "-"+strconv.FormatUint(x, 10))
		}
	}
	return d
}

// FuzzCompile: no expression makes Compile panic, and a filter that
// compiles runs on a packet without panicking.
func FuzzCompile(f *testing.F) {
	for _, e := range expressions {
		f.Add(e)
	}
	for _, e := range []string{"tcp.port in {80 443 8000..8080}", `http.host matches "a(b"`, "!(", "ip.addr == ::/0", "eth.src == aa:bb:cc:dd:ee:ff", `"x"`, "a..b"} {
		f.Add(e)
	}
	var pk dfilter.Packet
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := dfilter.Compile(expr)
		if err != nil {
			if e, ok := err.(*dfilter.Error); !ok || e.Pos < 0 || e.Pos > len(expr) {
				t.Fatalf("%q: error %v", expr, err)
			}
			return
		}
		pk.Reset()
		flt.Match(&pk)
	})
}

func BenchmarkMatch(b *testing.B) {
	cl, sv := netip.MustParseAddrPort("10.1.2.3:40000"), netip.MustParseAddrPort("192.0.2.80:443")
	data := pkttest.TCPFrame(cl, sv, pkttest.TCP{Seq: 101, Ack: 1, Flags: pkttest.ACK | pkttest.PSH, Win: 502}, make([]byte, 100))
	pkts := packets(b, data)
	for _, expr := range []string{"tcp.port == 443", "ip.addr == 10.0.0.0/8 and tcp.len > 0 and not tcp.analysis.retransmission", "tcp.port in {80, 443, 8000..8080} or dns.qry.name contains \"example\""} {
		f, err := dfilter.Compile(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pkts[0].Reset()
				f.Match(&pkts[0])
			}
		})
	}
}

func TestTildeIsMatches(t *testing.T) {
	if _, err := dfilter.Compile(`http.host ~ "^www"`); err != nil {
		t.Error(err)
	}
}
