package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/summary"
)

// flowQuery selects which flows the flow table view prints.
type flowQuery uint8

const (
	queryNone      flowQuery = iota // every flow (the conversation table)
	queryHandshake                  // --handshake-over
	queryReset                      // --reset-by
)

// flowRow is one row of a flow table.
type flowRow struct {
	fc  *fileCtx
	rec flowtable.FlowRecord
	// Set for --reset-by rows.
	reset      bool
	inProgress int
	// other is a conversation of another protocol (flowtable.Others):
	// no index, no TCP analysis; proto names it.
	other bool
	proto string
}

// flowsView collects the records of the flows that leave the table and
// prints them, filtered, selected and sorted, when the file ends.
type flowsView struct {
	w     io.Writer
	o     *analyzeOptions
	fc    *fileCtx
	query flowQuery
	all   []flowtable.FlowRecord
	// renumber: the records came from several workers (runWorkers).
	renumber bool
	// others counts, for the conversation table, the packets of other
	// protocols than TCP and UDP.
	others flowtable.Others
}

func newFlowsView(w io.Writer, o *analyzeOptions, fc *fileCtx, q flowQuery) *flowsView {
	return &flowsView{w: w, o: o, fc: fc, query: q}
}

func (v *flowsView) packet(pk *packetCtx) error {
	if v.query == queryNone {
		v.others.Add(pk.dec, pk.cap.Timestamp, pk.cap.Frame, pk.cap.OrigLen)
	}
	return nil
}

// otherRows are the conversation table's rows of other protocols, after
// the TCP and UDP flows.
func (v *flowsView) otherRows(fc *fileCtx) []flowRow {
	var rows []flowRow
	for _, c := range v.others.Conversations() {
		r := flowRow{fc: fc, other: true, rec: flowtable.FlowRecord{
			First: c.First, Last: c.Last, FirstFrame: c.FirstFrame, LastFrame: c.LastFrame, Packets: c.Packets, Bytes: c.Bytes,
		}}
		if c.IP {
			r.proto = c.Proto.String()
			r.rec.Client, r.rec.Server = netip.AddrPortFrom(c.A, 0), netip.AddrPortFrom(c.B, 0)
		} else {
			r.proto = c.EtherType.String()
		}
		rows = append(rows, r)
	}
	return rows
}

func (v *flowsView) flow(r *flowtable.FlowRecord) { v.all = append(v.all, *r) }

func (v *flowsView) finish(fc *fileCtx) error {
	if v.renumber {
		flowtable.Renumber(v.all) // the workers' flows, numbered as one core numbers them
	}
	var rows []flowRow
	keep := func(r *flowtable.FlowRecord) bool { return v.o.showFlow(fc, r) }
	switch v.query {
	case queryHandshake:
		for _, r := range flowtable.SlowHandshakes(v.all, v.o.handshakeOver) {
			if keep(&r) {
				rows = append(rows, flowRow{fc: fc, rec: r})
			}
		}
		if v.o.first && len(rows) > 1 {
			rows = rows[:1]
		}
	case queryReset:
		side := flowtable.SideClient
		if v.o.resetBy == "server" {
			side = flowtable.SideServer
		}
		// Other connections of a client count whatever the filters say.
		for _, r := range flowtable.ResetsBy(v.all, side) {
			if keep(&r.FlowRecord) {
				rows = append(rows, flowRow{fc: fc, rec: r.FlowRecord, reset: true, inProgress: r.OtherInProgress})
			}
		}
	default:
		for i := range v.all {
			if keep(&v.all[i]) {
				rows = append(rows, flowRow{fc: fc, rec: v.all[i]})
			}
		}
		slices.SortFunc(rows, func(a, b flowRow) int { return cmp.Compare(a.rec.Index, b.rec.Index) })
		if !v.o.filter.active() { // --port and --host name TCP and UDP endpoints
			rows = append(rows, v.otherRows(fc)...)
		}
	}
	cols := flowColumns(v.o.fmt, fc.multi, v.query == queryReset)
	if v.o.sortBy != "" {
		key, desc, _ := parseSort(v.o.sortBy, flowSortKeys())
		sortRows(rows, flowDataColumns(true), key, desc)
	}
	if v.o.top > 0 && len(rows) > v.o.top {
		rows = rows[:v.o.top]
	}
	tw := newViewTable(v.o, v.w, cols)
	tw.empty = "0 flows match"
	for i := range rows {
		if err := tw.Row(&rows[i]); err != nil {
			return err
		}
	}
	return finishViewTable(v.o, tw)
}

