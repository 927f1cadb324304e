package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlotFlag writes each kind of static plot of a traced flow, as SVG
// (parsed back as XML) and PNG (decoded, at the asked size), and rejects
// bad combinations with exit status 1.
func TestPlotFlag(t *testing.T) {
	dir := t.TempDir()
	in := "../../samples/twopoint/loss-s2c/span.pcap"
	for _, kind := range []string{"window", "tseq", "rtt", "throughput"} {
		svg := filepath.Join(dir, kind+".svg")
		var stdout, stderr bytes.Buffer
		if st := runIO([]string{"analyze", "--plot", kind, "--trace", "0", "-o", svg, in}, &stdout, &stderr); st != exitOK {
			t.Fatalf("%s: exit %d: %s", kind, st, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: printed %q besides the plot", kind, stdout.String())
		}
		n, _ := readSVG(t, svg)
		if n < 20 {
			t.Errorf("%s: SVG of %d tokens", kind, n)
		}
		pngFile := filepath.Join(dir, kind+".png")
		if st := runIO([]string{"analyze", "--plot", kind, "--trace", "10.201.2.2:5201-10.201.1.2:40000", "--size", "640x360", "-o", pngFile, in}, &stdout, &stderr); st != exitOK {
			t.Fatalf("%s png: exit %d: %s", kind, st, stderr.String())
		}
		img := readPNG(t, pngFile)
		if sz := img.Bounds().Size(); sz.X != 640 || sz.Y != 360 {
			t.Errorf("%s: PNG %v, want 640x360", kind, sz)
		}
		colors := map[uint32]bool{}
		for y := 0; y < 360; y += 3 {
			for x := 0; x < 640; x += 3 {
				r, g, b, _ := img.At(x, y).RGBA()
				colors[r>>8<<16|g>>8<<8|b>>8] = true
			}
		}
		if len(colors) < 3 {
			t.Errorf("%s: PNG of %d colours: blank", kind, len(colors))
		}
	}
	out := filepath.Join(dir, "x.svg")
	for _, args := range [][]string{
		{"analyze", "--plot", "window", "-o", out, in},                                         // no --trace
		{"analyze", "--plot", "pie", "--trace", "0", "-o", out, in},                            // bad kind
		{"analyze", "--plot", "window", "--trace", "0", "-o", filepath.Join(dir, "x.gif"), in}, // bad extension
		{"analyze", "--plot", "window", "--trace", "0", "--size", "10x10", "-o", out, in},      // bad size
		{"analyze", "--plot", "window", "--trace", "0", "-o", out, in, in},                     // two files
		{"analyze", "--trace", "0", "-o", out, in},                                             // -o without --plot
	} {
		var stdout, stderr bytes.Buffer
		if st := runIO(args, &stdout, &stderr); st != exitInput {
			t.Errorf("%s: exit %d, want %d", strings.Join(args, " "), st, exitInput)
		}
	}
}

// TestBlamePlotTransit draws the two-point delay plot of a shipped sample
// pair, whose generator recorded the packets lost between the points: the
// SVG parses back as XML and its legend counts as many losses as the
// truth holds; the PNG has the asked size. Bad flags exit with status 1.
func TestBlamePlotTransit(t *testing.T) {
	dir := t.TempDir()
	pair := "../../samples/twopoint/loss-s2c/"
	var truth struct {
		LostS2C int `json:"net_lost_s2c"`
	}
	b, err := os.ReadFile(pair + "truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil || truth.LostS2C == 0 {
		t.Fatalf("truth.json: %v, %d lost s2c", err, truth.LostS2C)
	}
	svg := filepath.Join(dir, "transit.svg")
	var stdout, stderr bytes.Buffer
	if st := runIO([]string{"blame", "--plot", "transit", "-o", svg, pair + "span.pcap", pair + "server.pcap"}, &stdout, &stderr); st != exitOK {
		t.Fatalf("exit %d: %s", st, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "verdict: network") {
		t.Errorf("blame output with --plot: %q", stdout.String())
	}
	_, text := readSVG(t, svg)
	for _, want := range []string{"client to server", "server to client", fmt.Sprintf("lost between the points (s2c) (%d)", truth.LostS2C)} {
		if !strings.Contains(text, want) {
			t.Errorf("SVG text lacks %q:\n%s", want, text)
		}
	}

	pngFile := filepath.Join(dir, "transit.png")
	if st := runIO([]string{"blame", "--plot", "transit", "--size", "800x400", "-o", pngFile, pair + "span.pcap", pair + "server.pcap"}, &stdout, &stderr); st != exitOK {
		t.Fatalf("png: exit %d: %s", st, stderr.String())
	}
	if sz := readPNG(t, pngFile).Bounds().Size(); sz.X != 800 || sz.Y != 400 {
		t.Errorf("PNG %v, want 800x400", sz)
	}

	for _, args := range [][]string{
		{"blame", "--plot", "tseq", "-o", svg},                            // analyze's kind
		{"blame", "--plot", "transit", "-o", filepath.Join(dir, "x.gif")}, // bad extension
		{"blame", "-o", svg},                                              // -o without --plot
	} {
		args = append(args, pair+"span.pcap", pair+"server.pcap")
		if st := runIO(args, &stdout, &stderr); st != exitInput {
			t.Errorf("%s: exit %d, want %d", strings.Join(args, " "), st, exitInput)
		}
	}
}

// readPNG decodes the PNG file at path.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// readSVG parses the SVG file at path as XML, failing t if it does not
// parse, and returns its number of tokens and its text.
func readSVG(t *testing.T, path string) (int, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	dec := xml.NewDecoder(bytes.NewReader(b))
	for n := 0; ; n++ {
		tok, err := dec.Token()
		if err == io.EOF {
			return n, text.String()
		}
		if err != nil {
			t.Fatalf("%s: SVG does not parse: %v", path, err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
		}
	}
}
