package main

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/flowtable"
)

// summaryRow is one packet of --summary in JSON and CSV.
type summaryRow struct {
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
		column[*summaryRow]{"FRAME", "frame", func(r *summaryRow) any { return r.frame }},
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
	num  []byte // scratch for a padded field
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
	v.buf = appendInfo(v.buf[:0], pk)
	if v.tw == nil {
		return v.writeText(pk)
	}
	r := &v.row
	*r = summaryRow{
		file:   v.fc.name,
		frame:  pk.cap.Frame,
		rel:    pk.rel,
		ts:     pk.cap.Timestamp,
		ports:  hasPorts(d),
		sport:  d.SrcPort,
		dport:  d.DstPort,
		proto:  protoName(d),
		length: pk.cap.OrigLen,
		caplen: len(pk.cap.Data),
		info:   string(v.buf),
	}
	if d.Src().IsValid() {
		r.src, r.dst = d.Src().String(), d.Dst().String()
	}
	return v.tw.Row(r)
}

// writeText writes one line shaped like tshark's:
// "    3   0.127610 10.0.0.1 → 10.0.0.2 TCP 68 46656 → 80 [ACK] Seq=1 ...".
func (v *summaryView) writeText(pk *packetCtx) error {
	d := pk.dec
	b := v.line[:0]
	v.num = strconv.AppendUint(v.num[:0], pk.cap.Frame, 10)
	b = appendPadLeft(b, v.num, 5)
	b = append(b, ' ')
	v.num = appendDecimalSeconds(v.num[:0], pk.rel, 6)
	b = appendPadLeft(b, v.num, 11)
	b = append(b, ' ')
	v.num = v.num[:0]
	if d.Src().IsValid() {
		v.num = d.Src().AppendTo(v.num)
	} else {
		v.num = append(v.num, '-')
	}
	b = appendPadLeft(b, v.num, 15)
	b = append(b, " → "...)
	n := len(b)
	if d.Dst().IsValid() {
		b = d.Dst().AppendTo(b)
	} else {
		b = append(b, '-')
	}
	for i := len(b) - n; i < 15; i++ {
		b = append(b, ' ')
	}
	b = append(b, ' ')
	b = append(b, protoName(d)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(pk.cap.OrigLen), 10)
	b = append(b, ' ')
	b = append(b, v.buf...)
	b = append(b, '\n')
	v.line = b
	_, err := v.bw.Write(b)
	return err
}

func appendPadLeft(b, s []byte, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func (v *summaryView) finish(fc *fileCtx) error {
	if v.tw != nil {
		if err := finishViewTable(v.o, v.tw); err != nil {
			return err
		}
	}
	return v.bw.Flush()
}

// protoName names the deepest protocol decoded, as tshark's Protocol
// column would for the layers netblame decodes.
func protoName(d *decode.Packet) string {
	if d.Layer >= decode.LayerNetwork && d.Has(decode.Fragment) { // a piece of a datagram
		return ipName(d)
	}
	if d.Layer == decode.LayerTransport && d.Proto.Transport() {
		return d.Proto.String()
	}
	if d.Layer >= decode.LayerNetwork {
		// A transport decode did not reach (a cut header) is named by
		// its IP version, as tshark does.
		if n := d.Proto.Name(); n != "" && !d.Proto.Transport() {
			return n
		}
		return ipName(d)
	}
	if d.Layer == decode.LayerLink {
		return d.EtherType.String()
	}
	return "LINKTYPE_" + strconv.Itoa(int(d.Link))
}

func ipName(d *decode.Packet) string {
	if d.IPVersion == 6 {
		return "IPv6"
	}
	return "IPv4"
}

// appendInfo appends the Info column: a short description of the packet.
func appendInfo(b []byte, pk *packetCtx) []byte {
	d := pk.dec
	switch {
	case d.Layer >= decode.LayerNetwork && d.Has(decode.Fragment):
		// A piece of a datagram, worded as tshark words it; decode's
		// complaint about a transport header it cuts is no news.
		return appendFragmentInfo(b, d)
	case d.IsTCP():
		b = appendTCPInfo(b, pk)
	case d.IsUDP():
		b = strconv.AppendUint(b, uint64(d.SrcPort), 10)
		b = append(b, " → "...)
		b = strconv.AppendUint(b, uint64(d.DstPort), 10)
		b = append(b, " Len="...)
		b = strconv.AppendInt(b, int64(d.PayloadLen), 10)
	case d.Layer == decode.LayerTransport && (d.Proto == decode.ProtoICMP || d.Proto == decode.ProtoICMPv6):
		b = appendICMPInfo(b, d)
	case d.Layer >= decode.LayerNetwork:
		b = append(b, "IP protocol "...)
		b = strconv.AppendUint(b, uint64(d.Proto), 10)
	case d.Layer == decode.LayerLink && d.EtherType != 0:
		b = append(b, "EtherType 0x"...)
		b = appendHex(b, uint64(d.EtherType), 4)
	}
	if pk.err != nil {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, '[')
		b = append(b, pk.err.Error()...)
		b = append(b, ']')
	}
	return b
}