// seconds formats a duration as a JSON number of seconds (exact, nine
// decimals), or nil when zero means "not measured".
func seconds(d time.Duration, zeroIsNone bool) any {
	if d == 0 && zeroIsNone {
		return nil
	}
	return json.Number(decimalSeconds(int64(d)))
}

// human formats a duration for text: rounded to the microsecond, its
// unit in ASCII ("219.211ms", "8.979us", "7m14.311s").
func human(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return strings.Replace(d.String(), "µs", "us", 1)
}

// millis formats a duration for a text column in milliseconds, to the
// microsecond ("0.118", "50.672").
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Round(time.Microsecond))/1e6, 'f', 3, 64)
}

func sideOrNone(s flowtable.Side) any {
	if s == flowtable.SideNone {
		return nil
	}
	return s.String()
}

func (r *flowRow) count(e flowtable.Event) uint32 { return r.rec.FilterCount(e) }

// flowDataColumns are the columns of flow tables in JSON and CSV, and the
// fields --sort accepts.
func flowDataColumns(reset bool) []column[*flowRow] {
	type c = column[*flowRow]
	cols := []c{
		{"INDEX", "index", tcpUDP(func(r *flowRow) any { return r.rec.Index })},
		{"PROTO", "proto", func(r *flowRow) any { return r.protoName() }},
		{"CLIENT", "client", func(r *flowRow) any { return r.endpoint(r.rec.Client) }},
		{"SERVER", "server", func(r *flowRow) any { return r.endpoint(r.rec.Server) }},
		{"VLAN", "vlan", func(r *flowRow) any {
			if r.rec.VLAN == 0 {
				return nil
			}
			return r.rec.VLAN
		}},
		{"STATE", "state", tcpUDP(func(r *flowRow) any { return r.rec.State.String() })},
		{"START_S", "start_s", func(r *flowRow) any { return seconds(time.Duration(r.rec.First-r.fc.first), false) }},
		{"START_TS", "start_ts", func(r *flowRow) any { return decimalSeconds(r.rec.First) }},
		{"FIRST_FRAME", "first_frame", func(r *flowRow) any { return r.fc.frameLabel(r.rec.FirstFrame) }},
		{"LAST_FRAME", "last_frame", func(r *flowRow) any { return r.fc.frameLabel(r.rec.LastFrame) }},
		{"DURATION_S", "duration_s", func(r *flowRow) any { return seconds(r.rec.Duration(), false) }},
		{"PACKETS_C2S", "packets_c2s", func(r *flowRow) any { return r.rec.Packets[0] }},
		{"PACKETS_S2C", "packets_s2c", func(r *flowRow) any { return r.rec.Packets[1] }},
		{"BYTES_C2S", "bytes_c2s", func(r *flowRow) any { return r.rec.Bytes[0] }},
		{"BYTES_S2C", "bytes_s2c", func(r *flowRow) any { return r.rec.Bytes[1] }},
		{"PAYLOAD_C2S", "payload_c2s", func(r *flowRow) any { return r.rec.Payload[0] }},
		{"PAYLOAD_S2C", "payload_s2c", func(r *flowRow) any { return r.rec.Payload[1] }},
		{"HANDSHAKE_S", "handshake_s", func(r *flowRow) any { return seconds(r.rec.SynToSynAck, true) }},
		{"SYNACK_TO_ACK_S", "synack_to_ack_s", func(r *flowRow) any { return seconds(r.rec.SynAckToAck, true) }},
		{"IRTT_S", "irtt_s", func(r *flowRow) any { return seconds(r.rec.IRTT, true) }},
		{"SYN_RETRANSMISSIONS", "syn_retransmissions", func(r *flowRow) any { return r.rec.SynRetransmissions }},
		{"RTT_SAMPLES", "rtt_samples", func(r *flowRow) any { return r.rec.RTTSamples }},
		{"RTT_MIN_S", "rtt_min_s", func(r *flowRow) any { return rttValue(r, r.rec.RTTMin) }},
		{"RTT_MEDIAN_S", "rtt_median_s", func(r *flowRow) any { return rttValue(r, r.rec.RTTMedian) }},
		{"RTT_MAX_S", "rtt_max_s", func(r *flowRow) any { return rttValue(r, r.rec.RTTMax) }},
		{"RETRANSMISSIONS", "retransmissions", func(r *flowRow) any { return r.count(flowtable.Retransmission) }},
		{"FAST_RETRANSMISSIONS", "fast_retransmissions", func(r *flowRow) any { return r.count(flowtable.FastRetransmission) }},
		{"SPURIOUS_RETRANSMISSIONS", "spurious_retransmissions", func(r *flowRow) any { return r.count(flowtable.SpuriousRetransmission) }},
		{"RETRANS_BYTES_C2S", "retrans_bytes_c2s", func(r *flowRow) any { return r.rec.RetransBytes[0] }},
		{"RETRANS_BYTES_S2C", "retrans_bytes_s2c", func(r *flowRow) any { return r.rec.RetransBytes[1] }},
		{"OUT_OF_ORDER", "out_of_order", func(r *flowRow) any { return r.count(flowtable.OutOfOrder) }},
		{"LOST_SEGMENTS", "lost_segments", func(r *flowRow) any { return r.count(flowtable.LostSegment) }},
		{"DUP_ACKS", "dup_acks", func(r *flowRow) any { return r.count(flowtable.DuplicateAck) }},
		{"ZERO_WINDOWS", "zero_windows", func(r *flowRow) any { return r.count(flowtable.ZeroWindow) }},
		{"WINDOW_FULL", "window_full", func(r *flowRow) any { return r.count(flowtable.WindowFull) }},
		{"WINDOW_SHRINKS", "window_shrinks", func(r *flowRow) any { return r.count(flowtable.WindowShrink) }},
		{"KEEP_ALIVES", "keep_alives", func(r *flowRow) any { return r.count(flowtable.KeepAlive) }},
		{"RESET_BY", "reset_by", func(r *flowRow) any { return sideOrNone(r.rec.ResetBy) }},
		{"FIN_FIRST_BY", "fin_first_by", func(r *flowRow) any { return sideOrNone(r.rec.FinFirstBy) }},
		{"END", "end", tcpUDP(func(r *flowRow) any { return r.rec.End.String() })},
	}
	if reset {
		cols = append(cols, resetColumns(true)...)
	}
	return cols
}

