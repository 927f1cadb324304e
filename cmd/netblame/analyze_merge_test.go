package main

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/internal/sharedtest"
)

// splitCapture writes the packets of path into two pcap files, the first
// n packets into one and the rest into the other, as a rotation would.
func splitCapture(t *testing.T, path string, n int) (a, b string, total int) {
	t.Helper()
	r, err := capfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dir := t.TempDir()
	a, b = filepath.Join(dir, "part0.pcap"), filepath.Join(dir, "part1.pcap")
	var w [2]*capfile.Writer
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		if total >= n {
			i = 1
		}
		if w[i] == nil {
			if w[i], err = capfile.Create([]string{a, b}[i], p.Link, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := w[i].WritePacket(p.Timestamp, p.Data, p.OrigLen); err != nil {
			t.Fatal(err)
		}
		total++
	}
	for _, x := range w {
		if x == nil {
			t.Fatalf("%s: fewer than %d packets", path, n+1)
		}
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return a, b, total
}

// TestMergeEqualsSingleFile: a capture split into two files and read
// with --merge gives the same flows, events, totals and packet lines as
// the capture read whole, the frames labelled FILE:FRAME with their
// number in their part.
func TestMergeEqualsSingleFile(t *testing.T) {
	files := []string{"../../samples/twopoint/loss-s2c/span.pcap"}
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		files = append(files, filepath.Join(dir, "network-impairment/curl_client_lossy2.pcap"))
	} else {
		t.Log("../shared not found: only the repository's sample is split")
	}
	views := [][]string{{"--sort", "index"}, {"--events"}, {"--summary"}, {"--stats"}, {"--reset-by", "client"}}
	for _, file := range files {
		var stats struct{ Packets int }
		if err := json.Unmarshal([]byte(mustRun(t, "analyze", "--stats", "--format", "json", file)), &stats); err != nil {
			t.Fatal(err)
		}
		half := stats.Packets / 2
		a, b, total := splitCapture(t, file, half)
		if total != stats.Packets {
			t.Fatalf("%s: split %d packets, --stats counts %d", file, total, stats.Packets)
		}
		label := regexp.MustCompile(`^(.*):([0-9]+)$`)
		for _, view := range views {
			args := append([]string{"analyze", "--format", "json"}, view...)
			want := jsonLines(t, mustRun(t, append(args, file)...))
			got := jsonLines(t, mustRun(t, append(append(args, "--merge"), a, b)...))
			labelled := 0
			for _, row := range got {
				for k, v := range row {
					s, ok := v.(string)
					m := label.FindStringSubmatch(s)
					if !ok || m == nil || (m[1] != a && m[1] != b) {
						continue
					}
					f, _ := strconv.Atoi(m[2])
					if m[1] == b {
						f += half
					}
					row[k] = json.Number(strconv.Itoa(f))
					labelled++
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s %v: --merge of two parts: %d rows, the whole file %d", file, view, len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("%s %v row %d: --merge of two parts\n %v\nthe whole file\n %v", file, view, i, got[i], want[i])
					break
				}
			}
			if len(want) > 0 && labelled == 0 && view[0] != "--stats" && view[0] != "--reset-by" {
				t.Errorf("%s %v: no frame labelled FILE:FRAME", file, view)
			}
		}
		if w, g := mustRun(t, "analyze", "-V", "-c", "5", file), mustRun(t, "analyze", "-V", "-c", "5", "--merge", a, b); w != g {
			t.Errorf("%s -V: --merge differs from the whole file", file)
		}
	}
}