// appendFragmentInfo appends the Info of a fragment that did not complete
// its datagram: "Fragmented IP protocol (proto=TCP 6, off=0, ID=0001)", or
// for IPv6 "IPv6 fragment (off=0 more=y ident=0xa5d33a2d nxt=6)".
func appendFragmentInfo(b []byte, d *decode.Packet) []byte {
	if d.IPVersion == 6 {
		b = append(b, "IPv6 fragment (off="...)
		b = strconv.AppendUint(b, uint64(d.FragOffset), 10)
		b = append(b, " more="...)
		if d.Has(decode.MoreFragments) {
			b = append(b, 'y')
		} else {
			b = append(b, 'n')
		}
		b = append(b, " ident=0x"...)
		b = appendHex(b, uint64(d.IPID), 8)
		b = append(b, " nxt="...)
		b = strconv.AppendUint(b, uint64(d.Proto), 10)
		return append(b, ')')
	}
	b = append(b, "Fragmented IP protocol (proto="...)
	if name := d.Proto.Name(); name != "" {
		b = append(append(b, name...), ' ')
	}
	b = strconv.AppendUint(b, uint64(d.Proto), 10)
	b = append(b, ", off="...)
	b = strconv.AppendUint(b, uint64(d.FragOffset), 10)
	b = append(b, ", ID="...)
	b = appendHex(b, uint64(d.IPID), 4)
	return append(b, ')')
}

func appendEventTags(b []byte, s flowtable.EventSet) []byte {
	for e := flowtable.Event(0); e < flowtable.NumEvents; e++ {
		if tag := e.InfoTag(); s.Has(e) && tag != "" {
			b = append(b, '[')
			b = append(b, tag...)
			b = append(b, "] "...)
		}
	}
	return b
}

// appendTCPInfo appends "[TCP Retransmission] 46656 → 80 [SYN, ACK] Seq=0
// Ack=1 Win=8192 Len=0 MSS=1440 WS=256 SACK_PERM TSval=... TSecr=...".
// Seq and Ack are relative and Win scaled once the flow table has analysed
// the segment (raw otherwise, e.g. for fragments); options are listed in a
// fixed order, not in header order as tshark does.
func appendTCPInfo(b []byte, pk *packetCtx) []byte {
	d := pk.dec
	seq, ack, win := d.Seq, d.Ack, int64(d.Window)
	var sackBase uint32 // SACK edges are shown relative, like Ack
	if res := &pk.res; res.Tracked && res.Analyzed {
		seq, ack = res.RelSeq, res.RelAck
		if d.TCPFlags&decode.TCPAck != 0 {
			sackBase = d.Ack - res.RelAck
		}
		if res.Window >= 0 {
			win = res.Window
		}
		b = appendEventTags(b, res.Events)
	}
	b = strconv.AppendUint(b, uint64(d.SrcPort), 10)
	b = append(b, " → "...)
	b = strconv.AppendUint(b, uint64(d.DstPort), 10)
	b = append(b, " ["...)
	b, _ = d.TCPFlags.AppendText(b)
	b = append(b, "] Seq="...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	if d.TCPFlags&decode.TCPAck != 0 {
		b = append(b, " Ack="...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, " Win="...)
	b = strconv.AppendInt(b, win, 10)
	if d.TCPFlags&decode.TCPUrg != 0 {
		b = append(b, " Urg="...)
		b = strconv.AppendUint(b, uint64(d.Urgent), 10)
	}
	b = append(b, " Len="...)
	b = strconv.AppendInt(b, int64(d.PayloadLen), 10)
	if d.Has(decode.HasMSS) {
		b = append(b, " MSS="...)
		b = strconv.AppendUint(b, uint64(d.MSS), 10)
	}
	if d.Has(decode.HasWScale) {
		b = append(b, " WS="...)
		sh := d.WScale
		if sh > 14 {
			sh = 14 // RFC 7323: larger shifts are treated as 14
		}
		b = strconv.AppendUint(b, 1<<sh, 10)
	}
	if d.Has(decode.HasSACKPerm) {
		b = append(b, " SACK_PERM"...)
	}
	if d.Has(decode.HasTimestamps) {
		b = append(b, " TSval="...)
		b = strconv.AppendUint(b, uint64(d.TSVal), 10)
		b = append(b, " TSecr="...)
		b = strconv.AppendUint(b, uint64(d.TSEcr), 10)
	}
	for i := 0; i < int(d.SACKCount) && i < decode.MaxSACKBlocks; i++ {
		b = append(b, " SLE="...)
		b = strconv.AppendUint(b, uint64(d.SACK[i].Left-sackBase), 10)
		b = append(b, " SRE="...)
		b = strconv.AppendUint(b, uint64(d.SACK[i].Right-sackBase), 10)
	}
	return b
}

func appendICMPInfo(b []byte, d *decode.Packet) []byte {
	if n := decode.ICMPTypeName(d.Proto, d.ICMPType); n != "" {
		b = append(b, n...)
		b = append(b, ' ')
	}
	b = append(b, "(type="...)
	b = strconv.AppendUint(b, uint64(d.ICMPType), 10)
	b = append(b, ", code="...)
	b = strconv.AppendUint(b, uint64(d.ICMPCode), 10)
	return append(b, ')')
}