// rttValue is nil when the flow gave no RTT sample.
func rttValue(r *flowRow, d time.Duration) any {
	if r.rec.RTTSamples == 0 {
		return nil
	}
	return seconds(d, false)
}

// resetColumns are the extra columns of --reset-by (nil in rows of other
// views, which --sort may still name).
func resetColumns(data bool) []column[*flowRow] {
	type c = column[*flowRow]
	ifReset := func(f func(r *flowRow) any) func(r *flowRow) any {
		return func(r *flowRow) any {
			if !r.reset {
				return nil
			}
			return f(r)
		}
	}
	cols := []c{
		{"RESET_FRAME", "reset_frame", ifReset(func(r *flowRow) any { return r.fc.frameLabel(r.rec.FirstResetFrame) })},
	}
	if data {
		cols = append(cols,
			c{"RESET_S", "reset_s", ifReset(func(r *flowRow) any { return seconds(time.Duration(r.rec.FirstResetTS-r.fc.first), false) })},
			c{"RESET_TS", "reset_ts", ifReset(func(r *flowRow) any { return decimalSeconds(r.rec.FirstResetTS) })},
		)
	} else {
		cols = append(cols, c{"RESET_AT_S", "", ifReset(func(r *flowRow) any { return decimalSecondsText(r.rec.FirstResetTS - r.fc.first) })})
	}
	return append(cols, c{"OTHER_IN_PROGRESS", "other_in_progress", ifReset(func(r *flowRow) any { return r.inProgress })})
}

func decimalSecondsText(ns int64) string { return string(summary.AppendSeconds(nil, ns, 6)) }

// flowTextColumns is the compact text table.
func flowTextColumns(reset bool) []column[*flowRow] {
	type c = column[*flowRow]
	cols := []c{
		{"IDX", "", tcpUDP(func(r *flowRow) any { return r.rec.Index })},
		{"PROTO", "", func(r *flowRow) any { return r.protoName() }},
		{"CLIENT", "", func(r *flowRow) any { return r.endpoint(r.rec.Client) }},
		{"SERVER", "", func(r *flowRow) any { return r.endpoint(r.rec.Server) }},
		{"START_S", "", func(r *flowRow) any { return decimalSecondsText(r.rec.First - r.fc.first) }},
		{"DURATION_S", "", func(r *flowRow) any { return decimalSecondsText(int64(r.rec.Duration())) }},
		{"PKTS C>S", "", func(r *flowRow) any { return r.rec.Packets[0] }},
		{"PKTS S>C", "", func(r *flowRow) any { return r.rec.Packets[1] }},
		{"BYTES C>S", "", func(r *flowRow) any { return r.rec.Bytes[0] }},
		{"BYTES S>C", "", func(r *flowRow) any { return r.rec.Bytes[1] }},
		{"HANDSHAKE_MS", "", func(r *flowRow) any {
			if r.rec.SynToSynAck == 0 {
				return nil
			}
			return millis(r.rec.SynToSynAck)
		}},
		{"RTT_MS MIN/MED/MAX", "", func(r *flowRow) any {
			if r.rec.RTTSamples == 0 {
				return nil
			}
			return millis(r.rec.RTTMin) + "/" + millis(r.rec.RTTMedian) + "/" + millis(r.rec.RTTMax)
		}},
		{"RETX", "", tcpUDP(func(r *flowRow) any { return r.count(flowtable.Retransmission) })},
		{"OOO", "", tcpUDP(func(r *flowRow) any { return r.count(flowtable.OutOfOrder) })},
		{"DUPACK", "", tcpUDP(func(r *flowRow) any { return r.count(flowtable.DuplicateAck) })},
		{"ZEROWIN", "", tcpUDP(func(r *flowRow) any { return r.count(flowtable.ZeroWindow) })},
		{"SHRINK", "", tcpUDP(func(r *flowRow) any { return r.count(flowtable.WindowShrink) })},
		{"RST BY", "", func(r *flowRow) any { return sideOrNone(r.rec.ResetBy) }},
		{"FIN BY", "", func(r *flowRow) any { return sideOrNone(r.rec.FinFirstBy) }},
		{"STATE", "", tcpUDP(func(r *flowRow) any { return r.rec.State.String() })},
	}
	if reset {
		cols = append(cols, resetColumns(false)...)
	}
	return cols
}

