package dfilter

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Columns are the fields printed for each packet, as tshark's -T fields
// -e FIELD prints them: the same names, and each value spelled the way
// tshark 4.0 spells it (hexadecimal where Wireshark displays a field in
// hexadecimal, times with nine decimals, booleans as 1 and 0, an analysis
// flag as 1 when it is set). Appending a packet's values allocates nothing.
type Columns struct {
	names  []string
	fields []*field
}

// NewColumns compiles the field names. A name that is not a field, or is a
// protocol (tshark prints a protocol's summary line, which netblame does
// not reproduce), is an error naming it and the nearest fields.
func NewColumns(names []string) (*Columns, error) {
	if len(names) == 0 {
		return nil, errors.New("no field given")
	}
	c := &Columns{names: names}
	for _, name := range names {
		f, ok := lookupField(name)
		if !ok {
			return nil, fmt.Errorf("-e %s: %s", name, unknownField(name))
		}
		if f.protocol {
			return nil, fmt.Errorf("-e %s: %s is a protocol, not a field: tshark prints its summary text, netblame prints fields only (such as %s)", name, name, exampleField(name))
		}
		c.fields = append(c.fields, f)
	}
	return c, nil
}

// NeedsConversations reports whether a column is a field that only
// Conversations.See sets, as Filter.NeedsConversations does.
func (c *Columns) NeedsConversations() bool {
	for _, f := range c.fields {
		if f.conv {
			return true
		}
	}
	return false
}

// exampleField names a field of protocol proto.
func exampleField(proto string) string {
	for _, f := range fieldList {
		if len(f.name) > len(proto) && f.name[:len(proto)] == proto && f.name[len(proto)] == '.' {
			return f.name
		}
	}
	return "frame.number"
}

// Names returns the field names, in order.
func (c *Columns) Names() []string { return c.names }

// Len is the number of columns.
func (c *Columns) Len() int { return len(c.fields) }

// Append appends the values of column i in p to dst, as tshark prints
// them: with occurrence 0 every occurrence, joined by agg; with n > 0 the
// nth; with n < 0 the nth from the end (-1 the last). A field absent from
// the packet appends nothing.
func (c *Columns) Append(dst []byte, p *Packet, i, occurrence int, agg byte) []byte {
	f := c.fields[i]
	vs := &p.vs
	vs.n = 0
	f.get(p, vs)
	if vs.n == 0 {
		return dst
	}
	switch {
	case occurrence > 0:
		if occurrence <= vs.n {
			dst = f.format(dst, &vs.v[occurrence-1])
		}
		return dst
	case occurrence < 0:
		if -occurrence <= vs.n {
			dst = f.format(dst, &vs.v[vs.n+occurrence])
		}
		return dst
	}
	for j := range vs.n {
		if j > 0 {
			dst = append(dst, agg)
		}
		dst = f.format(dst, &vs.v[j])
	}
	return dst
}

// Count returns how many occurrences of column i p holds, and keeps them
// for AppendOccurrence (until the next call on p).
func (c *Columns) Count(p *Packet, i int) int {
	vs := &p.vs
	vs.n = 0
	c.fields[i].get(p, vs)
	return vs.n
}

// AppendOccurrence appends the jth occurrence (0-based) Count found of
// column i; it reads the occurrences Count kept, without reading the
// packet again.
func (c *Columns) AppendOccurrence(dst []byte, p *Packet, i, j int) []byte {
	if j < 0 || j >= p.vs.n {
		return dst
	}
	return c.fields[i].format(dst, &p.vs.v[j])
}

// format spells one value as tshark does.
func (f *field) format(dst []byte, v *value) []byte {
	switch v.k {
	case kUint:
		if f.kind == kNone {
			return append(dst, '1')
		}
		if f.hexDigits > 0 {
			return appendHex(dst, v.u, f.hexDigits)
		}
		if f.signed {
			return strconv.AppendInt(dst, int64(v.u), 10)
		}
		return strconv.AppendUint(dst, v.u, 10)
	case kFloat:
		if f.nanos {
			return appendSeconds(dst, int64(v.u))
		}
		return strconv.AppendFloat(dst, v.f, 'f', 9, 64)
	case kAddr:
		return v.a.AppendTo(dst)
	case kMAC:
		for i, b := range v.s {
			if i > 0 {
				dst = append(dst, ':')
			}
			dst = append(dst, hexDigit[b>>4], hexDigit[b&15])
		}
		return dst
	case kBytes:
		return hex.AppendEncode(dst, v.s)
	case kString:
		return appendText(dst, v.s)
	}
	return dst
}

// appendSeconds appends ns as seconds with nine decimals.
func appendSeconds(dst []byte, ns int64) []byte {
	x := uint64(ns)
	if ns < 0 {
		dst = append(dst, '-')
		x = uint64(-ns)
	}
	dst = strconv.AppendUint(dst, x/1e9, 10)
	dst = append(dst, '.')
	frac := x % 1e9
	for div := uint64(1e8); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return dst
}

const hexDigit = "0123456789abcdef"

// appendHex appends 0x and x in at least digits hexadecimal digits.
func appendHex(dst []byte, x uint64, digits int) []byte {
	dst = append(dst, '0', 'x')
	n := 1
	for y := x >> 4; y != 0; y >>= 4 {
		n++
	}
	for ; digits > n; digits-- {
		dst = append(dst, '0')
	}
	for shift := 4 * (n - 1); shift >= 0; shift -= 4 {
		dst = append(dst, hexDigit[(x>>uint(shift))&15])
	}
	return dst
}

// appendText appends a string field as tshark prints it: text as it is
// (UTF-8 included), control bytes as C escapes (\t, \n, \r) or \xNN.
func appendText(dst, s []byte) []byte {
	for _, b := range s {
		switch {
		case b >= 0x20 && b != 0x7f:
			dst = append(dst, b)
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'x', hexDigit[b>>4], hexDigit[b&15])
		}
	}
	return dst
}
