package main

import (
	"encoding/json"
	"math"
	"net/netip"
	"testing"
	"time"
)

// appendJSON writes every value as encoding/json does, through its own
// path for numbers, booleans and plain strings and through json for the
// rest.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	values := []any{
		0, -1, 42, math.MaxInt, math.MinInt,
		int64(-7), int64(math.MaxInt64), uint64(math.MaxUint64), uint32(4000000000),
		true, false,
		"", "window_shrink", "10.0.0.1:40000", "with space and = sign",
		"quote\"", "back\\slash", "<tag>", "a&b", "tab\there", "nl\n", "\x01",
		"window 63488→33792", "\u2028", "\xff\xfe bad utf-8",
		1.5, 0.000001, 1e21, 12.0, float32(0.1),
		netip.MustParseAddrPort("[fd00::1]:53"), time.Duration(1500),
		map[string]int{"b": 2, "a": 1}, []int{1, 2}, nil,
	}
	for _, v := range values {
		want, werr := json.Marshal(v)
		got, gerr := appendJSON([]byte("x"), v)
		if (werr != nil) != (gerr != nil) || string(got) != "x"+string(want) {
			t.Errorf("%#v: got %s (%v), want x%s (%v)", v, got, gerr, want, werr)
		}
	}
}

// A JSON row costs no allocation beyond what the columns' values make.
func TestWriteJSONReusesItsBuffer(t *testing.T) {
	type row struct {
		frame uint64
		kind  string
	}
	cols := []column[row]{
		{Name: "FRAME", Key: "frame", Value: func(r row) any { return r.frame }},
		{Name: "EVENT", Key: "event", Value: func(r row) any { return r.kind }},
	}
	var sink discard
	tw := newTableWriter(&sink, formatJSON, cols)
	r := row{frame: 7, kind: "window_full"}
	if err := tw.Row(r); err != nil {
		t.Fatal(err)
	}
	if string(sink.last) != `{"frame":7,"event":"window_full"}`+"\n" {
		t.Fatalf("row %q", sink.last)
	}
	// The values boxed into any are the columns' own cost (a uint64 above
	// 255 and a string each allocate): at most those two.
	if n := testing.AllocsPerRun(100, func() { tw.Row(row{frame: 70000, kind: "window_full"}) }); n > 2 {
		t.Errorf("%v allocations a row, want at most the 2 of the boxed values", n)
	}
}

// discard keeps the last write, in a buffer it reuses.
type discard struct{ last []byte }

func (d *discard) Write(p []byte) (int, error) {
	d.last = append(d.last[:0], p...)
	return len(p), nil
}
