package main

import (
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/netblame/netblame/flowtable"
)

// eventRow is one row of --events.
type eventRow struct {
	fc       *fileCtx
	ev       *flowtable.EventRecord
	flow     uint64
	rel      int64
	src, dst netip.AddrPort
}

// textFlushRows bounds what text tables buffer: the table is realigned
// every so many rows instead of holding a whole capture's rows in memory.
const textFlushRows = 4096

// eventsView prints every TCP event as it is raised.
type eventsView struct {
	o  *analyzeOptions
	fc *fileCtx
	tw *tableWriter[*eventRow]
	n  int
}

func newEventsView(w io.Writer, o *analyzeOptions, fc *fileCtx) *eventsView {
	tw := newViewTable(o, w, eventColumns(o.fmt, fc.multi))
	tw.empty = "0 events match"
	return &eventsView{o: o, fc: fc, tw: tw}
}

func (v *eventsView) packet(pk *packetCtx) error {
	for i := range pk.events {
		r := eventRow{
			fc:   v.fc,
			ev:   &pk.events[i],
			flow: pk.res.Index,
			rel:  pk.events[i].TS - v.fc.first,
			src:  netip.AddrPortFrom(pk.dec.Src(), pk.dec.SrcPort),
			dst:  netip.AddrPortFrom(pk.dec.Dst(), pk.dec.DstPort),
		}
		if err := v.tw.Row(&r); err != nil {
			return err
		}
		if v.n++; v.n%textFlushRows == 0 {
			if err := v.tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *eventsView) finish(*fileCtx) error { return finishViewTable(v.o, v.tw) }

func arrow(d flowtable.Direction) string {
	if d == flowtable.ClientToServer {
		return "-->"
	}
	return "<--"
}

// windowValue is a scaled window, or nil when the scale is unknown.
func windowValue(w int64) any {
	if w < 0 {
		return nil
	}
	return w
}

// eventDetails says in a few words what the event is about.
func eventDetails(e *flowtable.EventRecord) string {
	b := []byte("seq=")
	b = strconv.AppendUint(b, uint64(e.Seq), 10)
	b = append(b, " ack="...)
	b = strconv.AppendUint(b, uint64(e.Ack), 10)
	b = append(b, " len="...)
	b = strconv.AppendUint(b, uint64(e.Len), 10)
	if e.Window >= 0 {
		b = append(b, " win="...)
		b = strconv.AppendInt(b, e.Window, 10)
	}
	switch e.Kind {
	case flowtable.WindowShrink:
		b = append(b, " window "...)
		b = strconv.AppendInt(b, e.OldWindow, 10)
		b = append(b, "→"...)
		b = strconv.AppendInt(b, e.NewWindow, 10)
		b = append(b, " right edge "...)
		b = strconv.AppendUint(b, uint64(e.OldRightEdge), 10)
		b = append(b, "→"...)
		b = strconv.AppendUint(b, uint64(e.NewRightEdge), 10)
	}
	if e.Delay > 0 {
		b = append(b, " after "...)
		b = append(b, human(e.Delay)...)
	}
	return string(b)
}

func eventColumns(f outputFormat, multi bool) []column[*eventRow] {
	type c = column[*eventRow]
	if f == formatText {
		return []c{
			{"FRAME", "", func(r *eventRow) any { return r.fc.frameLabel(r.ev.Frame) }},
			{"TIME_S", "", func(r *eventRow) any { return decimalSecondsText(r.rel) }},
			{"FLOW", "", func(r *eventRow) any { return r.flow }},
			{"DIR", "", func(r *eventRow) any { return arrow(r.ev.Dir) }},
			{"SRC", "", func(r *eventRow) any { return r.src.String() }},
			{"DST", "", func(r *eventRow) any { return r.dst.String() }},
			{"EVENT", "", func(r *eventRow) any { return r.ev.Kind.String() }},
			{"DETAILS", "", func(r *eventRow) any { return eventDetails(r.ev) }},
		}
	}
	var cols []c
	if multi {
		cols = append(cols, c{"FILE", "file", func(r *eventRow) any { return r.fc.name }})
	}
	isShrink := func(r *eventRow) bool { return r.ev.Kind == flowtable.WindowShrink }
	return append(cols,
		c{"FRAME", "frame", func(r *eventRow) any { return r.fc.frameLabel(r.ev.Frame) }},
		c{"TIME", "time", func(r *eventRow) any { return seconds(time.Duration(r.rel), false) }},
		c{"TS", "ts", func(r *eventRow) any { return decimalSeconds(r.ev.TS) }},
		c{"FLOW", "flow", func(r *eventRow) any { return r.flow }},
		c{"DIR", "dir", func(r *eventRow) any { return r.ev.Dir.String() }},
		c{"SRC", "src", func(r *eventRow) any { return r.src.String() }},
		c{"DST", "dst", func(r *eventRow) any { return r.dst.String() }},
		c{"EVENT", "event", func(r *eventRow) any { return r.ev.Kind.String() }},
		c{"WIRESHARK", "wireshark", func(r *eventRow) any { return r.ev.Kind.Wireshark() }},
		c{"SEQ", "seq", func(r *eventRow) any { return r.ev.Seq }},
		c{"ACK", "ack", func(r *eventRow) any { return r.ev.Ack }},
		c{"LEN", "len", func(r *eventRow) any { return r.ev.Len }},
		c{"WIN", "win", func(r *eventRow) any { return windowValue(r.ev.Window) }},
		c{"OLD_WIN", "old_win", func(r *eventRow) any {
			if !isShrink(r) {
				return nil
			}
			return r.ev.OldWindow
		}},
		c{"NEW_WIN", "new_win", func(r *eventRow) any {
			if !isShrink(r) {
				return nil
			}
			return r.ev.NewWindow
		}},
		c{"OLD_RIGHT_EDGE", "old_right_edge", func(r *eventRow) any {
			if !isShrink(r) {
				return nil
			}
			return r.ev.OldRightEdge
		}},
		c{"NEW_RIGHT_EDGE", "new_right_edge", func(r *eventRow) any {
			if !isShrink(r) {
				return nil
			}
			return r.ev.NewRightEdge
		}},
		c{"DELAY_S", "delay_s", func(r *eventRow) any { return seconds(r.ev.Delay, true) }},
	)
}
