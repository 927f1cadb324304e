package dfilter_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
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
		{"tcp.flags & syn", "expected a number", 12},
		{"ip.src & 1", "is not a number: & needs one", 9},
		{"tcp.flags & 2 == x", "expected a number", 17},
		{"ip.src < ip.dst", "has no order", 9},
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
		// Two fields: some pair of values compares so; != when none is equal.
		{"tcp.srcport > tcp.dstport", []uint64{1, 2}},
		{"tcp.srcport == tcp.dstport", nil},
		{"tcp.srcport != tcp.dstport", []uint64{1, 2}},
		{"ip.src == ip.addr", []uint64{1, 2}},     // ip.addr holds ip.src too
		{"ip.src != ip.addr", nil},                // so no packet has none equal
		{"tcp.len < udp.length", nil},             // no packet has both
		{"tcp.flags & 0x02", []uint64{1}},         // SYN
		{"tcp.flags & 0x18 == 0x18", []uint64{2}}, // ACK and PSH
		{"tcp.flags & 0x12 != 0x12", []uint64{1, 2}},
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
	f, _ := dfilter.Compile("tcp.port in {80 443} and http.host contains \"ex\" or dns.qry.name matches \"com$\" or ip.addr == 10.0.0.0/8 or tcp.srcport < tcp.dstport or tcp.flags & 0x04")
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
	"frame.number <= 10", "frame.number > 100 and frame.number < 200", "frame.len < 64", "frame.len == 60",
	"frame.cap_len < frame.len", "frame.cap_len != frame.len", "frame.time_relative > 1",
	"frame.time_relative <= 0.5", "frame.time_delta > 0.1", "frame.time_delta == 0", "eth",
	"eth.type == 0x0800", "eth.type == 0x86dd", "eth.type == 0x8100", "eth.addr == ff:ff:ff:ff:ff:ff",
	"eth.dst == ff:ff:ff:ff:ff:ff", "!(eth.dst == ff:ff:ff:ff:ff:ff)", "vlan.id == 100", "vlan.id > 0 and ip",
	"ip.src == 192.168.1.1", "ip.dst == 10.0.0.0/8", "ip.src == 172.16.0.0/12 or ip.dst == 172.16.0.0/12",
	"not ip.addr == 127.0.0.1", "ip.addr != 10.0.0.1", "ip.ttl == 64", "ip.ttl == 128", "ip.ttl >= 250",
	"ip.ttl <= 1", "ip.id == 0", "ip.id > 0x8000", "ip.proto == 17", "ip.proto == 1",
	"ip.proto != 6 and ip.proto != 17", "ip.len > 1400", "ip.len < 100", "ip.flags.df == 1",
	"ip.flags.df == 0 and tcp", "ip.flags.mf == 0 and ip.frag_offset > 0", "ip.frag_offset > 0",
	"ip.dsfield != 0", "ip.dsfield == 0x48", "ip.flags == 0x2", "ipv6.src == fe80::/10",
	"ipv6.dst == ff02::/16", "ipv6.addr == ::1", "ipv6.nxt == 17", "ipv6.nxt == 58", "ipv6.nxt == 0",
	"ipv6.nxt == 44", "ipv6.hlim == 255", "ipv6.hlim < 64", "ipv6.flow != 0", "ipv6 and tcp", "ipv6 and udp",
	"icmp.type == 8", "icmp.type == 0", "icmp.type == 3", "icmp.type == 11",
	"icmp.type == 3 and icmp.code == 3", "icmp and ip.ttl < 64", "tcp.srcport == 80", "tcp.dstport == 443",
	"tcp.port == 22", "tcp.port == 5001", "tcp.port >= 49152", "tcp.srcport == tcp.dstport",
	"tcp.flags.syn == 1", "tcp.flags.syn == 1 && tcp.flags.ack == 1", "tcp.flags.fin == 1",
	"tcp.flags.push == 1", "tcp.flags.urg == 1", "tcp.flags.cwr == 1", "tcp.flags.ack == 0",
	"tcp.flags == 0x0012", "tcp.flags == 0x0010", "tcp.flags & 0x07 != 0", "tcp.hdr_len > 20",
	"tcp.hdr_len == 20", "tcp.len == 0 and tcp.flags.ack == 1", "tcp.len == 1", "tcp.len > 1460",
	"tcp.seq > 1000000", "tcp.seq == 0", "tcp.ack == 0", "tcp.ack > 100000", "tcp.seq_raw > 2147483648",
	"tcp.ack_raw == 0", "tcp.nxtseq > 1", "tcp.window_size == 0", "tcp.window_size > 65535",
	"tcp.window_size_value == 65535", "tcp.window_size_scalefactor == 128", "tcp.stream == 1", "tcp.stream > 5",
	"tcp.stream in {0, 2, 4}", "tcp.options.mss_val < 1460", "tcp.options.wscale.shift == 7",
	"tcp.options.wscale.shift > 8", "tcp.options.timestamp.tsval > 0", "tcp.options.timestamp.tsecr == 0",
	"tcp.options.sack_perm", "tcp.options.sack", "tcp.checksum == 0", "tcp.urgent_pointer != 0",
	"tcp.time_relative > 1", "tcp.time_delta > 0.2", "tcp.analysis.spurious_retransmission",
	"tcp.analysis.ack_lost_segment", "tcp.analysis.zero_window_probe", "tcp.analysis.window_full",
	"tcp.analysis.keep_alive_ack", "tcp.analysis.retransmission or tcp.analysis.fast_retransmission",
	"tcp.analysis.duplicate_ack and tcp.len == 0", "tcp.analysis.flags and !tcp.analysis.window_update",
	"tcp.analysis.retransmission && ip.src == 10.0.0.0/8", "udp.srcport == 53", "udp.dstport == 53",
	"udp.port == 123", "udp.port == 67 or udp.port == 68", "udp.port >= 1024 and udp.port <= 2048",
	"udp.length < 20", "udp.length > 500", "udp.stream == 0", "udp.checksum == 0", "udp and not dns",
	"dns.flags.response == 0", "dns.qry.type == 1", "dns.qry.type == 12", "dns.flags.rcode == 3",
	"dns.flags.rcode != 0", `dns.qry.name contains "google"`, `dns.qry.name == "www.google.com"`,
	`dns.qry.name matches "\\.com$"`, "dns.a", "dns.aaaa", "dns.a == 8.8.8.8", "dns.resp.name", "dns.id == 0",
	"http.request", "http.response", `http.request.method == "GET"`, `http.request.method == "POST"`,
	`http.request.method in {"GET", "HEAD"}`, `http.request.uri contains "html"`, `http.request.uri == "/"`,
	`http.host contains "www"`, `http.user_agent contains "Mozilla"`, `http.user_agent matches "(?i)curl"`,
	"http.response.code == 200", "http.response.code >= 400", "http.response.code in {301, 302, 304}",
	"tls.handshake.type == 2", "tls.handshake.extensions_server_name",
	`tls.handshake.extensions_server_name contains "google"`, `tls.handshake.extensions_alpn_str == "h2"`,
	"tls.handshake.extensions_alpn_str", "(tcp.port == 80 or tcp.port == 443) and tcp.len > 0",
	"not (tcp or udp)", "ip and not (tcp or udp or icmp)", "!(ip.src == 10.0.0.0/8) && ip",
	"tcp.port == 80 || udp.port == 53 || icmp", "frame.len > 100 and frame.len < 200 and tcp",
	"tcp.flags.ece == 1", "tcp.flags & 0x02", "tcp.flags & 0x05 == 0x01", "ip.dst == ip.src",
	"tcp.window_size < tcp.window_size_value",
}

