package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// outputFormat is the value of --format: text, json (JSON lines) or csv.
type outputFormat string

const (
	formatText outputFormat = "text"
	formatJSON outputFormat = "json"
	formatCSV  outputFormat = "csv"
)

// addFormatFlag registers --format on cmd and returns where its value lands.
func addFormatFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("format", string(formatText), "output format: text, json (JSON lines) or csv")
}

func parseFormat(s string) (outputFormat, error) {
	switch f := outputFormat(s); f {
	case formatText, formatJSON, formatCSV:
		return f, nil
	}
	return "", inputErr(fmt.Errorf("--format %q: want text, json or csv", s))
}

// column is one column of a table: its header in text and CSV, its key in
// JSON, and how to get the value from a row.
type column[R any] struct {
	Name  string
	Key   string
	Value func(R) any
}

// tableWriter prints rows in one of the output formats. Text is aligned in
// columns, CSV has a header line, JSON writes one object a row with the
// columns' keys in order. Values that are nil are left out of JSON objects
// and printed as "-" in text.
type tableWriter[R any] struct {
	format outputFormat
	cols   []column[R]
	w      io.Writer
	tw     *tabwriter.Writer
	cw     *csv.Writer
	header bool
}

func newTableWriter[R any](w io.Writer, f outputFormat, cols []column[R]) *tableWriter[R] {
	t := &tableWriter[R]{format: f, cols: cols, w: w}
	switch f {
	case formatText:
		t.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	case formatCSV:
		t.cw = csv.NewWriter(w)
	}
	return t
}

// Row writes one row.
func (t *tableWriter[R]) Row(r R) error {
	if !t.header {
		t.header = true
		if err := t.writeHeader(); err != nil {
			return err
		}
	}
	switch t.format {
	case formatJSON:
		return t.writeJSON(r)
	case formatCSV:
		rec := make([]string, len(t.cols))
		for i, c := range t.cols {
			rec[i] = plain(c.Value(r), "")
		}
		return t.cw.Write(rec)
	default:
		var b strings.Builder
		for i, c := range t.cols {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(plain(c.Value(r), "-"))
		}
		b.WriteByte('\n')
		_, err := io.WriteString(t.tw, b.String())
		return err
	}
}

func (t *tableWriter[R]) writeHeader() error {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.Name
	}
	switch t.format {
	case formatCSV:
		return t.cw.Write(names)
	case formatText:
		_, err := io.WriteString(t.tw, strings.Join(names, "\t")+"\n")
		return err
	}
	return nil
}

func (t *tableWriter[R]) writeJSON(r R) error {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, c := range t.cols {
		v := c.Value(r)
		if v == nil {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(c.Key)
		b.Write(k)
		b.WriteByte(':')
		enc, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.Key, err)
		}
		b.Write(enc)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(t.w, b.String())
	return err
}

// Flush writes out what text and CSV buffer.
func (t *tableWriter[R]) Flush() error {
	switch t.format {
	case formatText:
		return t.tw.Flush()
	case formatCSV:
		t.cw.Flush()
		return t.cw.Error()
	}
	return nil
}

// plain formats a value for text or CSV; nil becomes none.
func plain(v any, none string) string {
	switch x := v.(type) {
	case nil:
		return none
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// writeJSONObject prints v as one JSON object on its own line.
func writeJSONObject(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
