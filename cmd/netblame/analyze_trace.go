package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// parseFlowSpec reads the FLOW of --trace.
func parseFlowSpec(s string) (flowtable.Selector, error) {
	sel, err := flowtable.ParseSelector(s)
	if err != nil {
		return sel, inputErr(fmt.Errorf("--trace %w", err))
	}
	return sel, nil
}

// describeFlow names the flow of --trace in messages.
func describeFlow(s flowtable.Selector) string {
	if s.ByIndex {
		return "index " + s.String()
	}
	return s.String()
}

// traceRow is one packet of --trace.
type traceRow struct {
	fc    *fileCtx
	frame uint64
	ts    int64
	rel   int64 // since the file's first packet
	// flowRel is the time since the flow's first packet.
	flowRel int64
	flow    uint64
	dir     flowtable.Direction
	tcp     bool
	flags   decode.TCPFlags
	seq     uint32
	ack     uint32
	hasAck  bool
	length  uint32
	win     int64 // scaled, or raw when the scale is unknown
	scaled  bool
	winRaw  uint16
	events  flowtable.EventSet
}

// traceView prints the packets of one flow (or of every flow with the
// endpoints given, when a port pair was reused), as they are read.
type traceView struct {
	o     *analyzeOptions
	fc    *fileCtx
	spec  flowtable.Selector
	tw    *tableWriter[*traceRow]
	first map[uint64]int64 // first packet time of each traced flow
	n     int
}

func newTraceView(w io.Writer, o *analyzeOptions, fc *fileCtx, spec flowtable.Selector) *traceView {
	return &traceView{o: o, fc: fc, spec: spec, tw: newViewTable(o, w, traceColumns(o.fmt, fc.multi)), first: map[uint64]int64{}}
}

func (v *traceView) packet(pk *packetCtx) error {
	if !v.spec.Match(pk.dec, pk.res) {
		return nil
	}
	res, d := pk.res, pk.dec
	first, ok := v.first[res.Index]
	if !ok {
		first = pk.cap.Timestamp
		v.first[res.Index] = first
	}
	r := traceRow{
		fc: v.fc, frame: pk.cap.Frame, ts: pk.cap.Timestamp, rel: pk.rel, flowRel: pk.cap.Timestamp - first,
		flow: res.Index, dir: res.Dir, length: res.Len, events: res.Events,
	}
	if d.IsTCP() {
		r.tcp = true
		r.flags = d.TCPFlags
		r.seq, r.ack, r.hasAck = res.RelSeq, res.RelAck, d.TCPFlags&decode.TCPAck != 0
		r.winRaw = d.Window
		r.win, r.scaled = res.Window, res.Window >= 0
		if !r.scaled {
			r.win = int64(d.Window)
		}
	}
	v.n++
	return v.tw.Row(&r)
}

func (v *traceView) finish(fc *fileCtx) error {
	if err := finishViewTable(v.o, v.tw); err != nil {
		return err
	}
	v.o.traced += v.n
	return nil
}

func eventList(s flowtable.EventSet) any {
	if s == 0 {
		return nil
	}
	return s.String()
}

func traceColumns(f outputFormat, multi bool) []column[*traceRow] {
	type c = column[*traceRow]
	tcpOnly := func(fn func(r *traceRow) any) func(r *traceRow) any {
		return func(r *traceRow) any {
			if !r.tcp {
				return nil
			}
			return fn(r)
		}
	}
	ack := tcpOnly(func(r *traceRow) any {
		if !r.hasAck {
			return nil
		}
		return r.ack
	})
	if f == formatText {
		return []c{
			{"FLOW", "", func(r *traceRow) any { return r.flow }},
			{"DIR", "", func(r *traceRow) any { return arrow(r.dir) }},
			{"FRAME", "", func(r *traceRow) any { return r.fc.frameLabel(r.frame) }},
			{"TIME_S", "", func(r *traceRow) any { return decimalSecondsText(r.rel) }},
			{"FLOW_TIME_S", "", func(r *traceRow) any { return decimalSecondsText(r.flowRel) }},
			{"FLAGS", "", tcpOnly(func(r *traceRow) any { return r.flags.String() })},
			{"SEQ", "", tcpOnly(func(r *traceRow) any { return r.seq })},
			{"ACK", "", ack},
			{"LEN", "", func(r *traceRow) any { return r.length }},
			{"WIN", "", tcpOnly(func(r *traceRow) any {
				if !r.scaled {
					return strconv.FormatInt(r.win, 10) + "?" // scale unknown: raw value
				}
				return r.win
			})},
			{"EVENTS", "", func(r *traceRow) any { return eventList(r.events) }},
		}
	}
	var cols []c
	if multi {
		cols = append(cols, c{"FILE", "file", func(r *traceRow) any { return r.fc.name }})
	}
	return append(cols,
		c{"FLOW", "flow", func(r *traceRow) any { return r.flow }},
		c{"DIR", "dir", func(r *traceRow) any { return r.dir.String() }},
		c{"FRAME", "frame", func(r *traceRow) any { return r.fc.frameLabel(r.frame) }},
		c{"TIME", "time", func(r *traceRow) any { return seconds(time.Duration(r.rel), false) }},
		c{"FLOW_TIME", "flow_time", func(r *traceRow) any { return seconds(time.Duration(r.flowRel), false) }},
		c{"TS", "ts", func(r *traceRow) any { return decimalSeconds(r.ts) }},
		c{"FLAGS", "flags", tcpOnly(func(r *traceRow) any { return r.flags.String() })},
		c{"SEQ", "seq", tcpOnly(func(r *traceRow) any { return r.seq })},
		c{"ACK", "ack", ack},
		c{"LEN", "len", func(r *traceRow) any { return r.length }},
		c{"WIN", "win", tcpOnly(func(r *traceRow) any { return r.win })},
		c{"WIN_RAW", "win_raw", tcpOnly(func(r *traceRow) any { return r.winRaw })},
		c{"WIN_SCALED", "win_scaled", tcpOnly(func(r *traceRow) any { return r.scaled })},
		c{"EVENTS", "events", func(r *traceRow) any { return eventList(r.events) }},
	)
}
