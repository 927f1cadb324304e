package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// svgCanvas writes the plot as SVG elements, one path a call.
type svgCanvas struct {
	w   *bufio.Writer
	err error
}

func newSVGCanvas(w io.Writer, width, height int) *svgCanvas {
	c := &svgCanvas{w: bufio.NewWriter(w)}
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	return c
}

func (c *svgCanvas) printf(format string, a ...any) {
	if c.err == nil {
		_, c.err = fmt.Fprintf(c.w, format, a...)
	}
}

// hexColor is c without its alpha; color.RGBA is premultiplied.
func hexColor(c color.RGBA) string {
	if c.A == 0 {
		return "#000000"
	}
	un := func(v uint8) int { return int(v) * 255 / int(c.A) }
	return fmt.Sprintf("#%02x%02x%02x", un(c.R), un(c.G), un(c.B))
}

func (c *svgCanvas) strokes(segs []segment, col color.RGBA, width float64) {
	if len(segs) == 0 {
		return
	}
	c.printf(`<path fill="none" stroke="%s" stroke-width="%.1f" d="`, hexColor(col), width)
	var at point
	for i, s := range segs {
		if i == 0 || s.a != at {
			c.printf("M%.1f %.1f", s.a.x, s.a.y)
		}
		c.printf("L%.1f %.1f", s.b.x, s.b.y)
		at = s.b
	}
	c.printf("\"/>\n")
}

func (c *svgCanvas) dots(pts []point, r float64, col color.RGBA) {
	if len(pts) == 0 {
		return
	}
	c.printf(`<g fill="%s">`, hexColor(col))
	for _, p := range pts {
		c.printf(`<circle cx="%.1f" cy="%.1f" r="%.1f"/>`, p.x, p.y, r)
	}
	c.printf("</g>\n")
}

func (c *svgCanvas) rect(x, y, w, h float64, col color.RGBA) {
	c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%.2f"/>`+"\n",
		x, y, w, h, hexColor(col), float64(col.A)/255)
}

func (c *svgCanvas) text(x, y float64, s string, anchor int, col color.RGBA) {
	if s == "" {
		return
	}
	c.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">`, x, y, [...]string{"start", "middle", "end"}[anchor+1], hexColor(col))
	if c.err == nil {
		c.err = xml.EscapeText(c.w, []byte(s))
	}
	c.printf("</text>\n")
}

func (c *svgCanvas) finish() error {
	c.printf("</svg>\n")
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// rasterCanvas draws the plot into an RGBA image: shapes with
// golang.org/x/image/vector's anti-aliasing rasterizer, text in the fixed
// 7x13 font of golang.org/x/image/font/basicfont.
type rasterCanvas struct {
	img *image.RGBA
	z   *vector.Rasterizer
}

func newRasterCanvas(width, height int) *rasterCanvas {
	return &rasterCanvas{img: image.NewRGBA(image.Rect(0, 0, width, height)), z: vector.NewRasterizer(width, height)}
}

// fill paints what was added to the rasterizer since the last fill.
func (c *rasterCanvas) fill(col color.RGBA) {
	c.z.DrawOp = draw.Over
	c.z.Draw(c.img, c.img.Bounds(), image.NewUniform(col), image.Point{})
	c.z.Reset(c.img.Bounds().Dx(), c.img.Bounds().Dy())
}

func (c *rasterCanvas) strokes(segs []segment, col color.RGBA, width float64) {
	hw := width / 2
	for _, s := range segs {
		dx, dy := s.b.x-s.a.x, s.b.y-s.a.y
		l := math.Hypot(dx, dy)
		if l == 0 {
			dx, l = 1, 1
		}
		// A quadrilateral around the segment, always wound the same way:
		// overlapping strokes of one call add up rather than cancel.
		nx, ny := -dy/l*hw, dx/l*hw
		c.z.MoveTo(float32(s.a.x+nx), float32(s.a.y+ny))
		c.z.LineTo(float32(s.b.x+nx), float32(s.b.y+ny))
		c.z.LineTo(float32(s.b.x-nx), float32(s.b.y-ny))
		c.z.LineTo(float32(s.a.x-nx), float32(s.a.y-ny))
		c.z.ClosePath()
	}
	c.fill(col)
}

func (c *rasterCanvas) dots(pts []point, r float64, col color.RGBA) {
	const sides = 16
	for _, p := range pts {
		c.z.MoveTo(float32(p.x+r), float32(p.y))
		for i := 1; i < sides; i++ {
			a := 2 * math.Pi * float64(i) / sides
			c.z.LineTo(float32(p.x+r*math.Cos(a)), float32(p.y+r*math.Sin(a)))
		}
		c.z.ClosePath()
	}
	c.fill(col)
}

func (c *rasterCanvas) rect(x, y, w, h float64, col color.RGBA) {
	r := image.Rect(int(x), int(y), int(math.Ceil(x+w)), int(math.Ceil(y+h)))
	draw.Draw(c.img, r, image.NewUniform(col), image.Point{}, draw.Over)
}

func (c *rasterCanvas) text(x, y float64, s string, anchor int, col color.RGBA) {
	s = asciiOnly(s)
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13}
	w := float64(d.MeasureString(s).Round())
	x -= w * float64(anchor+1) / 2
	d.Dot = fixed.P(int(math.Round(x)), int(math.Round(y)))
	d.DrawString(s)
}

func (c *rasterCanvas) encode(w io.Writer) error { return png.Encode(w, c.img) }

// asciiOnly spells s in the characters basicfont has: the titles' arrow
// as "->", anything else outside ASCII as "?".
func asciiOnly(s string) string {
	s = strings.ReplaceAll(s, "→", "->")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
