package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
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
	keys   [][]byte // JSON: each column's key, encoded once
	buf    []byte   // JSON: the row being written
	// empty, when set, is the line text output prints for a table
	// without rows ("0 flows match"), so that nothing to show says so.
	empty string
	rows  int
}

func newTableWriter[R any](w io.Writer, f outputFormat, cols []column[R]) *tableWriter[R] {
	t := &tableWriter[R]{format: f, cols: cols, w: w}
	switch f {
	case formatText:
		t.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	case formatCSV:
		t.cw = csv.NewWriter(w)
	case formatJSON:
		for _, c := range cols {
			k, _ := json.Marshal(c.Key) // a string always encodes
			t.keys = append(t.keys, k)
		}
	}
	return t
}

// Row writes one row.
func (t *tableWriter[R]) Row(r R) error {
	t.rows++
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
	b := append(t.buf[:0], '{')
	first := true
	for i, c := range t.cols {
		v := c.Value(r)
		if v == nil {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(append(b, t.keys[i]...), ':')
		var err error
		if b, err = appendJSON(b, v); err != nil {
			return fmt.Errorf("column %s: %w", c.Key, err)
		}
	}
	t.buf = append(b, '}', '\n')
	_, err := t.w.Write(t.buf)
	return err
}

// appendJSON appends v as encoding/json would encode it, without its
// reflection for the common kinds of values: JSON lines of a busy capture
// are mostly numbers and plain strings.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		if plainJSONString(x) {
			return append(append(append(b, '"'), x...), '"'), nil
		}
	}
	enc, err := json.Marshal(v)
	return append(b, enc...), err
}

// plainJSONString reports whether s needs no escaping in JSON, as
// encoding/json writes it (which also escapes <, > and &).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// Flush writes out what text and CSV buffer.
func (t *tableWriter[R]) Flush() error {
	switch t.format {
	case formatText:
		if t.rows == 0 && t.empty != "" {
			if _, err := io.WriteString(t.tw, t.empty+"\n"); err != nil {
				return err
			}
		}
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

// appendHex appends v in lower-case hex, zero-padded to width digits.
func appendHex(b []byte, v uint64, width int) []byte {
	for shift := 4 * (width - 1); shift >= 0; shift -= 4 {
		b = append(b, "0123456789abcdef"[v>>shift&0xf])
	}
	return b
}
