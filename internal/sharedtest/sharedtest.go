// Package sharedtest locates the material that tests read from ../shared,
// the folder CI places beside the repository: real public captures with
// their MANIFEST.tsv and tshark's reference counts, and two-point
// scenarios with ground truth. A test that needs it and runs without it is
// skipped with a message that says where it looked.
//
// It is for tests only; nothing in the product imports it.
package sharedtest

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Dir returns the shared folder, ../shared beside the repository root, or
// "" when it is absent. The root is found from the working directory (a
// package directory under go test) by looking for go.mod.
func Dir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(shared); err != nil {
		return ""
	}
	return shared
}

// need returns ../shared/sub when it holds marker, and skips tb otherwise.
func need(tb testing.TB, sub, marker string) string {
	tb.Helper()
	shared := Dir()
	if shared == "" {
		tb.Skip("../shared (beside the repository) not found: shared captures unavailable")
	}
	p := filepath.Join(shared, sub)
	if _, err := os.Stat(filepath.Join(p, marker)); err != nil {
		tb.Skipf("shared material not found at %s: %v", p, err)
	}
	return p
}

// PcapsIfPresent returns ../shared/pcaps, or "" when it is absent: for
// seeding a fuzz corpus or adding frames to a crafted set, where the
// shared captures are welcome but not required.
func PcapsIfPresent() string {
	shared := Dir()
	if shared == "" {
		return ""
	}
	p := filepath.Join(shared, "pcaps")
	if _, err := os.Stat(filepath.Join(p, "MANIFEST.tsv")); err != nil {
		return ""
	}
	return p
}

// Pcaps returns ../shared/pcaps, or skips tb.
func Pcaps(tb testing.TB) string { return need(tb, "pcaps", "MANIFEST.tsv") }

// TwoPoint returns ../shared/twopoint, or skips tb.
func TwoPoint(tb testing.TB) string { return need(tb, "twopoint", "README.md") }

// ManifestEntry is one row of pcaps/MANIFEST.tsv.
type ManifestEntry struct {
	File      string // path relative to the pcaps folder
	Packets   int    // frames tshark reads (before the error, for corrupt files)
	ReadError bool   // tshark reports the file as damaged after Packets frames
}

// Manifest returns the rows of pcaps/MANIFEST.tsv, or skips tb when the
// shared captures are absent.
func Manifest(tb testing.TB) []ManifestEntry {
	tb.Helper()
	f, err := os.Open(filepath.Join(Pcaps(tb), "MANIFEST.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	recs, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("MANIFEST.tsv: %v", err)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	var out []ManifestEntry
	for _, rec := range recs[1:] {
		count := strings.Fields(rec[col["packet_count"]])
		if len(count) == 0 {
			tb.Fatalf("MANIFEST.tsv: %s: no packet_count", rec[0])
		}
		n, err := strconv.Atoi(count[0])
		if err != nil {
			tb.Fatalf("MANIFEST.tsv: %s: packet_count %q", rec[0], rec[col["packet_count"]])
		}
		out = append(out, ManifestEntry{File: rec[0], Packets: n, ReadError: rec[col["read_error"]] != ""})
	}
	return out
}
