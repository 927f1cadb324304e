package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestStatsCorruptFile: on a pcap whose 19th record header claims a 3.9 GB
// packet, --stats prints the totals of the 18 good packets, names the
// file and the byte offset of the bad record on stderr, and exits 1. The
// expected offset is computed from tshark's captured lengths: the 24-byte
// file header plus a 16-byte header and the data of each good record.
func TestStatsCorruptFile(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	const name = "suricata-verify/10.7.29.101_49898-178.63.41.150_25.pcap"
	path := filepath.Join(dir, name)
	out, errOut, code := runCLI(t, "analyze", "--stats", "--format", "json", path)
	if code != exitInput {
		t.Errorf("exit status %d, want %d", code, exitInput)
	}
	rows := jsonLines(t, out)
	if len(rows) != 1 {
		t.Fatalf("want one JSON object, got %d: %q", len(rows), out)
	}
	if got := str(rows[0], "packets"); got != "18" {
		t.Errorf("packets = %s, want the 18 read before the bad record", got)
	}
	if !strings.Contains(errOut, name) {
		t.Errorf("stderr does not name the file: %q", errOut)
	}
	ts := tsharktest.MustFields(t, path, tsharktest.Query{Fields: []string{"frame.cap_len"}})
	if len(ts) != 18 {
		t.Fatalf("tshark read %d frames, want 18", len(ts))
	}
	off := 24
	for _, f := range ts {
		n, _ := strconv.Atoi(f[0])
		off += 16 + n
	}
	if want := "offset " + strconv.Itoa(off); !strings.Contains(errOut, want) {
		t.Errorf("stderr %q does not contain %q", errOut, want)
	}
}

// TestCorruptFileKeepsGoing: with several files, a corrupt one does not stop
// the others; each gets its own object labelled with its name.
func TestCorruptFileKeepsGoing(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	bad := filepath.Join(dir, "gopacket/le/test901.pcapng")
	good := filepath.Join(dir, "tcpdump/tcp-handshake-nano.pcap")
	out, errOut, code := runCLI(t, "analyze", "--stats", "--format", "json", bad, good)
	if code != exitInput {
		t.Errorf("exit status %d, want %d", code, exitInput)
	}
	rows := jsonLines(t, out)
	if len(rows) != 2 {
		t.Fatalf("want two objects, got %q", out)
	}
	for i, want := range []struct{ file, packets string }{{bad, "1"}, {good, "3"}} {
		if str(rows[i], "file") != want.file || str(rows[i], "packets") != want.packets {
			t.Errorf("object %d = %v, want file %s with %s packets", i, rows[i], want.file, want.packets)
		}
	}
	if !strings.Contains(errOut, bad) || strings.Contains(errOut, good) {
		t.Errorf("stderr should name only the corrupt file: %q", errOut)
	}
}

// TestUsageErrors: bad flags and missing files exit 1 with a message.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"analyze"},
		{"analyze", "--format", "xml", "x.pcap"},
		{"analyze", "--summary", "--stats", "x.pcap"},
		{"analyze", "--port", "70000", "x.pcap"},
		{"analyze", "--host", "not-an-ip", "x.pcap"},
		{"analyze", "/nonexistent/file.pcap"},
		{"analyze", "--no-such-flag", "x.pcap"},
		{"no-such-command"},
		{"bench", "unexpected-argument"},
	} {
		_, errOut, code := runCLI(t, args...)
		if code != exitInput || errOut == "" {
			t.Errorf("netblame %s: exit %d, stderr %q; want exit 1 with a message", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestSeveralFilesCSV: with several files, CSV output of every view has a
// single header line and a file column naming each row's file; text
// output heads each file's part with "# FILE".
func TestSeveralFilesCSV(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	a := filepath.Join(dir, "tcpdump/tcp-handshake-nano.pcap")
	b := filepath.Join(dir, "zeek/option-sack.pcap")
	for _, c := range []struct {
		view         []string
		rowsA, rowsB bool // whether each file has rows in this view
	}{
		{[]string{"--stats"}, true, true},
		{[]string{"--summary"}, true, true},
		{nil, true, true},
		{[]string{"--events"}, false, true}, // the handshake has no event
		{[]string{"--handshake-over", "1ms"}, true, false},
	} {
		args := append(append([]string{"analyze", "--format", "csv"}, c.view...), a, b)
		out := mustRun(t, args...)
		headers, fromA, fromB := 0, 0, 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			switch {
			case strings.HasPrefix(strings.ToLower(l), "file,"):
				headers++
			case strings.HasPrefix(l, a+","):
				fromA++
			case strings.HasPrefix(l, b+","):
				fromB++
			default:
				t.Errorf("%v: line without a file: %q", c.view, l)
			}
		}
		if headers != 1 || (fromA > 0) != c.rowsA || (fromB > 0) != c.rowsB {
			t.Errorf("%v: %d header lines, %d rows of %s, %d of %s:\n%s", c.view, headers, fromA, a, fromB, b, out)
		}
	}
	text := mustRun(t, "analyze", a, b)
	if !strings.HasPrefix(text, "# "+a+"\n") || !strings.Contains(text, "\n# "+b+"\n") {
		t.Errorf("text output does not head each file:\n%s", text)
	}
}

// TestStatsFramesMatchManifest: --stats reports, for every shared capture,
// the frame count MANIFEST.tsv gives (tshark's, including pcapng blocks
// that Wireshark numbers without a packet in them and, for corrupt files,
// the frames read before the error).
func TestStatsFramesMatchManifest(t *testing.T) {
	dir := sharedtest.Pcaps(t)
	for _, m := range sharedtest.Manifest(t) {
		out, _, code := runCLI(t, "analyze", "--stats", "--format", "json", filepath.Join(dir, m.File))
		if want := map[bool]int{false: exitOK, true: exitInput}[m.ReadError]; code != want {
			t.Errorf("%s: exit status %d, want %d", m.File, code, want)
		}
		rows := jsonLines(t, out)
		if len(rows) != 1 {
			t.Fatalf("%s: want one JSON object, got %q", m.File, out)
		}
		if got := str(rows[0], "frames"); got != strconv.Itoa(m.Packets) {
			t.Errorf("%s: frames = %s, MANIFEST says %d", m.File, got, m.Packets)
		}
	}
}
