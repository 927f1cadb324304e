package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
)

// WritePlot draws one plot of a report (the same series and markers the
// page shows) as an SVG or PNG image (format "svg" or "png") of width by
// height pixels: axes with round-number ticks, a grid, the series, the
// markers and a legend. It draws them itself (plotdraw.go), without a
// plotting library, whose start-up (parsing its fonts) every netblame
// command paid before.
func WritePlot(w io.Writer, p *Plot, format string, width, height int) error {
	if format != "svg" && format != "png" {
		return fmt.Errorf("report: plot format %q: want svg or png", format)
	}
	if width < 100 || height < 100 {
		return fmt.Errorf("report: plot size %dx%d: want at least 100x100", width, height)
	}
	fr := newFrame(p, float64(width), float64(height))
	if format == "svg" {
		c := newSVGCanvas(w, width, height)
		fr.draw(c, p)
		return c.finish()
	}
	c := newRasterCanvas(width, height)
	fr.draw(c, p)
	return c.encode(w)
}

// canvas is what a plot is drawn on: the SVG writer or the raster.
type canvas interface {
	// strokes draws each segment as a line of the width, in one colour.
	strokes(segs []segment, c color.RGBA, width float64)
	// dots draws a disc of radius r at each point.
	dots(pts []point, r float64, c color.RGBA)
	// rect fills a rectangle.
	rect(x, y, w, h float64, c color.RGBA)
	// text writes s with its baseline at y, starting at, centred on or
	// ending at x (anchor -1, 0, 1).
	text(x, y float64, s string, anchor int, c color.RGBA)
}

type point struct{ x, y float64 }

type segment struct{ a, b point }

// frame is a plot's layout: its data ranges, their ticks, and the pixel
// rectangle the data is drawn in.
type frame struct {
	w, h                   float64
	xmin, xmax, ymin, ymax float64
	xticks, yticks         []float64
	xdec, ydec             int // decimals of the tick labels
	left, top, right, bot  float64
}

const (
	charWidth = 7 // pixels a character of the raster's font takes
	lineGap   = 16
)

var (
	black    = color.RGBA{A: 255}
	gridGray = color.RGBA{R: 0xdd, G: 0xdd, B: 0xdd, A: 255}
	white    = color.RGBA{R: 255, G: 255, B: 255, A: 255}
)

func newFrame(p *Plot, w, h float64) *frame {
	f := &frame{w: w, h: h, xmin: math.Inf(1), xmax: math.Inf(-1), ymin: math.Inf(1), ymax: math.Inf(-1)}
	see := func(x, y float64) {
		f.xmin, f.xmax = min(f.xmin, x), max(f.xmax, x)
		f.ymin, f.ymax = min(f.ymin, y), max(f.ymax, y)
	}
	for i := range p.Series {
		s := &p.Series[i]
		for j, x := range s.X {
			see(x, s.Y[j])
			if s.Style == "segments" && j < len(s.Y2) {
				see(x, s.Y2[j])
			}
		}
	}
	for _, m := range p.Markers {
		see(m.X, m.Y)
	}
	if math.IsInf(f.xmin, 1) { // nothing to draw: an empty frame
		f.xmin, f.xmax, f.ymin, f.ymax = 0, 1, 0, 1
	}
	if p.Kind != "tseq" {
		f.ymin = min(f.ymin, 0) // windows, RTTs, rates and delays from 0
	}
	f.xmin, f.xmax = widen(f.xmin, f.xmax)
	f.ymin, f.ymax = widen(f.ymin, f.ymax)
	// A little room, so that no point sits on the frame's edge.
	xpad, ypad := (f.xmax-f.xmin)/100, (f.ymax-f.ymin)/25
	f.xmin, f.xmax, f.ymax = f.xmin-xpad, f.xmax+xpad, f.ymax+ypad
	if f.ymin != 0 {
		f.ymin -= ypad
	}
	f.xticks, f.xdec = ticks(f.xmin, f.xmax, max(2, int(w/120)))
	f.yticks, f.ydec = ticks(f.ymin, f.ymax, max(2, int(h/70)))
	labelChars := 0
	for _, v := range f.yticks {
		labelChars = max(labelChars, len(strconv.FormatFloat(v, 'f', f.ydec, 64)))
	}
	f.left = float64(14 + labelChars*charWidth)
	f.top, f.right, f.bot = 44, w-18, h-42
	return f
}

// widen gives an empty range some width.
func widen(lo, hi float64) (float64, float64) {
	if hi > lo {
		return lo, hi
	}
	d := max(math.Abs(lo)/10, 1)
	return lo - d, hi + d
}

// ticks returns round values (1, 2 or 5 times a power of ten apart) in
// [lo, hi], about n of them, and how many decimals their labels need.
func ticks(lo, hi float64, n int) ([]float64, int) {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{2, 5, 10} {
		if step >= raw {
			break
		}
		step = m * mag
	}
	dec := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	var out []float64
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		out = append(out, k*step+0) // +0: no "-0" label
	}
	return out, dec
}

