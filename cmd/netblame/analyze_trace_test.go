package main

import (
	"github.com/netblame/netblame/internal/tsharktest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTraceMatchesTshark compares --trace with tshark's view of the same
// TCP stream, frame by frame: the frames listed, the direction (client =
// sender of the first SYN), the time since the stream's first packet
// (tcp.time_relative as flow_time, frame.time_relative as time), relative seq and ack (tcp.relative_sequence_numbers,
// the default), payload length and the scaled window (tcp.window_size).
// The flow is named by its endpoints, server first, to exercise the
// either-order form.
func TestTraceMatchesTshark(t *testing.T) {
	tsharktest.Path(t)
	type traceCase struct {
		file   string
		stream string
	}
	cases := []traceCase{{resetScenario(t), "1"}}
	if dir := sharedDirOrEmpty(); dir != "" {
		for _, c := range []traceCase{
			{"network-impairment/curl_client_lossy2.pcap", "0"},
			{"network-impairment/curl_server_lossy.pcap", "1"},
			{"gopacket/test_loopback.pcap", "0"},
			{"filesamples/200722_tcp_anon.pcapng", "1"},
			{"zeek/option-sack.pcap", "0"},
		} {
			cases = append(cases, traceCase{filepath.Join(dir, c.file), c.stream})
		}
	}
	for _, c := range cases {
		name := filepath.Base(c.file) + " stream " + c.stream
		var st *tsharkStream
		for _, s := range tsharkStreams(t, c.file) {
			if s.id == c.stream {
				st = s
			}
		}
		if st == nil {
			t.Fatalf("%s: tshark shows no such stream", name)
		}
		want := tsharktest.MustFields(t, c.file, tsharktest.Query{
			Prefs:  []string{"tcp.relative_sequence_numbers:TRUE", "tcp.calculate_timestamps:TRUE"},
			Filter: "tcp.stream==" + c.stream,
			Fields: []string{"frame.number", "tcp.seq", "tcp.ack", "tcp.len", "tcp.window_size", "tcp.time_relative", "tcp.flags.ack",
				"ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "frame.time_relative"}})
		first := want[0]
		ep := func(addr, port string) string {
			if strings.Contains(addr, ":") {
				return "[" + addr + "]:" + port
			}
			return addr + ":" + port
		}
		src, dst := ep(first[7]+first[8], first[9]), ep(first[10]+first[11], first[12])
		server := dst
		if src != st.client {
			server = src
		}
		rows := jsonLines(t, mustRun(t, "analyze", "--trace", server+"-"+st.client, "--format", "json", c.file))
		if len(rows) != len(want) {
			t.Errorf("%s: %d rows, tshark %d frames", name, len(rows), len(want))
			continue
		}
		for i, r := range rows {
			w := want[i]
			where := name + " frame " + w[0]
			dir := "s2c"
			if ep(w[7]+w[8], w[9]) == st.client {
				dir = "c2s"
			}
			ack := ""
			if w[6] == "1" || w[6] == "True" {
				ack = w[2]
			}
			for _, f := range []struct{ key, got, want string }{
				{"frame", str(r, "frame"), w[0]},
				{"dir", str(r, "dir"), dir},
				{"seq", str(r, "seq"), w[1]},
				{"ack", str(r, "ack"), ack},
				{"len", str(r, "len"), w[3]},
				{"win", str(r, "win"), w[4]},
				{"flow_time", decimalSeconds(epochNS(t, str(r, "flow_time"))), decimalSeconds(epochNS(t, w[5]))},
				{"time", decimalSeconds(epochNS(t, str(r, "time"))), decimalSeconds(epochNS(t, w[13]))},
			} {
				if f.got != f.want {
					t.Errorf("%s: %s = %q, tshark %q", where, f.key, f.got, f.want)
				}
			}
		}
	}
}

// TestTraceByIndex: tracing a flow by the index the table shows lists the
// same packets as tracing it by its endpoints; an unknown flow is an error.
func TestTraceByIndex(t *testing.T) {
	file := resetScenario(t)
	var index string
	for _, r := range jsonLines(t, mustRun(t, "analyze", "--format", "json", file)) {
		if str(r, "client") == "10.0.0.1:40004" {
			index = str(r, "index")
		}
	}
	if index == "" {
		t.Fatal("the flow table has no flow from port 40004")
	}
	byIndex := mustRun(t, "analyze", "--trace", index, file)
	byEndpoints := mustRun(t, "analyze", "--trace", "10.0.0.1:40004-10.0.0.9:80", file)
	if byIndex != byEndpoints {
		t.Errorf("--trace %s:\n%s\n--trace 10.0.0.1:40004-10.0.0.9:80:\n%s", index, byIndex, byEndpoints)
	}
	lines := strings.Split(strings.TrimSpace(byIndex), "\n")
	// The flow's 9 packets: handshake, one exchange, close; plus the header.
	if len(lines) != 10 {
		t.Errorf("want a header and 9 packets, got:\n%s", byIndex)
	}
	arrows := 0
	for _, l := range lines[1:] {
		if strings.Contains(l, "-->") || strings.Contains(l, "<--") {
			arrows++
		}
	}
	if arrows != 9 {
		t.Errorf("every packet row should carry --> or <--:\n%s", byIndex)
	}
	for _, spec := range []string{"10.0.0.1:1-10.0.0.9:80", "999"} {
		_, errOut, code := runCLI(t, "analyze", "--trace", spec, file)
		if code != exitInput || !strings.Contains(errOut, "no packet of flow") {
			t.Errorf("--trace %s: exit %d, stderr %q; want exit 1 saying no packet matched", spec, code, errOut)
		}
	}
}

// TestFlowTableView checks the default view on the hand-made capture: one
// row a flow in index order, clients first, the filters, --sort and --top.
func TestFlowTableView(t *testing.T) {
	file := resetScenario(t)
	rows := jsonLines(t, mustRun(t, "analyze", "--format", "json", file))
	var clients []string
	for i, r := range rows {
		clients = append(clients, str(r, "client"))
		if str(r, "index") != strconv.Itoa(i) {
			t.Errorf("row %d has index %s", i, str(r, "index"))
		}
		if str(r, "server") != "10.0.0.9:80" {
			t.Errorf("row %d: server %s", i, str(r, "server"))
		}
	}
	// Flows are numbered in the order their first packets appear.
	wantClients := []string{"10.0.0.1:40001", "10.0.0.2:50000", "10.0.0.1:40003", "10.0.0.1:40002", "10.0.0.1:40004", "10.0.0.1:40005"}
	if !slices.Equal(clients, wantClients) {
		t.Errorf("clients %v, want %v", clients, wantClients)
	}
	for _, r := range rows {
		switch str(r, "client") {
		case "10.0.0.1:40001":
			if str(r, "reset_by") != "client" || str(r, "packets_c2s") != "5" || str(r, "packets_s2c") != "2" {
				t.Errorf("flow A: %v", r)
			}
		case "10.0.0.1:40002":
			if str(r, "reset_by") != "server" || str(r, "handshake_s") != "0.400000000" {
				t.Errorf("flow B: %v", r)
			}
		case "10.0.0.1:40003":
			if str(r, "fin_first_by") != "client" || r["reset_by"] != nil {
				t.Errorf("flow C: %v", r)
			}
		}
	}

	// --host and --port keep the flows with a matching endpoint.
	only := jsonLines(t, mustRun(t, "analyze", "--format", "json", "--host", "10.0.0.2", file))
	if len(only) != 1 || str(only[0], "client") != "10.0.0.2:50000" {
		t.Errorf("--host 10.0.0.2: %v", only)
	}
	only = jsonLines(t, mustRun(t, "analyze", "--format", "json", "--port", "40003", "--port", "40004", file))
	if len(only) != 2 {
		t.Errorf("--port 40003 --port 40004: %d rows, want 2", len(only))
	}
	only = jsonLines(t, mustRun(t, "analyze", "--format", "json", "--host", "10.0.0.0/24", "--port", "50000", file))
	if len(only) != 1 {
		t.Errorf("--host 10.0.0.0/24 --port 50000: %d rows, want 1", len(only))
	}

	// --sort duration_s puts the longest first; --top 2 keeps two.
	top := jsonLines(t, mustRun(t, "analyze", "--format", "json", "--sort", "duration_s", "--top", "2", file))
	if len(top) != 2 || str(top[0], "client") != "10.0.0.2:50000" || str(top[1], "client") != "10.0.0.1:40002" {
		t.Errorf("--sort duration_s --top 2: %v", top)
	}
	asc := jsonLines(t, mustRun(t, "analyze", "--format", "json", "--sort", "+duration_s", "--top", "1", file))
	if len(asc) != 1 || str(asc[0], "client") != "10.0.0.1:40003" {
		t.Errorf("--sort +duration_s --top 1: %v", asc)
	}
	if _, _, code := runCLI(t, "analyze", "--sort", "nonsense", file); code != exitInput {
		t.Errorf("--sort nonsense: exit %d, want 1", code)
	}

	// CSV: a header and one line a flow.
	csvOut := mustRun(t, "analyze", "--format", "csv", file)
	if lines := strings.Split(strings.TrimSpace(csvOut), "\n"); len(lines) != 1+len(rows) || !strings.HasPrefix(lines[0], "INDEX,PROTO,CLIENT,SERVER") {
		t.Errorf("csv:\n%s", csvOut)
	}
}
