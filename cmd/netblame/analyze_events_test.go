package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestEventsMatchTshark compares --events with tshark frame by frame: for
// each Wireshark event kind, the frames --events lists under it (under
// retransmission, fast_retransmission or spurious_retransmission for
// tshark's retransmission filter) are the frames where tshark sets
// tcp.analysis.<kind>. Kinds flowtable's own differential test does not
// compare, and the cells it lists as known mismatches, are left out.
func TestEventsMatchTshark(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	tsharktest.Path(t)
	known := flowtableKnownMismatches(t)
	compared := flowtableComparedEvents(t)
	var kinds []flowtable.Event
	var fields []string
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		if e.Wireshark() && (compared == nil || compared[e]) {
			kinds = append(kinds, e)
			fields = append(fields, "tcp.analysis."+e.String())
		}
	}
	total := 0
	for _, file := range []string{
		"network-impairment/curl_client_lossy2.pcap", "network-impairment/curl_server_lossy.pcap",
		"suricata-verify/syn_retransmit_with_ts.pcap", "tcpreplay/test.pcap", "zeek/retransmit-fast009.pcap",
		"zeek/contentline-irc-5k-line.pcap", "suricata-verify/tcp-opt.pcap",
	} {
		path := filepath.Join(dir, file)
		want := map[flowtable.Event][]uint64{}
		for _, row := range tsharktest.MustFields(t, path, tsharktest.Query{Filter: "tcp.analysis.flags", Fields: append([]string{"frame.number"}, fields...)}) {
			frame, _ := strconv.ParseUint(row[0], 10, 64)
			for i, e := range kinds {
				if row[1+i] != "" {
					want[e] = append(want[e], frame)
				}
			}
		}
		got := map[flowtable.Event][]uint64{}
		for _, r := range jsonLines(t, mustRun(t, "analyze", "--events", "--format", "json", path)) {
			e, ok := flowtable.ParseEvent(str(r, "event"))
			if !ok {
				t.Fatalf("%s: unknown event %q", file, str(r, "event"))
			}
			if e == flowtable.FastRetransmission || e == flowtable.SpuriousRetransmission {
				// tshark's tcp.analysis.retransmission matches these too.
				got[flowtable.Retransmission] = append(got[flowtable.Retransmission], mustUint(t, str(r, "frame")))
			}
			got[e] = append(got[e], mustUint(t, str(r, "frame")))
		}
		for _, e := range kinds {
			g := got[e]
			slices.Sort(g)
			g = slices.Compact(g)
			total += len(g)
			if !slices.Equal(g, want[e]) {
				if known[file+"\t"+e.String()] {
					t.Logf("%s %s: frames differ (flowtable lists it as a known mismatch)", file, e)
					continue
				}
				t.Errorf("%s %s:\n netblame frames %v\n tshark frames   %v", file, e, g, want[e])
			}
		}
	}
	if total == 0 {
		t.Fatal("no event found")
	}
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// TestEventsAgreeWithStats: on every capture with TCP, the rows of
// --events count, kind by kind, what --stats reports.
func TestEventsAgreeWithStats(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	for _, m := range sharedtest.Manifest(t) {
		path := filepath.Join(dir, m.File)
		statsOut, _, _ := runCLI(t, "analyze", "--stats", "--format", "json", path)
		stats := jsonLines(t, statsOut)[0]["events"].(map[string]any)
		eventsOut, _, _ := runCLI(t, "analyze", "--events", "--format", "json", path)
		perKind := map[string]map[string]bool{}
		for _, r := range jsonLines(t, eventsOut) {
			kind := str(r, "event")
			if kind == "fast_retransmission" || kind == "spurious_retransmission" {
				add(perKind, "retransmission", str(r, "frame"))
			}
			add(perKind, kind, str(r, "frame"))
		}
		for kind, v := range stats {
			if got := strconv.Itoa(len(perKind[kind])); got != str(map[string]any{"v": v}, "v") {
				t.Errorf("%s %s: --events lists %s frames, --stats says %v", m.File, kind, got, v)
			}
		}
	}
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

// writeCounter records what is written to it and in how many calls.
type writeCounter struct {
	buf    bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.buf.Write(p)
}

// Rows of a streaming view go out in large writes when stdout is not a
// terminal: a write(2) a row made --events seven times slower on a busy
// capture.
func TestAnalyzeBuffersOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "traffic.pcap")
	if _, err := bench.WriteTraffic(path, bench.DefaultTraffic, 20_000); err != nil {
		t.Fatal(err)
	}
	var out writeCounter
	var errOut bytes.Buffer
	if code := runIO([]string{"analyze", "--events", path}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	rows := bytes.Count(out.buf.Bytes(), []byte("\n"))
	if rows < 200 {
		t.Fatalf("%d rows: the test needs a capture with many events", rows)
	}
	if out.writes*50 > rows {
		t.Errorf("%d writes for %d rows", out.writes, rows)
	}
}
