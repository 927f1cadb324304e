package capfile

import (
	"bytes"
	"encoding/binary"
)

// Builders for hand-made capture files used by the edge-case and fuzz
// tests. They write exactly what they are told, including bad values.

// pcapRec is one classic pcap record.
type pcapRec struct {
	sec, frac       uint32
	caplen, origlen uint32 // caplen 0 means len(data)
	data            []byte
}

// buildPcap returns a pcap file with the given header fields and records;
// hdrLen is the record header length (16, or 24 for the modified format).
func buildPcap(order binary.ByteOrder, magic uint32, snaplen, network uint32, hdrLen int, recs ...pcapRec) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snaplen)
	order.PutUint32(h[20:], network)
	b.Write(h)
	for _, r := range recs {
		rh := make([]byte, hdrLen)
		caplen := r.caplen
		if caplen == 0 {
			caplen = uint32(len(r.data))
		}
		order.PutUint32(rh[0:], r.sec)
		order.PutUint32(rh[4:], r.frac)
		order.PutUint32(rh[8:], caplen)
		order.PutUint32(rh[12:], r.origlen)
		b.Write(rh)
		b.Write(r.data)
	}
	return b.Bytes()
}

// ngFile builds a pcapng file block by block in one byte order at a time.
type ngFile struct {
	order binary.ByteOrder
	b     bytes.Buffer
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// offset is where the next block will start.
func (f *ngFile) offset() int64 { return int64(f.b.Len()) }

// block writes a block with a correct length around body (padded).
func (f *ngFile) block(typ uint32, body []byte) *ngFile {
	body = pad4(append([]byte(nil), body...))
	n := uint32(12 + len(body))
	f.raw(typ, n, body, n)
	return f
}

// raw writes a block with the given (possibly wrong) lengths.
func (f *ngFile) raw(typ, length uint32, body []byte, trailer uint32) *ngFile {
	var h [8]byte
	f.order.PutUint32(h[0:], typ)
	f.order.PutUint32(h[4:], length)
	f.b.Write(h[:])
	f.b.Write(body)
	f.order.PutUint32(h[0:], trailer)
	f.b.Write(h[:4])
	return f
}

// shb starts a section in the given byte order and version.
func (f *ngFile) shb(order binary.ByteOrder, major, minor uint16) *ngFile {
	f.order = order
	body := make([]byte, 16)
	order.PutUint32(body[0:], byteOrderMagic)
	order.PutUint16(body[4:], major)
	order.PutUint16(body[6:], minor)
	order.PutUint64(body[8:], ^uint64(0))
	body = append(body, f.opt(3, []byte("test shb_os"))...)
	body = append(body, f.opt(0, nil)...)
	return f.block(blockSHB, body)
}

func newNg(order binary.ByteOrder) *ngFile {
	f := &ngFile{}
	return f.shb(order, 1, 0)
}

// opt encodes one option (padded).
func (f *ngFile) opt(code uint16, val []byte) []byte {
	o := make([]byte, 4, 4+len(val)+3)
	f.order.PutUint16(o[0:], code)
	f.order.PutUint16(o[2:], uint16(len(val)))
	return pad4(append(o, val...))
}

func (f *ngFile) idb(link uint16, snaplen uint32, opts ...[]byte) *ngFile {
	body := make([]byte, 8)
	f.order.PutUint16(body[0:], link)
	f.order.PutUint32(body[4:], snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, f.opt(0, nil)...)
	}
	return f.block(blockIDB, body)
}

func (f *ngFile) tsresol(v uint8) []byte { return f.opt(optTSResol, []byte{v}) }

func (f *ngFile) tsoffset(sec int64) []byte {
	v := make([]byte, 8)
	f.order.PutUint64(v, uint64(sec))
	return f.opt(optTSOffset, v)
}

func (f *ngFile) epbBody(ifid uint32, ts uint64, data []byte, orig uint32, opts ...[]byte) []byte {
	body := make([]byte, 20)
	f.order.PutUint32(body[0:], ifid)
	f.order.PutUint32(body[4:], uint32(ts>>32))
	f.order.PutUint32(body[8:], uint32(ts))
	f.order.PutUint32(body[12:], uint32(len(data)))
	f.order.PutUint32(body[16:], orig)
	body = pad4(append(body, data...))
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, f.opt(0, nil)...)
	}
	return body
}

func (f *ngFile) epb(ifid uint32, ts uint64, data []byte, orig uint32, opts ...[]byte) *ngFile {
	return f.block(blockEPB, f.epbBody(ifid, ts, data, orig, opts...))
}

func (f *ngFile) spb(orig uint32, data []byte) *ngFile {
	body := make([]byte, 4)
	f.order.PutUint32(body, orig)
	return f.block(blockSPB, append(body, data...))
}

func (f *ngFile) pb(ifid uint16, ts uint64, data []byte, orig uint32) *ngFile {
	body := make([]byte, 20)
	f.order.PutUint16(body[0:], ifid)
	f.order.PutUint16(body[2:], 7) // drops
	f.order.PutUint32(body[4:], uint32(ts>>32))
	f.order.PutUint32(body[8:], uint32(ts))
	f.order.PutUint32(body[12:], uint32(len(data)))
	f.order.PutUint32(body[16:], orig)
	return f.block(blockPB, append(body, data...))
}

func (f *ngFile) bytes() []byte { return append([]byte(nil), f.b.Bytes()...) }
