package main

import (
	"fmt"
	"github.com/netblame/netblame/internal/tsharktest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// epochNS parses tshark's frame.time_epoch ("1700000000.123456789") exactly.
func epochNS(t *testing.T, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad epoch time %q", s)
	}
	return a*1e9 + b
}

// tsharkStream is what tshark shows of one tcp.stream.
type tsharkStream struct {
	id          string
	client      string // ip:port of the first SYN's sender, or of the first packet's
	clientAddr  string
	first, last int64
	syn, synAck int64 // first SYN without ACK, first SYN-ACK after it (0: none)
	rstFrame    string
	rstTS       int64
	rstBy       string // ip:port of the first RST's sender
}

// tsharkStreams reads every TCP stream of file with tshark.
func tsharkStreams(t *testing.T, file string) []*tsharkStream {
	t.Helper()
	rows := tsharktest.MustFields(t, file, tsharktest.Query{Filter: "tcp", Fields: []string{"tcp.stream", "frame.number", "frame.time_epoch",
		"ip.src", "ipv6.src", "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset",
		"ip.dst", "ipv6.dst", "tcp.dstport"}})
	byID := map[string]*tsharkStream{}
	var out []*tsharkStream
	endpoint := func(addr, port string) string {
		if strings.Contains(addr, ":") {
			return "[" + addr + "]:" + port
		}
		return addr + ":" + port
	}
	for _, r := range rows {
		id, ts, from, to := r[0], epochNS(t, r[2]), r[3]+r[4], r[9]+r[10]
		ep := endpoint(from, r[5])
		syn, ack, rst := r[6] == "1" || r[6] == "True", r[7] == "1" || r[7] == "True", r[8] == "1" || r[8] == "True"
		s := byID[id]
		if s == nil {
			// flowtable's rule for a flow whose first packet is not a pure
			// SYN: the receiver of a SYN-ACK, or of a packet from a port
			// below 1024 to one at or above, is the client; otherwise the
			// sender.
			s = &tsharkStream{id: id, client: ep, clientAddr: from, first: ts}
			sport, _ := strconv.Atoi(r[5])
			dport, _ := strconv.Atoi(r[11])
			if (syn && ack) || (!syn && sport < 1024 && dport >= 1024) {
				s.client, s.clientAddr = endpoint(to, r[11]), to
			}
			byID[id] = s
			out = append(out, s)
		}
		s.last = ts
		if syn && !ack && s.syn == 0 {
			s.syn, s.client, s.clientAddr = ts, ep, from
		}
		if syn && ack && s.syn != 0 && s.synAck == 0 {
			s.synAck = ts
		}
		if rst && s.rstFrame == "" {
			s.rstFrame, s.rstTS, s.rstBy = r[1], ts, ep
		}
	}
	return out
}

// TestResetByMatchesTshark checks --reset-by client and server against
// what tshark shows: each stream's first RST (tcp.flags.reset), its sender
// compared with the stream's client, and the client's other streams whose
// first and last packets bracket the reset. It runs on a hand-made capture
// where the answers are known by construction and on every shared capture
// with a RST.
func TestResetByMatchesTshark(t *testing.T) {
	tsharktest.Path(t)
	files := []string{resetScenario(t)}
	if dir := sharedDirOrEmpty(); dir != "" {
		for _, f := range []string{"tcpdump/tcp_rst_diag_payload.pcap", "tcpdump/mptcp-tcprst.pcap", "zeek/retransmit-fast009.pcap",
			"zeek/get-to-ssh-server.pcap", "suricata-verify/tcp-opt.pcap", "suricata-verify/tcp-rst-with-data.pcap",
			"suricata-verify/split-handshake-4whs.pcap"} {
			files = append(files, filepath.Join(dir, f))
		}
	}
	seen := 0
	for _, file := range files {
		streams := tsharkStreams(t, file)
		for _, side := range []string{"client", "server"} {
			var want []string
			for _, s := range streams {
				if s.rstFrame == "" || (s.rstBy == s.client) != (side == "client") {
					continue
				}
				others := 0
				for _, o := range streams {
					if o != s && o.clientAddr == s.clientAddr && o.first <= s.rstTS && o.last >= s.rstTS {
						others++
					}
				}
				want = append(want, fmt.Sprintf("%s reset_frame=%s others=%d", s.client, s.rstFrame, others))
			}
			var got []string
			for _, r := range jsonLines(t, mustRun(t, "analyze", "--reset-by", side, "--format", "json", file)) {
				got = append(got, fmt.Sprintf("%s reset_frame=%s others=%s", str(r, "client"), str(r, "reset_frame"), str(r, "other_in_progress")))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s --reset-by %s:\n got  %q\n want %q (from tshark)", filepath.Base(file), side, got, want)
			}
			seen += len(got)
		}
	}
	if seen == 0 {
		t.Fatal("no reset found in any capture")
	}

	// The hand-made capture's answers, by construction.
	file := files[0]
	for _, c := range []struct {
		side, client, others string
	}{{"client", "10.0.0.1:40001", "1"}, {"server", "10.0.0.1:40002", "1"}} {
		rows := jsonLines(t, mustRun(t, "analyze", "--reset-by", c.side, "--format", "json", file))
		if len(rows) != 1 || str(rows[0], "client") != c.client || str(rows[0], "other_in_progress") != c.others {
			t.Errorf("--reset-by %s: %v, want one row for %s with %s other connection in progress", c.side, rows, c.client, c.others)
		}
	}
}

