package report

import (
	"fmt"
	"image/color"
	"io"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// pixel is one pixel at the 96 dpi gonum/plot renders PNG at.
const pixel = vg.Inch / 96

// WritePlot draws one plot of a report (the same series and markers the
// page shows) as an SVG or PNG image (format "svg" or "png") of width by
// height pixels, with gonum.org/v1/plot.
func WritePlot(w io.Writer, p *Plot, format string, width, height int) error {
	if format != "svg" && format != "png" {
		return fmt.Errorf("report: plot format %q: want svg or png", format)
	}
	if width < 100 || height < 100 {
		return fmt.Errorf("report: plot size %dx%d: want at least 100x100", width, height)
	}
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.XLabel
	pl.Y.Label.Text = p.YLabel
	pl.Add(plotter.NewGrid())
	pl.Legend.Top = true
	pl.Legend.Left = true
	for i := range p.Series {
		s := &p.Series[i]
		c := parseColor(s.Color)
		switch s.Style {
		case "segments":
			sp := &segPlotter{s: s, style: draw.LineStyle{Color: c, Width: 2 * pixel}}
			pl.Add(sp)
			pl.Legend.Add(s.Name, sp)
		case "dots":
			sc, err := plotter.NewScatter(xys(s.X, s.Y))
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: 1.5 * pixel, Shape: draw.CircleGlyph{}}
			pl.Add(sc)
			pl.Legend.Add(s.Name, sc)
		default:
			ln, err := plotter.NewLine(xys(s.X, s.Y))
			if err != nil {
				return err
			}
			if s.Style == "step" {
				ln.StepStyle = plotter.PostStep
			}
			ln.LineStyle = draw.LineStyle{Color: c, Width: 1.3 * pixel}
			pl.Add(ln)
			pl.Legend.Add(s.Name, ln)
		}
	}
	// Markers, one scatter a kind, in the order they first appear.
	var order []string
	byKind := map[string]plotter.XYs{}
	for _, m := range p.Markers {
		if _, ok := byKind[m.Kind]; !ok {
			order = append(order, m.Kind)
		}
		byKind[m.Kind] = append(byKind[m.Kind], plotter.XY{X: m.X, Y: m.Y})
	}
	for _, k := range order {
		sc, err := plotter.NewScatter(byKind[k])
		if err != nil {
			return err
		}
		kd, ok := markerKinds[k]
		if !ok {
			kd = Kind{Label: k, Color: "#000000"}
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: parseColor(kd.Color), Radius: 3.5 * pixel, Shape: draw.CircleGlyph{}}
		pl.Add(sc)
		pl.Legend.Add(fmt.Sprintf("%s (%d)", kd.Label, len(byKind[k])), sc)
	}
	if p.Kind != "tseq" {
		pl.Y.Min = min(pl.Y.Min, 0) // windows, RTTs, rates and delays from 0
	}
	wt, err := pl.WriterTo(vg.Length(width)*pixel, vg.Length(height)*pixel, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

func xys(x, y []float64) plotter.XYs {
	out := make(plotter.XYs, len(x))
	for i := range x {
		out[i] = plotter.XY{X: x[i], Y: y[i]}
	}
	return out
}

// parseColor reads "#rrggbb".
func parseColor(s string) color.Color {
	if len(s) != 7 || s[0] != '#' {
		return color.Black
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.Black
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// segPlotter draws a series of segments (Y to Y2 at each X) as vertical
// strokes, as tcptrace draws the segments of a time-sequence graph.
type segPlotter struct {
	s     *Series
	style draw.LineStyle
}

// Plot implements plot.Plotter.
func (sp *segPlotter) Plot(c draw.Canvas, pl *plot.Plot) {
	tx, ty := pl.Transforms(&c)
	for i, x := range sp.s.X {
		y0, y1 := ty(sp.s.Y[i]), ty(sp.s.Y2[i])
		if y1-y0 < pixel {
			y1 = y0 + pixel
		}
		c.StrokeLine2(sp.style, tx(x), y0, tx(x), y1)
	}
}

// DataRange implements plot.DataRanger.
func (sp *segPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, ymin = 1e300, 1e300
	xmax, ymax = -1e300, -1e300
	for i, x := range sp.s.X {
		xmin, xmax = min(xmin, x), max(xmax, x)
		ymin, ymax = min(ymin, sp.s.Y[i]), max(ymax, sp.s.Y2[i])
	}
	return
}

// Thumbnail implements plot.Thumbnailer, for the legend.
func (sp *segPlotter) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(sp.style, x, c.Min.Y, x, c.Max.Y)
}

// FindPlot returns the plot of kind (tseq, window, rtt, throughput,
// transit) of a report's first section: for tseq, the direction that sent
// the most data. It returns nil when there is none.
func FindPlot(d *Data, kind string) *Plot {
	if len(d.Sections) == 0 {
		return nil
	}
	var best *Plot
	bestN := -1.0
	for i := range d.Sections[0].Plots {
		p := &d.Sections[0].Plots[i]
		if p.Kind != kind {
			continue
		}
		n := 0.0
		if kind == "tseq" && len(p.Series) > 0 && len(p.Series[0].Y2) > 0 {
			n = p.Series[0].Y2[len(p.Series[0].Y2)-1]
		}
		if n > bestN {
			best, bestN = p, n
		}
	}
	return best
}