func (f *frame) px(x float64) float64 {
	return f.left + (x-f.xmin)/(f.xmax-f.xmin)*(f.right-f.left)
}

func (f *frame) py(y float64) float64 {
	return f.bot - (y-f.ymin)/(f.ymax-f.ymin)*(f.bot-f.top)
}

// draw draws p in the frame on c.
func (f *frame) draw(c canvas, p *Plot) {
	c.rect(0, 0, f.w, f.h, white)
	var grid []segment
	for _, x := range f.xticks {
		grid = append(grid, segment{point{f.px(x), f.top}, point{f.px(x), f.bot}})
	}
	for _, y := range f.yticks {
		grid = append(grid, segment{point{f.left, f.py(y)}, point{f.right, f.py(y)}})
	}
	c.strokes(grid, gridGray, 1)
	c.strokes([]segment{
		{point{f.left, f.bot}, point{f.right, f.bot}},
		{point{f.left, f.top}, point{f.left, f.bot}},
	}, black, 1)
	for _, x := range f.xticks {
		c.text(f.px(x), f.bot+16, strconv.FormatFloat(x, 'f', f.xdec, 64), 0, black)
	}
	for _, y := range f.yticks {
		c.text(f.left-6, f.py(y)+4, strconv.FormatFloat(y, 'f', f.ydec, 64), 1, black)
	}
	c.text(f.w/2, 18, p.Title, 0, black)
	c.text(f.left, f.top-10, p.YLabel, -1, black)
	c.text((f.left+f.right)/2, f.h-8, p.XLabel, 0, black)

	var legend []legendEntry
	for i := range p.Series {
		s := &p.Series[i]
		col := parseColor(s.Color)
		switch s.Style {
		case "segments":
			var segs []segment
			for j, x := range s.X {
				y0, y1 := f.py(s.Y[j]), f.py(s.Y2[j])
				if y0-y1 < 1 {
					y1 = y0 - 1
				}
				segs = append(segs, segment{point{f.px(x), y0}, point{f.px(x), y1}})
			}
			c.strokes(segs, col, 2)
		case "dots":
			pts := make([]point, len(s.X))
			for j, x := range s.X {
				pts[j] = point{f.px(x), f.py(s.Y[j])}
			}
			c.dots(pts, 1.5, col)
		default:
			c.strokes(f.line(s), col, 1.3)
		}
		legend = append(legend, legendEntry{s.Name, col, s.Style == "dots"})
	}
	// Markers, one colour a kind, in the order they first appear.
	var order []string
	byKind := map[string][]point{}
	for _, m := range p.Markers {
		if _, ok := byKind[m.Kind]; !ok {
			order = append(order, m.Kind)
		}
		byKind[m.Kind] = append(byKind[m.Kind], point{f.px(m.X), f.py(m.Y)})
	}
	for _, k := range order {
		kd, ok := markerKinds[k]
		if !ok {
			kd = Kind{Label: k, Color: "#000000"}
		}
		col := parseColor(kd.Color)
		c.dots(byKind[k], 3.5, col)
		legend = append(legend, legendEntry{fmt.Sprintf("%s (%d)", kd.Label, len(byKind[k])), col, true})
	}
	f.drawLegend(c, legend)
}

// line is a line or step series as segments between its points.
func (f *frame) line(s *Series) []segment {
	var segs []segment
	for j := 1; j < len(s.X); j++ {
		a, b := point{f.px(s.X[j-1]), f.py(s.Y[j-1])}, point{f.px(s.X[j]), f.py(s.Y[j])}
		if s.Style == "step" { // the value holds until the next point
			corner := point{b.x, a.y}
			segs = append(segs, segment{a, corner}, segment{corner, b})
			continue
		}
		segs = append(segs, segment{a, b})
	}
	return segs
}

type legendEntry struct {
	label string
	col   color.RGBA
	dot   bool
}

// drawLegend lists the entries in the plot's top left corner.
func (f *frame) drawLegend(c canvas, entries []legendEntry) {
	if len(entries) == 0 {
		return
	}
	chars := 0
	for _, e := range entries {
		chars = max(chars, len(e.label))
	}
	x, y := f.left+8, f.top+6
	c.rect(x, y, float64(chars*charWidth+40), float64(len(entries)*lineGap+6), color.RGBA{R: 230, G: 230, B: 230, A: 230}) // white, 90% opaque (premultiplied)
	for i, e := range entries {
		mid := y + 3 + float64(i)*lineGap + lineGap/2
		if e.dot {
			c.dots([]point{{x + 14, mid}}, 3.5, e.col)
		} else {
			c.strokes([]segment{{point{x + 6, mid}, point{x + 22, mid}}}, e.col, 2)
		}
		c.text(x+30, mid+4, e.label, -1, black)
	}
}

// parseColor reads "#rrggbb"; anything else is black.
func parseColor(s string) color.RGBA {
	if len(s) != 7 || s[0] != '#' {
		return black
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return black
	}
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
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
