package main

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/netblame/netblame/summary"
)

// summaryRow is one packet of --summary in JSON and CSV.
type summaryRow struct {
	fc     *fileCtx
	file   string
	frame  uint64
	rel    int64
	ts     int64
	src    string
	dst    string
	ports  bool
	sport  uint16
	dport  uint16
	proto  string
	length int
	caplen int
	info   string
}

func summaryColumns(multi bool) []column[*summaryRow] {
	var cols []column[*summaryRow]
	if multi {
		cols = append(cols, column[*summaryRow]{"FILE", "file", func(r *summaryRow) any { return r.file }})
	}
	return append(cols,
		column[*summaryRow]{"FRAME", "frame", func(r *summaryRow) any { return r.fc.frameLabel(r.frame) }},
		column[*summaryRow]{"TIME", "time", func(r *summaryRow) any { return json.Number(decimalSeconds(r.rel)) }},
		column[*summaryRow]{"TS", "ts", func(r *summaryRow) any { return decimalSeconds(r.ts) }},
		column[*summaryRow]{"SRC", "src", func(r *summaryRow) any { return nonEmpty(r.src) }},
		column[*summaryRow]{"DST", "dst", func(r *summaryRow) any { return nonEmpty(r.dst) }},
		column[*summaryRow]{"SPORT", "sport", func(r *summaryRow) any { return portValue(r.ports, r.sport) }},
		column[*summaryRow]{"DPORT", "dport", func(r *summaryRow) any { return portValue(r.ports, r.dport) }},
		column[*summaryRow]{"PROTO", "proto", func(r *summaryRow) any { return r.proto }},
		column[*summaryRow]{"LEN", "len", func(r *summaryRow) any { return r.length }},
		column[*summaryRow]{"CAPLEN", "caplen", func(r *summaryRow) any { return r.caplen }},
		column[*summaryRow]{"INFO", "info", func(r *summaryRow) any { return r.info }},
	)
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func portValue(ok bool, p uint16) any {
	if !ok {
		return nil
	}
	return p
}

// summaryView prints --summary: in text a tshark-like line a packet,
// written as it goes (no column alignment over the whole file, so memory
// stays flat), in JSON and CSV one row a packet.
type summaryView struct {
	o    *analyzeOptions
	fc   *fileCtx
	bw   *bufio.Writer
	tw   *tableWriter[*summaryRow]
	row  summaryRow
	buf  []byte // the Info column
	line []byte // the text line
	app  summary.App
	n    int // packets shown
}

func newSummaryView(w io.Writer, o *analyzeOptions, fc *fileCtx) *summaryView {
	v := &summaryView{o: o, fc: fc, bw: bufio.NewWriterSize(w, 64<<10)}
	if o.fmt != formatText {
		v.tw = newViewTable(o, io.Writer(v.bw), summaryColumns(fc.multi))
	}
	return v
}

func (v *summaryView) packet(pk *packetCtx) error {
	d := pk.dec
	v.app.Parse(d, pk.payload)
	sp := summary.Packet{Frame: pk.cap.Frame, Time: pk.rel, Len: pk.cap.OrigLen, Decoded: d, Result: pk.res, DecodeErr: pk.err, App: &v.app}
	v.n++
	if v.tw == nil {
		sp.File, sp.Frame = v.fc.fileOf(sp.Frame)
		v.line = append(summary.AppendLine(v.line[:0], &sp), '\n')
		_, err := v.bw.Write(v.line)
		return err
	}
	v.buf = summary.AppendInfo(v.buf[:0], &sp)
	r := &v.row
	*r = summaryRow{
		fc:     v.fc,
		file:   v.fc.name,
		frame:  pk.cap.Frame,
		rel:    pk.rel,
		ts:     pk.cap.Timestamp,
		ports:  summary.HasPorts(d),
		sport:  d.SrcPort,
		dport:  d.DstPort,
		proto:  summary.ProtocolOf(&sp),
		length: pk.cap.OrigLen,
		caplen: len(pk.cap.Data),
		info:   string(v.buf),
	}
	if d.Src().IsValid() {
		r.src, r.dst = d.Src().String(), d.Dst().String()
	}
	return v.tw.Row(r)
}

func (v *summaryView) finish(fc *fileCtx) error {
	if v.tw == nil && v.n == 0 {
		v.bw.WriteString("0 packets match\n")
	}
	if v.tw != nil {
		if err := finishViewTable(v.o, v.tw); err != nil {
			return err
		}
	}
	return v.bw.Flush()
}
