package report_test

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"strconv"
	"testing"

	"github.com/netblame/netblame/report"
)

// TestWritePlot draws every kind of plot of a flow as SVG and PNG, parses
// the SVG back as XML and decodes the PNG, and checks their size and that
// they are not blank.
func TestWritePlot(t *testing.T) {
	d := twoPoint(t, "loss-s2c", report.Options{})
	for _, kind := range []string{"tseq", "window", "rtt", "throughput", "transit"} {
		p := report.FindPlot(d, kind)
		if p == nil {
			t.Fatalf("no %s plot", kind)
		}
		t.Run(kind, func(t *testing.T) {
			var svg bytes.Buffer
			if err := report.WritePlot(&svg, p, "svg", 900, 500); err != nil {
				t.Fatal(err)
			}
			dec := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
			var root *xml.StartElement
			elems := 0
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("SVG does not parse: %v", err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					elems++
					if root == nil {
						c := se.Copy()
						root = &c
					}
				}
			}
			if root == nil || root.Name.Local != "svg" {
				t.Fatalf("root element %v, want svg", root)
			}
			attr := func(name string) float64 {
				for _, a := range root.Attr {
					if a.Name.Local == name {
						v, _ := strconv.ParseFloat(a.Value, 64)
						return v
					}
				}
				return -1
			}
			if w, h := attr("width"), attr("height"); w != 900 || h != 500 {
				t.Errorf("SVG size %vx%v, want 900x500", w, h)
			}
			if elems < 20 {
				t.Errorf("SVG has %d elements: nothing drawn", elems)
			}
			if !bytes.Contains(svg.Bytes(), []byte(xmlEscape(p.Title))) {
				t.Errorf("SVG lacks the title %q", p.Title)
			}

			var pngBuf bytes.Buffer
			if err := report.WritePlot(&pngBuf, p, "png", 1200, 600); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&pngBuf)
			if err != nil {
				t.Fatal(err)
			}
			if sz := img.Bounds().Size(); sz.X != 1200 || sz.Y != 600 {
				t.Errorf("PNG is %v, want 1200x600", sz)
			}
			if f := nonWhite(img); f < 0.01 {
				t.Errorf("PNG is %.2f%% non-white: blank", f*100)
			}
		})
	}
	if err := report.WritePlot(io.Discard, report.FindPlot(d, "rtt"), "gif", 900, 500); err == nil {
		t.Error("format gif accepted")
	}
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