// sharedDirOrEmpty is ../shared/pcaps, or "" when absent (tests that also
// use their own captures go on without it).
func sharedDirOrEmpty() string {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "pcaps"))
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		return ""
	}
	return dir
}

// TestHandshakeOverMatchesTshark checks --handshake-over (and --first)
// against the streams tshark shows: the time from a stream's first SYN
// without ACK to the first SYN-ACK after it, in the order of the SYNs.
func TestHandshakeOverMatchesTshark(t *testing.T) {
	tsharktest.Path(t)
	type query struct {
		file string
		over time.Duration
	}
	synth := resetScenario(t)
	queries := []query{{synth, 300 * time.Millisecond}, {synth, 5 * time.Millisecond}, {synth, time.Second}}
	if dir := sharedDirOrEmpty(); dir != "" {
		for _, f := range []string{"tcpreplay/test.pcap", "suricata-verify/syn_retransmit_with_ts.pcap", "tcpdump/tcp-handshake-nano.pcap",
			"network-impairment/curl_server_lossy.pcap", "filesamples/200722_tcp_anon.pcapng", "zeek/ipv6-http-atomic-frag.pcap"} {
			queries = append(queries, query{filepath.Join(dir, f), 50 * time.Millisecond}, query{filepath.Join(dir, f), time.Millisecond})
		}
	}
	nonEmpty := 0
	streams := map[string][]*tsharkStream{}
	for _, q := range queries {
		if streams[q.file] == nil {
			streams[q.file] = tsharkStreams(t, q.file)
		}
		var want []string
		for _, s := range streams[q.file] {
			if s.syn != 0 && s.synAck != 0 && time.Duration(s.synAck-s.syn) > q.over {
				want = append(want, fmt.Sprintf("%s handshake=%s", s.client, decimalSeconds(s.synAck-s.syn)))
			}
		}
		for _, first := range []bool{false, true} {
			args := []string{"analyze", "--handshake-over", q.over.String(), "--format", "json"}
			w := want
			if first {
				args = append(args, "--first")
				if len(w) > 1 {
					w = w[:1]
				}
			}
			args = append(args, q.file)
			var got []string
			for _, r := range jsonLines(t, mustRun(t, args...)) {
				got = append(got, fmt.Sprintf("%s handshake=%s", str(r, "client"), str(r, "handshake_s")))
			}
			if !slices.Equal(got, w) {
				t.Errorf("%s %v:\n got  %q\n want %q (from tshark)", filepath.Base(q.file), args[1:len(args)-1], got, w)
			}
			if len(got) > 0 {
				nonEmpty++
			}
		}
	}
	if nonEmpty == 0 {
		t.Fatal("no query had an answer")
	}
	rows := jsonLines(t, mustRun(t, "analyze", "--handshake-over", "300ms", "--format", "json", synth))
	if len(rows) != 2 || str(rows[0], "client") != "10.0.0.1:40002" || str(rows[1], "client") != "10.0.0.1:40004" {
		t.Errorf("hand-made capture: %v, want the connections from ports 40002 then 40004", rows)
	}
}
