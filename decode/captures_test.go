package decode_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// allFrames reads every packet of every shared capture (up to each
// file's first error).
func allFrames(tb testing.TB, dir string) []frame {
	tb.Helper()
	var all []frame
	for _, name := range captureFiles(tb, dir) {
		frames, _, _ := readCapture(filepath.Join(dir, name))
		for i := range frames {
			frames[i].File = name
		}
		all = append(all, frames...)
	}
	return all
}

// captureFiles lists every pcap/pcapng under dir, relative paths.
func captureFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".pcap") || strings.HasSuffix(path, ".pcapng")) {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Skipf("no captures in %s", dir)
	}
	return files
}

// frame is one packet read from a capture.
type frame struct {
	File    string // relative to the shared pcaps directory (allFrames only)
	Number  int    // 1-based, as Wireshark counts
	Data    []byte
	OrigLen int
	Link    decode.LinkType
}

// readCapture reads every packet of a capture with package capfile until
// the end or the first error, which it returns (io.EOF is not an error).
// total counts frames as Wireshark does, including pcapng custom blocks,
// which capfile numbers but does not return.
func readCapture(path string) (frames []frame, total int, err error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	for {
		var p capfile.Packet
		if err := r.Next(&p); err != nil {
			total = int(r.Frames())
			if errors.Is(err, io.EOF) {
				return frames, total, nil
			}
			return frames, total, err
		}
		frames = append(frames, frame{Number: int(p.Frame), Data: bytes.Clone(p.Data), OrigLen: p.OrigLen, Link: p.Link})
	}
}

// manifestCounts maps a capture's relative path to MANIFEST.tsv's
// packet_count, for the rows where it is a plain number.
func manifestCounts(tb testing.TB, dir string) map[string]int {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	col := -1
	for i, name := range strings.Split(lines[0], "\t") {
		if name == "packet_count" {
			col = i
		}
	}
	if col < 0 {
		tb.Fatal("MANIFEST.tsv has no packet_count column")
	}
	counts := map[string]int{}
	for _, line := range lines[1:] {
		f := strings.Split(line, "\t")
		if len(f) <= col {
			continue
		}
		// "1 (read until error)" counts the packets before the error.
		n, err := strconv.Atoi(strings.Fields(f[col] + " x")[0])
		if err == nil {
			counts[f[0]] = n
		}
	}
	return counts
}