var allPairs = flag.Bool("dfilter-all", false, "compare every expression on every shared capture with tshark (slow: one tshark run each)")

// TestTshark: each expression with a comma (which tshark's io,stat cannot
// take, so TestTsharkEveryCapture leaves it out) keeps the frames tshark -Y
// keeps, frame for frame, on two shared captures: one where it keeps some
// frames and one where it keeps none (which would show what it misses),
// chosen in turn so the expressions meet different captures; -dfilter-all
// runs every expression on every capture.
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
		if !*allPairs && !strings.Contains(e, ",") {
			continue // TestTsharkEveryCapture compares it on every capture
		}
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
			want, err := tsharkFrames(path, e)
			if err != nil {
				t.Errorf("%s %q: %v", files[k].name, e, err)
				continue
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

// TestTsharkEveryCapture runs every expression on every shared capture,
// by netblame and by tshark, and compares per file how many frames each
// keeps and the sum of their numbers. tshark evaluates them all in one pass
// a file (-z io,stat with a COUNT and a SUM(frame.number) column an
// expression); where those differ, tshark -Y gives the exact frames, which
// decide. Expressions with a comma cannot be io,stat columns; TestTshark
// compares them frame by frame.
func TestTsharkEveryCapture(t *testing.T) {
	tsharktest.Need40(t)
	dir := sharedtest.Pcaps(t)
	var exprs []string
	var filters []*dfilter.Filter
	for _, e := range expressions {
		if strings.Contains(e, ",") {
			continue
		}
		f, err := dfilter.Compile(e)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		exprs, filters = append(exprs, e), append(filters, f)
	}
	files, pairs, agree, exact, excepted := 0, 0, 0, 0, 0
	for _, m := range sharedtest.Manifest(t) {
		if m.ReadError {
			continue
		}
		path := filepath.Join(dir, m.File)
		ours, n, err := run(path, filters)
		if err != nil || n != m.Packets {
			continue // as TestTshark: pcapng blocks tshark numbers as frames
		}
		theirs, err := tsharkCountSum(path, exprs)
		if errors.Is(err, errNoInterval) {
			t.Logf("%s: left out: %v", m.File, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", m.File, err)
			continue
		}
		files++
		for i, e := range exprs {
			pairs++
			var sum uint64
			for _, f := range ours[i] {
				sum += f
			}
			if theirs[i] == [2]uint64{uint64(len(ours[i])), sum} {
				agree++
				continue
			}
			want, err := tsharkFrames(path, e)
			if err != nil {
				t.Errorf("%s %q: %v", m.File, e, err)
				continue
			}
			if why, ok := exceptedPair(m.File, e); ok {
				excepted++
				t.Logf("%s %q: %d frames, tshark %d: excepted: %s", m.File, e, len(ours[i]), len(want), why)
				continue
			}
			if slices.Equal(ours[i], want) {
				exact++ // io,stat left frames out (times before the first frame's)
				continue
			}
			t.Errorf("%s %q: %d frames, tshark %d; first differences %v", m.File, e, len(ours[i]), len(want), firstDiffs(ours[i], want))
		}
	}
	t.Logf("%d expressions on %d captures: %d of %d pairs keep as many frames as tshark with the same sum of frame numbers, %d more the same frames by tshark -Y, %d differ in excepted captures",
		len(exprs), files, agree, pairs, exact, excepted)
	if len(exprs) < 150 {
		t.Errorf("%d expressions without a comma: the table should hold at least 150", len(exprs))
	}
}

// tsharkFrames returns the frames tshark -Y expr keeps of the capture at
// path. A damaged file's frames before the damage count.
func tsharkFrames(path, expr string) ([]uint64, error) {
	rows, err := tsharktest.Fields(path, tsharktest.Query{Filter: expr, Fields: []string{"frame.number"}, Prefs: noDesegment})
	if err != nil && !strings.Contains(err.Error(), "exit status") {
		return nil, err
	}
	var frames []uint64
	for _, r := range rows {
		n, _ := strconv.ParseUint(r[0], 10, 64)
		frames = append(frames, n)
	}
	return frames, nil
}

// noDesegment has tshark judge each TCP segment on its own, as netblame's
// application-layer fields do (a response's status line is in its first
// segment, not the last one of a reassembled message).
var noDesegment = []string{"tcp.desegment_tcp_streams:FALSE"}

// everyCaptureExceptions are where expressions may keep other frames than
// tshark's, with the reason: "FILE" for every expression on that capture,
// "FILE NAME" for the expressions that name a field starting with NAME.
var everyCaptureExceptions = map[string]string{
	"tcpreplay/test.pcap":                                      "Ethernet over MPLS: tshark decodes the inner Ethernet frame (its VLAN, IP and ICMP); netblame stops at the labels' IP",
	"filesamples/teardrop.pcap":                                "teardrop: overlapping fragments, which tshark and netblame reassemble differently",
	"network-impairment/wifionly-af21.pcapng":                  "802.11 frames with radiotap headers: netblame does not decode 802.11",
	"zeek/get-to-ssh-server.pcap http":                         "an HTTP request to port 22: tshark decodes port 22 as SSH, netblame finds HTTP by its request line",
	"zeek/ipv6-http-atomic-frag.pcap http":                     "HTTP in IPv6 atomic fragments: tshark leaves the fragment's payload undissected as HTTP",
	"zeek/fragmented-syn.pcap ip.frag_offset":                  "a fragmented SYN: tshark shows the reassembled datagram with the last fragment's IP header (frag_offset > 0), netblame with the first's",
	"network-impairment/curl_client_lossy2.pcap http.response": "a segment holding only the status line (the headers follow in later segments): tshark without reassembly shows no HTTP, netblame shows the response",
	"suricata-verify/tcp-opt.pcap tls":                         "a TLS segment with several handshake messages: netblame reads the first only",
}

// exceptedPair returns the reason the expression may differ from tshark on
// the capture, if it is excepted.
func exceptedPair(file, expr string) (string, bool) {
	if why, ok := everyCaptureExceptions[file]; ok {
		return why, true
	}
	for k, why := range everyCaptureExceptions {
		if f, name, ok := strings.Cut(k, " "); ok && f == file && strings.Contains(expr, name) {
			return why, true
		}
	}
	return "", false
}

// errNoInterval: io,stat printed no row (a capture whose frames all have one
// time has no interval).
var errNoInterval = errors.New("tshark io,stat printed no interval row")

// tsharkCountSum returns, for each expression, how many frames of the
// capture at path tshark keeps and the sum of their numbers, from one
// tshark run.
func tsharkCountSum(path string, exprs []string) ([][2]uint64, error) {
	var cols []string
	for _, e := range exprs {
		cols = append(cols, "COUNT(frame.number)frame.number && ("+e+")", "SUM(frame.number)frame.number && ("+e+")")
	}
	cmd := exec.Command("tshark", "-n", "-q", "-r", path, "-o", noDesegment[0], "-z", "io,stat,0,"+strings.Join(cols, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	for _, line := range strings.Split(stdout.String(), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "<>") {
			continue
		}
		var nums []uint64
		for _, c := range cells[2:] {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			v, err := strconv.ParseUint(c, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("io,stat cell %q: %v", c, err)
			}
			nums = append(nums, v)
		}
		if len(nums) != 2*len(exprs) {
			return nil, fmt.Errorf("io,stat printed %d numbers, want %d", len(nums), 2*len(exprs))
		}
		out := make([][2]uint64, len(exprs))
		for i := range out {
			out[i] = [2]uint64{nums[2*i], nums[2*i+1]}
		}
		return out, nil
	}
	if runErr != nil {
		return nil, fmt.Errorf("tshark: %v: %s", runErr, strings.TrimSpace(stderr.String()))
	}
	return nil, errNoInterval
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
	var conv dfilter.Conversations
	var prev int64
	first := true
	err = tr.Run(r, func(p *track.Packet) error {
		fp.Reset()
		if first {
			fp.First, prev, first = p.Capture.Timestamp, p.Capture.Timestamp, false
		}
		fp.Frame, fp.TS, fp.Prev, fp.Len, fp.Data = p.Capture.Frame, p.Capture.Timestamp, prev, p.Capture.OrigLen, p.Capture.Data
		fp.Decoded, fp.Result, fp.Payload, fp.Transport = p.Decoded, nil, p.Payload(), p.Transport()
		if p.Result.Tracked {
			fp.Result = &p.Result
		}
		conv.See(&fp)
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
