package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// detailTrees splits -V output into frames: frame number, then each
// "name: value" line as name and value.
func detailTrees(t *testing.T, out string) (frames []string, fields []map[string][]string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "Frame "):
			n, _, _ := strings.Cut(strings.TrimPrefix(line, "Frame "), ":")
			frames = append(frames, n)
			fields = append(fields, map[string][]string{})
		case strings.HasPrefix(line, "    "):
			name, value, ok := strings.Cut(strings.TrimSpace(line), ": ")
			if !ok || len(fields) == 0 {
				t.Fatalf("line %q: not name: value under a frame", line)
			}
			fields[len(fields)-1][name] = append(fields[len(fields)-1][name], value)
		}
	}
	return frames, fields
}

// TestDetailAgreesWithTshark: -V -Y EXPR -c N prints the first N packets
// the filter keeps, each field of their trees with the values tshark's -T
// fields -e prints for that field and frame (the TCP analysis flags and
// relative numbers of retransmissions, a DNS response's names and
// addresses).
func TestDetailAgreesWithTshark(t *testing.T) {
	tsharktest.Need40(t)
	dir := sharedtest.Pcaps(t)
	for _, c := range []struct {
		file, filter string
		count        int
	}{
		{"network-impairment/curl_client_lossy2.pcap", "tcp.analysis.retransmission", 3},
		{"zeek/pcapng-multi-interface.pcapng", "dns", 2},
		{"zeek/openjdk-25.0.2-zeek.org.pcap", "tls.handshake.type == 1", 1},
	} {
		path := filepath.Join(dir, c.file)
		out := mustRun(t, "analyze", "-V", "-Y", c.filter, "-c", strconv.Itoa(c.count), path)
		frames, trees := detailTrees(t, out)
		want := tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"frame.number"}, Filter: c.filter})
		if len(want) < c.count {
			t.Fatalf("%s: tshark -Y %q keeps %d frames", c.file, c.filter, len(want))
		}
		var first []string
		for _, row := range want[:c.count] {
			first = append(first, row[0])
		}
		if !slices.Equal(frames, first) {
			t.Errorf("%s -Y %q -c %d: frames %v, tshark's first %v", c.file, c.filter, c.count, frames, first)
			continue
		}
		compared := 0
		for i, tree := range trees {
			var names []string
			for name := range tree {
				if !strings.HasPrefix(name, "netblame.") { // netblame's own events: tshark has none
					names = append(names, name)
				}
			}
			slices.Sort(names)
			rows := tsharktest.MustFields(t, path, tsharktest.Query{Fields: names, All: true, Filter: "frame.number == " + frames[i],
				Prefs: []string{"tcp.desegment_tcp_streams:FALSE"}})
			if len(rows) != 1 {
				t.Fatalf("%s frame %s: tshark printed %d rows", c.file, frames[i], len(rows))
			}
			for j, name := range names {
				theirs := strings.Split(rows[0][j], ",")
				for _, v := range tree[name] {
					compared++
					if !slices.Contains(theirs, v) {
						t.Errorf("%s frame %s: %s: %s, tshark %q", c.file, frames[i], name, v, rows[0][j])
					}
				}
			}
		}
		t.Logf("%s -Y %q: %d frames, %d field values agree with tshark", c.file, c.filter, len(frames), compared)
	}
}
