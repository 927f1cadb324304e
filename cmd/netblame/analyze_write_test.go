package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netblame/netblame/capfile"
)

// readByFrame returns a capture's packets (copies) by frame number.
func readByFrame(t *testing.T, path string) map[uint64]capfile.Packet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]capfile.Packet{}
	var p capfile.Packet
	for {
		if err := r.Next(&p); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		c := p
		c.Data = slices.Clone(p.Data)
		out[p.Frame] = c
	}
}

// TestWriteKeepsShownPackets: -w writes exactly the packets -Y shows, with
// their bytes, lengths and times as read, in order, in the format its name
// asks for.
func TestWriteKeepsShownPackets(t *testing.T) {
	src := "../../samples/twopoint/loss-s2c/span.pcap"
	expr := "tcp.analysis.retransmission or tcp.flags.syn == 1"
	var shown []uint64
	for _, line := range strings.Fields(mustRun(t, "analyze", "-Y", expr, "-e", "frame.number", src)) {
		n, _ := strconv.ParseUint(line, 10, 64)
		shown = append(shown, n)
	}
	if len(shown) < 3 {
		t.Fatalf("-Y %q shows %d packets; the sample should have SYNs and retransmissions", expr, len(shown))
	}
	orig := readByFrame(t, src)
	for _, name := range []string{"out.pcapng", "out.pcap.zst"} {
		out := filepath.Join(t.TempDir(), name)
		mustRun(t, "analyze", "-Y", expr, "-w", out, "--stats", src)
		got := readByFrame(t, out)
		if len(got) != len(shown) {
			t.Fatalf("%s holds %d packets, -Y shows %d", name, len(got), len(shown))
		}
		for i, frame := range shown {
			g, o := got[uint64(i+1)], orig[frame]
			if !slices.Equal(g.Data, o.Data) || g.OrigLen != o.OrigLen || g.Timestamp != o.Timestamp {
				t.Errorf("%s packet %d (frame %d of the source) differs from the source", name, i+1, frame)
			}
		}
	}
}

// TestReadStdin: -r - reads the capture from standard input.
func TestReadStdin(t *testing.T) {
	src := "../../samples/twopoint/clean/span.pcap"
	want := mustRun(t, "analyze", "--stats", src)
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	if got := mustRun(t, "analyze", "--stats", "-r", "-"); got != want {
		t.Errorf("from stdin:\n%s\nfrom the file:\n%s", got, want)
	}
}
