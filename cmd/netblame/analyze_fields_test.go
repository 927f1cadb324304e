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
// A key is "FILE FIELD", or "FILE" for every field of the file.
var fieldExceptions = map[string]string{
	"network-impairment/wifionly-af21.pcapng":                       "802.11 frames with radiotap headers: netblame does not decode 802.11",
	"gopacket/le/test202.pcapng":                                    "tshark numbers a pcapng block without a packet as frame 1, with time 0, and measures frame.time_* from it",
	"gopacket/be/test202.pcapng":                                    "tshark numbers a pcapng block without a packet as frame 1, with time 0, and measures frame.time_* from it",
	"tcpreplay/test.pcap eth.src":                                   "Ethernet over MPLS: tshark decodes the inner Ethernet frame too; netblame stops at the labels' IP",
	"tcpreplay/test.pcap eth.dst":                                   "Ethernet over MPLS (see eth.src)",
	"tcpreplay/test.pcap eth.addr":                                  "Ethernet over MPLS (see eth.src)",
	"tcpreplay/test.pcap eth.type":                                  "Ethernet over MPLS (see eth.src)",
	"tcpreplay/test.pcap vlan.id":                                   "Ethernet over MPLS: a VLAN tag of the inner frame",
	"tcpreplay/test.pcap udp.length":                                "the UDP header an ICMP error quotes: netblame reads only its ports",
	"tcpreplay/test.pcap udp.stream":                                "the UDP header an ICMP error quotes (see udp.length)",
	"tcpreplay/test.pcap udp.checksum":                              "the UDP header an ICMP error quotes (see udp.length)",
	"zeek/get-to-ssh-server.pcap http.request.method":               "an HTTP request to port 22: netblame reads HTTP on any port, tshark only on its HTTP ports",
	"zeek/get-to-ssh-server.pcap http.request.uri":                  "HTTP on port 22 (see http.request.method)",
	"zeek/get-to-ssh-server.pcap http.host":                         "HTTP on port 22 (see http.request.method)",
	"zeek/get-to-ssh-server.pcap http.user_agent":                   "HTTP on port 22 (see http.request.method)",
	"zeek/ipv6-http-atomic-frag.pcap http.request.method":           "HTTP in an IPv6 atomic fragment: netblame's application fields skip fragments",
	"zeek/ipv6-http-atomic-frag.pcap http.request.uri":              "HTTP in an IPv6 atomic fragment (see http.request.method)",
	"suricata-verify/tcp-opt.pcap tls.handshake.type":               "netblame reads the first handshake message of a segment; tshark lists every one of complete records",
	"zeek/fragmented-syn.pcap ip.len":                               "a reassembled datagram: netblame shows the datagram's IP length, tshark the last fragment's header",
	"zeek/fragmented-syn.pcap ip.frag_offset":                       "a reassembled datagram (see ip.len)",
	"suricata-verify/frag-eth-vlan-ipv6-tcp.pcap ipv6.nxt":          "a reassembled datagram: tshark shows the last fragment's next header (44)",
	"filesamples/teardrop.pcap ip.frag_offset":                      "overlapping fragments (teardrop) reassembled differently",
	"filesamples/teardrop.pcap udp.srcport":                         "overlapping fragments (teardrop): tshark shows the UDP header of a datagram netblame does not complete",
	"filesamples/teardrop.pcap udp.dstport":                         "teardrop (see udp.srcport)",
	"filesamples/teardrop.pcap udp.port":                            "teardrop (see udp.srcport)",
	"filesamples/teardrop.pcap udp.length":                          "teardrop (see udp.srcport)",
	"filesamples/teardrop.pcap udp.stream":                          "teardrop (see udp.srcport)",
	"filesamples/teardrop.pcap udp.checksum":                        "teardrop (see udp.srcport)",
	"filesamples/teardrop.pcap ip.len":                              "teardrop (see udp.srcport)",
	"tcpdump/tcp_header_heapoverflow.pcap tcp.srcport":              "a TCP header whose data offset is invalid: tshark shows the ports, netblame drops the header",
	"tcpdump/tcp_header_heapoverflow.pcap tcp.dstport":              "invalid TCP header (see tcp.srcport)",
	"network-impairment/curl_client_lossy2.pcap http.response.code": "a segment holding only the status line (17 bytes; the headers follow in later segments): tshark without reassembly shows no HTTP field, netblame shows the code",
	"tcpdump/tcp_header_heapoverflow.pcap tcp.port":                 "invalid TCP header (see tcp.srcport)",
}

