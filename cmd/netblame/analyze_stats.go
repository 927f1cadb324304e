package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// statsView prints --stats: the totals of one file.
type statsView struct {
	w        io.Writer
	o        *analyzeOptions
	fc       *fileCtx
	packets  uint64
	bytes    uint64
	tcpFlows uint64
	udpFlows uint64
	// events counts packets per event kind; Wireshark's kinds with its
	// display filter's semantics (retransmission includes fast and
	// spurious).
	events [flowtable.NumEvents]uint64
}

func newStatsView(w io.Writer, o *analyzeOptions, fc *fileCtx) *statsView {
	return &statsView{w: w, o: o, fc: fc}
}

func (v *statsView) packet(pk *packetCtx) error {
	v.packets++
	v.bytes += uint64(pk.cap.OrigLen)
	if ev := pk.res.Events; ev != 0 {
		for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
			if ev.MatchesFilter(e) {
				v.events[e]++
			}
		}
	}
	return nil
}

// add adds a worker's partial totals (its packets; flows are counted
// once, in the view itself).
func (v *statsView) add(o *statsView) {
	v.packets += o.packets
	v.bytes += o.bytes
	for e, n := range o.events {
		v.events[e] += n
	}
}

// flow counts the flows that pass the filters.
func (v *statsView) flow(r *flowtable.FlowRecord) {
	if !v.o.showFlow(v.fc, r) {
		return
	}
	switch r.Proto {
	case decode.ProtoTCP:
		v.tcpFlows++
	case decode.ProtoUDP:
		v.udpFlows++
	}
}

// statsField is one total; JSON nests fields with a group under that key.
type statsField struct {
	group string // "" or "events"
	key   string
	value uint64
}

func (v *statsView) fields(fc *fileCtx) []statsField {
	f := []statsField{
		{key: "packets", value: v.packets},
		{key: "frames", value: fc.frames},
		{key: "bytes", value: v.bytes},
		{key: "tcp_flows", value: v.tcpFlows},
		{key: "udp_flows", value: v.udpFlows},
	}
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		f = append(f, statsField{group: "events", key: e.String(), value: v.events[e]})
	}
	return f
}

func (v *statsView) finish(fc *fileCtx) error {
	fields := v.fields(fc)
	switch v.o.fmt {
	case formatJSON:
		return writeStatsJSON(v.w, fc, fields)
	case formatCSV:
		cw := csv.NewWriter(v.w)
		var names, vals []string
		if fc.multi {
			names, vals = append(names, "file"), append(vals, fc.name)
		}
		for _, f := range fields {
			names = append(names, qualifiedKey(f))
			vals = append(vals, strconv.FormatUint(f.value, 10))
		}
		if !v.o.csvHeader {
			cw.Write(names)
			v.o.csvHeader = true
		}
		cw.Write(vals)
		cw.Flush()
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(v.w, 0, 0, 2, ' ', 0)
		for _, f := range fields {
			fmt.Fprintf(tw, "%s\t%d\n", qualifiedKey(f), f.value)
		}
		return tw.Flush()
	}
}

func qualifiedKey(f statsField) string {
	if f.group == "" {
		return f.key
	}
	return f.group + "." + f.key
}

// writeStatsJSON writes {"packets":N,...,"events":{...}} keeping the order
// of fields (a map would sort them).
func writeStatsJSON(w io.Writer, fc *fileCtx, fields []statsField) error {
	b := []byte{'{'}
	if fc.multi {
		name, _ := json.Marshal(fc.name)
		b = append(b, `"file":`...)
		b = append(b, name...)
		b = append(b, ',')
	}
	group := ""
	for i, f := range fields {
		if f.group != group {
			if group != "" {
				b = append(b, '}')
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, f.group)
			b = append(b, ":{"...)
			group = f.group
		} else if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.key)
		b = append(b, ':')
		b = strconv.AppendUint(b, f.value, 10)
	}
	if group != "" {
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	_, err := w.Write(b)
	return err
}
