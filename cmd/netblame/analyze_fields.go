package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/netblame/netblame/dfilter"
)

// fieldsOptions are -T, -e and -E: tshark's field output.
type fieldsOptions struct {
	outputType string   // -T: fields or json
	names      []string // -e, in order
	settings   []string // -E key=value

	columns    *dfilter.Columns
	header     bool
	separator  byte
	quote      byte // 0: none
	occurrence int  // 0 all, 1 the first, -1 the last
	aggregator byte
}

// parse checks the flags and compiles the fields. With -e and no -T, the
// output is tshark's -T fields.
func (fo *fieldsOptions) parse(format outputFormat) error {
	fo.columns = nil
	if len(fo.names) == 0 {
		if fo.outputType != "" {
			return inputErr(fmt.Errorf("-T %s: name the fields with -e FIELD", fo.outputType))
		}
		if len(fo.settings) > 0 {
			return inputErr(errors.New("-E goes with -e FIELD"))
		}
		return nil
	}
	switch fo.outputType {
	case "", "fields":
	case "json":
		if format == formatCSV {
			return inputErr(errors.New("-T json and --format csv cannot be combined"))
		}
	default:
		return inputErr(fmt.Errorf("-T %q: want fields or json", fo.outputType))
	}
	var names []string
	for _, n := range fo.names {
		// tshark takes -e a -e b; a comma list is a common slip.
		for _, part := range strings.Split(n, ",") {
			if part = strings.TrimSpace(part); part != "" {
				names = append(names, part)
			}
		}
	}
	c, err := dfilter.NewColumns(names)
	if err != nil {
		return inputErr(err)
	}
	fo.columns = c
	fo.header, fo.separator, fo.quote, fo.occurrence, fo.aggregator = false, '\t', 0, 0, ','
	for _, s := range fo.settings {
		key, val, ok := strings.Cut(s, "=")
		if !ok {
			return inputErr(fmt.Errorf("-E %q: want key=value (header, separator, quote, occurrence, aggregator)", s))
		}
		bad := func(want string) error {
			return inputErr(fmt.Errorf("-E %s=%s: want %s", key, val, want))
		}
		switch key {
		case "header":
			switch val {
			case "y", "Y":
				fo.header = true
			case "n", "N":
				fo.header = false
			default:
				return bad("y or n")
			}
		case "separator", "aggregator":
			b, ok := separatorByte(val)
			if !ok {
				return bad("/t, /s or one character")
			}
			if key == "separator" {
				fo.separator = b
			} else {
				fo.aggregator = b
			}
		case "quote":
			switch val {
			case "d":
				fo.quote = '"'
			case "s":
				fo.quote = '\''
			case "n":
				fo.quote = 0
			default:
				return bad("d, s or n")
			}
		case "occurrence":
			switch val {
			case "a":
				fo.occurrence = 0
			case "f":
				fo.occurrence = 1
			case "l":
				fo.occurrence = -1
			default:
				return bad("f, l or a")
			}
		default:
			return inputErr(fmt.Errorf("-E %s: unknown setting (header, separator, quote, occurrence, aggregator)", key))
		}
	}
	return nil
}

func separatorByte(v string) (byte, bool) {
	switch {
	case v == "/t":
		return '\t', true
	case v == "/s":
		return ' ', true
	case len(v) == 1:
		return v[0], true
	}
	return 0, false
}

// fieldsView prints the -e fields of every packet shown: tshark's -T
// fields lines, or with -T json (or --format json) one JSON object a
// packet (each field an array of its occurrences, absent fields left
// out), or with --format csv a header row and one row a packet.
type fieldsView struct {
	o    *analyzeOptions
	fc   *fileCtx
	fo   *fieldsOptions
	bw   *bufio.Writer
	csv  bool
	json bool
	line []byte
	cell []byte
}

func newFieldsView(w io.Writer, o *analyzeOptions, fc *fileCtx) *fieldsView {
	fo := &o.fields
	v := &fieldsView{o: o, fc: fc, fo: fo, bw: bufio.NewWriterSize(w, 64<<10)}
	v.json = fo.outputType == "json" || o.fmt == formatJSON
	names := fo.columns.Names()
	switch {
	case o.fmt == formatCSV:
		v.csv = true
		if !o.csvHeader {
			if fc.multi {
				v.line = append(v.line, "file,"...)
			}
			for i, n := range names {
				if i > 0 {
					v.line = append(v.line, ',')
				}
				v.line = appendCSVCell(v.line, []byte(n))
			}
			v.bw.Write(append(v.line, '\n'))
			o.csvHeader = true
		}
	case !v.json && fo.header && !o.csvHeader:
		// One header line, above the first file's rows.
		for i, n := range names {
			if i > 0 {
				v.line = append(v.line, fo.separator)
			}
			v.line = append(v.line, n...)
		}
		v.bw.Write(append(v.line, '\n'))
		o.csvHeader = true
	}
	return v
}

func (v *fieldsView) packet(pk *packetCtx) error {
	c, p := v.fo.columns, pk.dp
	switch {
	case v.csv:
		// Written by hand, into the reused line: encoding/csv wants a
		// string a cell, an allocation a cell a packet.
		v.line = v.line[:0]
		if v.fc.multi {
			v.line = append(appendCSVCell(v.line, []byte(v.fc.name)), ',')
		}
		for i := range c.Len() {
			if i > 0 {
				v.line = append(v.line, ',')
			}
			v.cell = c.Append(v.cell[:0], p, i, v.fo.occurrence, v.fo.aggregator)
			v.line = appendCSVCell(v.line, v.cell)
		}
		v.line = append(v.line, '\n')
	case v.json:
		v.line = append(v.line[:0], '{')
		if v.fc.multi {
			v.line = append(v.line, `"file":`...)
			v.line = strconv.AppendQuote(v.line, v.fc.name)
		}
		for i, name := range c.Names() {
			n := c.Count(p, i)
			if n == 0 {
				continue
			}
			if len(v.line) > 1 {
				v.line = append(v.line, ',')
			}
			v.line = strconv.AppendQuote(v.line, name)
			v.line = append(v.line, ':', '[')
			for j := range n {
				if j > 0 {
					v.line = append(v.line, ',')
				}
				v.cell = c.AppendOccurrence(v.cell[:0], p, i, j)
				v.line = appendJSONString(v.line, v.cell)
			}
			v.line = append(v.line, ']')
		}
		v.line = append(v.line, '}', '\n')
	default:
		v.line = v.line[:0]
		for i := range c.Len() {
			if i > 0 {
				v.line = append(v.line, v.fo.separator)
			}
			v.cell = c.Append(v.cell[:0], p, i, v.fo.occurrence, v.fo.aggregator)
			// tshark quotes a value that is there; an absent one stays
			// empty.
			if q := v.fo.quote; q != 0 && len(v.cell) > 0 {
				v.line = append(append(append(v.line, q), v.cell...), q)
			} else {
				v.line = append(v.line, v.cell...)
			}
		}
		v.line = append(v.line, '\n')
	}
	_, err := v.bw.Write(v.line)
	return err
}

func (v *fieldsView) finish(*fileCtx) error { return v.bw.Flush() }

// appendCSVCell appends s as one CSV cell (RFC 4180): quoted, with quotes
// doubled, when it holds a comma, a quote or a line break.
func appendCSVCell(dst, s []byte) []byte {
	if !bytes.ContainsAny(s, ",\"\r\n") {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for _, b := range s {
		if b == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, b)
	}
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, b := range s {
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&15])
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, '"')
}