func init() {
	// Frames 142 and 150 on: Ethernet over MPLS, whose inner IP and ICMP
	// netblame does not reach.
	for _, f := range []string{"ip.src", "ip.dst", "ip.addr", "ip.ttl", "ip.id", "ip.proto", "ip.len", "ip.dsfield",
		"ip.flags", "ip.flags.mf", "ip.flags.df", "ip.frag_offset", "icmp.type", "icmp.code"} {
		fieldExceptions["tcpreplay/test.pcap "+f] = "Ethernet over MPLS: the inner frame's IP and ICMP (see eth.src)"
	}
}

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
		// Rows by frame number: tshark also prints a row for a pcapng
		// block it numbers as a frame without a packet in it.
		theirs := map[string][]string{}
		for _, row := range want {
			theirs[row[0]] = row
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			cells := strings.Split(line, "\x01")
			row, ok := theirs[cells[0]]
			if !ok {
				t.Errorf("%s: frame %s is not in tshark's output", e.File, cells[0])
				continue
			}
			for j, f := range extractedFields {
				if j >= len(cells) || j >= len(row) {
					continue
				}
				if cells[j] == row[j] {
					if cells[j] != "" {
						per[f].agree++
					}
					continue
				}
				per[f].differ++
				if _, ok := fieldExceptions[e.File+" "+f]; ok {
					continue
				}
				if _, ok := fieldExceptions[e.File]; ok {
					continue
				}
				failures = append(failures, fmt.Sprintf("%s frame %s %s: %q, tshark %q", e.File, cells[0], f, cells[j], row[j]))
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

// TestFieldsOutput (on the TCP frames of a sample, the first is frame 3): -E header, quote, separator and occurrence shape the
// lines as tshark's do; -T json and --format csv carry the same values;
// bad settings are usage errors.
func TestFieldsOutput(t *testing.T) {
	file := "../../samples/twopoint/clean/span.pcap"
	plain := mustRun(t, "analyze", "-Y", "tcp", "-e", "frame.number", "-e", "ip.addr", "-e", "tcp.options.mss_val", file)
	first := strings.SplitN(plain, "\n", 2)[0]
	cells := strings.Split(first, "\t")
	if len(cells) != 3 || cells[0] != "3" || !strings.Contains(cells[1], ",") {
		t.Fatalf("first line %q: want 1, an address pair and the MSS", first)
	}
	styled := mustRun(t, "analyze", "-Y", "tcp", "-e", "frame.number", "-e", "ip.addr", "-e", "dns.qry.name",
		"-E", "header=y", "-E", "quote=d", "-E", "separator=,", "-E", "occurrence=l", file)
	lines := strings.Split(styled, "\n")
	if lines[0] != "frame.number,ip.addr,dns.qry.name" {
		t.Errorf("header %q", lines[0])
	}
	if want := `"3","` + strings.Split(cells[1], ",")[1] + `",`; lines[1] != want {
		t.Errorf("quoted line %q, want %q (absent fields unquoted)", lines[1], want)
	}
	rows := jsonLines(t, mustRun(t, "analyze", "-Y", "tcp", "-T", "json", "-e", "frame.number", "-e", "ip.addr", "-e", "dns.qry.name", file))
	if len(rows) != len(strings.Split(strings.TrimSpace(plain), "\n")) {
		t.Errorf("%d JSON rows for %d lines", len(rows), len(strings.Split(plain, "\n"))-1)
	}
	if got := str(rows[0], "ip.addr"); got != `["`+strings.ReplaceAll(cells[1], ",", `","`)+`"]` {
		t.Errorf("JSON ip.addr %s, want the two addresses of %q", got, cells[1])
	}
	if _, ok := rows[0]["dns.qry.name"]; ok {
		t.Error("an absent field is in the JSON object")
	}
	csvOut := mustRun(t, "analyze", "-Y", "tcp", "--format", "csv", "-e", "frame.number", "-e", "ip.addr", file)
	if !strings.HasPrefix(csvOut, "frame.number,ip.addr\n3,\""+cells[1]+"\"\n") {
		t.Errorf("CSV starts %q", csvOut[:min(len(csvOut), 80)])
	}
	for _, bad := range [][]string{
		{"-e", "tcp.prot"}, {"-e", "tcp"}, {"-T", "json"}, {"-e", "frame.number", "-E", "quote=x"},
		{"-e", "frame.number", "-E", "nonsense=1"}, {"-e", "frame.number", "--summary"}, {"-e", "frame.number", "-T", "xml"},
	} {
		if _, errOut, code := runCLI(t, append(append([]string{"analyze"}, bad...), file)...); code != exitInput || errOut == "" {
			t.Errorf("analyze %v: exit %d, stderr %q; want a usage error", bad, code, errOut)
		}
	}
}
