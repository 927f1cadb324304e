package report

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"html"
	"io"
	"strings"
	"text/template"
)

// The page and what it embeds: its own stylesheet and script (no library,
// nothing fetched; the page's Content-Security-Policy forbids any request).
var (
	//go:embed assets/report.html
	pageHTML string
	//go:embed assets/report.css
	pageCSS string
	//go:embed assets/report.js
	pageJS string
)

var page = template.Must(template.New("report").Parse(pageHTML))

// Write writes d as one self-contained HTML page: the data as JSON in the
// page, drawn as SVG by the embedded script when the page opens.
func Write(w io.Writer, d *Data) error {
	// encoding/json escapes <, > and &, so the data cannot end its
	// script element.
	js, err := json.Marshal(d)
	if err != nil {
		return err
	}
	title := "netblame report"
	if len(d.Files) > 0 {
		title += ": " + strings.Join(d.Files, " and ")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	err = page.Execute(bw, struct {
		Title, Files, T0, CSS, JS, JSON string
	}{html.EscapeString(title), html.EscapeString(strings.Join(d.Files, ", ")), d.T0, pageCSS, pageJS, string(js)})
	if err != nil {
		return err
	}
	return bw.Flush()
}
