package capfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
)

// writeTimes writes a pcap file at path whose packets carry the given
// timestamps and, as their only byte, their index in the file.
func writeTimes(t *testing.T, path string, times ...int64) {
	t.Helper()
	w, err := Create(path, decode.LinkEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, ts := range times {
		if err := w.WritePacket(ts, []byte{byte(i)}, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMerged reads rotated and overlapping files as one stream in time
// order, numbered as mergecap numbers its output.
func TestMerged(t *testing.T) {
	dir := t.TempDir()
	writeTimes(t, filepath.Join(dir, "cap.pcap0"), 10, 20, 30)
	writeTimes(t, filepath.Join(dir, "cap.pcap1"), 40, 50)
	writeTimes(t, filepath.Join(dir, "other.pcapng.1.zst"), 15, 30, 45) // not really zstd: only named
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)

	files, err := CaptureFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"cap.pcap0", "cap.pcap1", "other.pcapng.1.zst"}; !slices.Equal(names, want) {
		t.Errorf("capture files %v, want %v", names, want)
	}

	m, err := OpenMerged(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.RecordOrigins()
	type got struct {
		frame uint64
		ts    int64
		idx   byte
	}
	var seq []got
	var p Packet
	for {
		err := m.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, got{p.Frame, p.Timestamp, p.Data[0]})
	}
	// On the tie at 30 the first file's packet comes first.
	want := []got{{1, 10, 0}, {2, 15, 0}, {3, 20, 1}, {4, 30, 2}, {5, 30, 1}, {6, 40, 0}, {7, 45, 2}, {8, 50, 1}}
	if !slices.Equal(seq, want) {
		t.Errorf("merged stream\n %v\nwant\n %v", seq, want)
	}
	if err := m.Next(&p); err != io.EOF {
		t.Errorf("after the end: %v, want io.EOF", err)
	}
	// Locate: each merged frame's file and its frame in that file alone
	// (the index byte + 1, as the packets were written).
	for _, g := range seq {
		file, ff, ok := m.Locate(g.frame)
		wantFile := map[int64]int{10: 0, 20: 0, 40: 1, 50: 1, 15: 2, 45: 2}[g.ts]
		if g.ts == 30 {
			wantFile = map[byte]int{2: 0, 1: 2}[g.idx] // cap.pcap0's third packet, other's second
		}
		if !ok || file != wantFile || ff != uint64(g.idx)+1 {
			t.Errorf("Locate(%d) = %d, %d, %v; want file %d frame %d", g.frame, file, ff, ok, wantFile, g.idx+1)
		}
	}
	for _, bad := range []uint64{0, 9} {
		if _, _, ok := m.Locate(bad); ok {
			t.Errorf("Locate(%d) ok, want not", bad)
		}
	}
}

// TestMergedDamage: a file cut short is read up to the cut, the others to
// their end; the damage, naming the file, is returned once, then io.EOF.
func TestMergedDamage(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	writeTimes(t, a, 1, 3, 5, 7)
	writeTimes(t, b, 2, 4, 6, 8)
	raw, _ := os.ReadFile(a)
	os.WriteFile(a, raw[:len(raw)-10], 0o644) // the last record cut short

	m, err := OpenMerged(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var p Packet
	var times []int64
	for m.Next(&p) == nil {
		times = append(times, p.Timestamp)
	}
	if want := []int64{1, 2, 3, 4, 5, 6, 8}; !slices.Equal(times, want) {
		t.Errorf("read %v, want %v", times, want)
	}
	m2, _ := OpenMerged(a, b)
	defer m2.Close()
	var errs []error
	for {
		err := m2.Next(&p)
		if err == nil {
			continue
		}
		errs = append(errs, err)
		if len(errs) == 3 {
			break
		}
	}
	var fe *FormatError
	if !errors.As(errs[0], &fe) || !strings.Contains(errs[0].Error(), "a.pcap") || errs[1] != io.EOF || errs[2] != io.EOF {
		t.Errorf("errors %v; want the damage of a.pcap once, then io.EOF", errs)
	}
	if _, err := OpenMerged(a, filepath.Join(dir, "missing.pcap")); err == nil {
		t.Error("a missing file opened")
	}
	if _, err := CaptureFiles(t.TempDir()); err == nil {
		t.Error("an empty directory gave capture files")
	}
}

// TestMergedAllocs: merging adds no allocation per packet.
func TestMergedAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -cover or -race")
	}
	dir := t.TempDir()
	var ta, tb []int64
	for i := range int64(2000) {
		ta, tb = append(ta, 2*i), append(tb, 2*i+1)
	}
	writeTimes(t, filepath.Join(dir, "a.pcap"), ta...)
	writeTimes(t, filepath.Join(dir, "b.pcap"), tb...)
	m, err := OpenMerged(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var p Packet
	if n := testing.AllocsPerRun(1000, func() {
		if err := m.Next(&p); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%.1f allocations per packet, want 0", n)
	}
}