func flowColumns(f outputFormat, multi, reset bool) []column[*flowRow] {
	var cols []column[*flowRow]
	if f == formatText {
		cols = flowTextColumns(reset)
	} else {
		cols = flowDataColumns(reset)
	}
	if multi && f != formatText {
		cols = append([]column[*flowRow]{{"FILE", "file", func(r *flowRow) any { return r.fc.name }}}, cols...)
	}
	return cols
}

// flowSortKeys are the fields --sort accepts and whether each sorts in
// ascending order by default.
func flowSortKeys() map[string]bool {
	asc := map[string]bool{"index": true, "proto": true, "client": true, "server": true, "state": true,
		"start_s": true, "start_ts": true, "first_frame": true, "last_frame": true, "reset_by": true,
		"fin_first_by": true, "end": true, "reset_frame": true, "reset_s": true, "reset_ts": true}
	keys := map[string]bool{}
	for _, c := range flowDataColumns(true) {
		keys[c.Key] = asc[c.Key]
	}
	return keys
}

// parseSort reads --sort: FIELD, +FIELD or -FIELD.
func parseSort(s string, keys map[string]bool) (key string, desc bool, err error) {
	key = strings.TrimLeft(s, "+-")
	asc, ok := keys[key]
	if !ok {
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		return "", false, inputErr(fmt.Errorf("--sort %q: unknown field; one of %s", s, strings.Join(names, ", ")))
	}
	desc = !asc
	switch {
	case strings.HasPrefix(s, "+"):
		desc = false
	case strings.HasPrefix(s, "-"):
		desc = true
	}
	return key, desc, nil
}

// sortRows orders rows by the column whose JSON key is key. Rows without
// a value (nil) come last either way; ties keep their order.
func sortRows[R any](rows []R, cols []column[*R], key string, desc bool) {
	var val func(*R) any
	for _, c := range cols {
		if c.Key == key {
			val = c.Value
		}
	}
	if val == nil {
		return
	}
	slices.SortStableFunc(rows, func(a, b R) int {
		va, vb := val(&a), val(&b)
		switch {
		case va == nil && vb == nil:
			return 0
		case va == nil:
			return 1
		case vb == nil:
			return -1
		}
		c := compareValues(va, vb)
		if desc {
			c = -c
		}
		return c
	})
}

// compareValues compares two column values: numerically when both are
// numbers, else as text.
func compareValues(a, b any) int {
	fa, oka := number(a)
	fb, okb := number(b)
	if oka && okb {
		return cmp.Compare(fa, fb)
	}
	return strings.Compare(plain(a, ""), plain(b, ""))
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// tcpUDP shows a column for TCP and UDP flows only (none for the
// conversations of other protocols).
func tcpUDP(f func(*flowRow) any) func(*flowRow) any {
	return func(r *flowRow) any {
		if r.other {
			return nil
		}
		return f(r)
	}
}

func (r *flowRow) protoName() string {
	if r.other {
		return r.proto
	}
	return r.rec.Proto.String()
}

// endpoint is a flow's end as ip:port, a conversation of another IP
// protocol's as its address, none without IP.
func (r *flowRow) endpoint(a netip.AddrPort) any {
	switch {
	case !r.other:
		return a.String()
	case a.Addr().IsValid():
		return a.Addr().String()
	}
	return nil
}
