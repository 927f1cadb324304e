package capfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// manifestEntry is one row of ../shared/pcaps/MANIFEST.tsv.
type manifestEntry struct {
	File    string // relative to the pcaps directory
	Packets int    // packets to read (before the error, for corrupt files)
	Corrupt bool   // reading must end in a *FormatError
}

// sharedPcaps returns the shared capture directory, skipping the test
// when it is absent.
func sharedPcaps(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("repository root (go.mod) not found; cannot locate ../shared")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "pcaps")
	if _, err := os.Stat(filepath.Join(p, "MANIFEST.tsv")); err != nil {
		tb.Skipf("shared captures not found at %s (clone shared/ beside the repository)", p)
	}
	return p
}

func readManifest(tb testing.TB) (string, []manifestEntry) {
	dir := sharedPcaps(tb)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var out []manifestEntry
	col := map[string]int{}
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(col) == 0 {
			for i, name := range fields {
				col[name] = i
			}
			continue
		}
		count := fields[col["packet_count"]]
		e := manifestEntry{File: fields[col["file"]]}
		if strings.Contains(count, "read until error") {
			e.Corrupt = true
			count = strings.Fields(count)[0]
		}
		e.Packets, err = strconv.Atoi(count)
		if err != nil {
			tb.Fatalf("MANIFEST %s: bad packet_count %q", e.File, count)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatal("MANIFEST.tsv lists no captures")
	}
	return dir, out
}

// readAll reads every packet of r, copying them, until the first error.
func readAll(r *Reader) ([]Packet, error) {
	var out []Packet
	var p Packet
	for {
		err := r.Next(&p)
		if err != nil {
			return out, err
		}
		c := p
		c.Data = append([]byte(nil), p.Data...)
		out = append(out, c)
	}
}

func TestSharedCaptures(t *testing.T) {
	dir, files := readManifest(t)
	for _, e := range files {
		t.Run(e.File, func(t *testing.T) {
			r, err := Open(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			pkts, err := readAll(r)
			// MANIFEST counts frames as tshark does, custom blocks included.
			if r.Frames() != uint64(e.Packets) {
				t.Errorf("read %d frames (%d packets), MANIFEST says %d (err %v)", r.Frames(), len(pkts), e.Packets, err)
			}
			var last uint64
			for _, p := range pkts {
				if p.Frame <= last || p.Frame > r.Frames() {
					t.Fatalf("frame number %d after %d (of %d frames)", p.Frame, last, r.Frames())
				}
				last = p.Frame
				if p.OrigLen < len(p.Data) && !e.Corrupt {
					t.Errorf("frame %d: orig len %d < captured %d", p.Frame, p.OrigLen, len(p.Data))
				}
			}
			if !e.Corrupt {
				if err != io.EOF {
					t.Fatalf("ended with %v, want io.EOF", err)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ended with %v (%T), want *FormatError", err, err)
			}
			st, _ := os.Stat(filepath.Join(dir, e.File))
			if fe.Offset <= 0 || fe.Offset >= st.Size() {
				t.Errorf("error offset %d outside the file (size %d): %v", fe.Offset, st.Size(), fe)
			}
			if fe.Frame != uint64(e.Packets) {
				t.Errorf("error says after frame %d, read %d: %v", fe.Frame, e.Packets, fe)
			}
			if again := r.Next(new(Packet)); again != err {
				t.Errorf("Next after the error returned %v, want the same error", again)
			}
			t.Logf("%v", fe)
		})
	}
}
