package main

import (
	"bytes"
	"encoding/xml"
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
		b, err := os.ReadFile(svg)
		if err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		n := 0
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: SVG does not parse: %v", kind, err)
			}
			n++
		}
		if n < 20 {
			t.Errorf("%s: SVG of %d tokens", kind, n)
		}
		pngFile := filepath.Join(dir, kind+".png")
		if st := runIO([]string{"analyze", "--plot", kind, "--trace", "10.201.2.2:5201-10.201.1.2:40000", "--size", "640x360", "-o", pngFile, in}, &stdout, &stderr); st != exitOK {
			t.Fatalf("%s png: exit %d: %s", kind, st, stderr.String())
		}
		f, err := os.Open(pngFile)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
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
