package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// extractedFields are the fields the field-extraction test compares with
// tshark: every field issue 12 lists, and the others netblame prints.
var extractedFields = []string{
	"frame.number", "frame.time_relative", "frame.time_delta", "frame.time_epoch", "frame.len", "frame.cap_len",
	"eth.src", "eth.dst", "eth.addr", "eth.type", "vlan.id",
	"ip.src", "ip.dst", "ip.addr", "ip.ttl", "ip.id", "ip.proto", "ip.len", "ip.dsfield", "ip.flags", "ip.flags.mf", "ip.flags.df", "ip.frag_offset",
	"ipv6.src", "ipv6.dst", "ipv6.addr", "ipv6.nxt", "ipv6.flow", "ipv6.hlim",
	"tcp.srcport", "tcp.dstport", "tcp.port", "tcp.seq", "tcp.ack", "tcp.seq_raw", "tcp.ack_raw", "tcp.nxtseq", "tcp.len", "tcp.hdr_len",
	"tcp.flags", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tcp.flags.push", "tcp.flags.urg", "tcp.flags.ece", "tcp.flags.cwr",
	"tcp.window_size", "tcp.window_size_value", "tcp.window_size_scalefactor", "tcp.stream", "tcp.checksum", "tcp.urgent_pointer",
	"tcp.time_relative", "tcp.time_delta",
	"tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "tcp.options.sack", "tcp.options.sack_perm",
	"tcp.analysis.flags", "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
	"tcp.analysis.out_of_order", "tcp.analysis.lost_segment", "tcp.analysis.ack_lost_segment", "tcp.analysis.duplicate_ack",
	"tcp.analysis.zero_window", "tcp.analysis.zero_window_probe", "tcp.analysis.window_full", "tcp.analysis.window_update",
	"tcp.analysis.keep_alive", "tcp.analysis.keep_alive_ack", "tcp.analysis.reused_ports",
	"udp.srcport", "udp.dstport", "udp.port", "udp.length", "udp.stream", "udp.checksum",
	"icmp.type", "icmp.code",
	"dns.id", "dns.flags", "dns.qry.name", "dns.qry.type", "dns.flags.response", "dns.flags.rcode", "dns.resp.name", "dns.a", "dns.aaaa",
	"http.request.method", "http.request.uri", "http.host", "http.response.code", "http.user_agent",
	"tls.handshake.type", "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
}

// fieldExceptions are the fields that differ from tshark on a capture, with
// the reason. Anything else that differs fails the test.
var fieldExceptions = map[string]string{}

// TestFieldsAgreeWithTshark: for every shared capture, analyze -e FIELD
// prints, frame by frame, what tshark -T fields -e FIELD prints (every
// occurrence, joined by commas).
func TestFieldsAgreeWithTshark(t *testing.T) {
	tsharktest.Need40(t)
	dir := sharedtest.Pcaps(t)
	entries := sharedtest.Manifest(t)
	args := []string{"analyze", "-E", "occurrence=a", "-E", "separator=\x01"}
	for _, f := range extractedFields {
		args = append(args, "-e", f)
	}
	type tally struct{ agree, differ int }
	per := map[string]*tally{}
	for _, f := range extractedFields {
		per[f] = &tally{}
	}
	var failures []string
	for _, e := range entries {
		path := filepath.Join(dir, e.File)
		// Each segment on its own, as netblame reads application
		// layers: without TCP reassembly tshark shows an HTTP header in
		// the segment that holds it, and in a retransmission of it.
		want := tsharktest.MustFields(t, path, tsharktest.Query{Fields: extractedFields, All: true,
			Prefs: []string{"tcp.desegment_tcp_streams:FALSE"}})
		out, errOut, code := runCLI(t, append(args, path)...)
		if code != exitOK && len(want) > 0 && out == "" {
			t.Errorf("%s: exit %d: %s", e.File, code, errOut)
			continue
		}
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(got) != len(want) {
			t.Logf("%s: %d rows, tshark %d", e.File, len(got), len(want))
		}
		shown := map[string]int{}
		for i, row := range got {
			cells := strings.Split(row, "\x01")
			for j, f := range extractedFields {
				if j >= len(cells) || j >= len(want[i]) {
					continue
				}
				if cells[j] == want[i][j] {
					if cells[j] != "" {
						per[f].agree++
					}
					continue
				}
				per[f].differ++
				key := e.File + " " + f
				if _, ok := fieldExceptions[f]; ok {
					continue
				}
				if shown[f] < 3 {
					failures = append(failures, fmt.Sprintf("%s frame %d %s: %q, tshark %q", e.File, i+1, f, cells[j], want[i][j]))
				}
				shown[f]++
				_ = key
			}
		}
	}
	names := make([]string, 0, len(per))
	for f := range per {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		t.Logf("%-40s %6d values agree, %d differ", f, per[f].agree, per[f].differ)
	}
	for _, f := range failures {
		t.Error(f)
	}
}
