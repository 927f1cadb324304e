package pkttest

import (
	"encoding/binary"
	"os"
	"testing"
)

// Record is one captured frame: its time in ns since the epoch, its bytes
// and, when longer than them, its length on the wire.
type Record struct {
	TS      int64
	Data    []byte
	OrigLen int
}

// Pcap renders a little-endian pcap file with nanosecond timestamps and
// link type link.
func Pcap(link uint32, recs ...Record) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b23c4d)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint64(b, 0) // thiszone, sigfigs
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, link)
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint32(b, uint32(r.TS/1e9))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.TS%1e9))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.Data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(max(r.OrigLen, len(r.Data))))
		b = append(b, r.Data...)
	}
	return b
}

// Pcapng renders a little-endian pcapng file: a section header, one
// interface of link type link (nanosecond timestamps) and an enhanced
// packet block per record.
func Pcapng(link uint32, recs ...Record) []byte {
	le := binary.LittleEndian
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = le.AppendUint32(b, typ)
		b = le.AppendUint32(b, n)
		b = append(b, body...)
		return le.AppendUint32(b, n)
	}
	shb := le.AppendUint32(nil, 0x1a2b3c4d)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0)) // section length unknown
	b := block(nil, 0x0a0d0d0a, shb)
	idb := le.AppendUint16(nil, uint16(link))
	idb = le.AppendUint16(idb, 0)
	idb = le.AppendUint32(idb, 262144)
	idb = append(idb, 9, 0, 1, 0, 9, 0, 0, 0) // if_tsresol = 9 (ns), padded
	idb = le.AppendUint32(idb, 0)             // opt_endofopt
	b = block(b, 1, idb)
	for _, r := range recs {
		epb := le.AppendUint32(nil, 0)
		epb = le.AppendUint32(epb, uint32(uint64(r.TS)>>32))
		epb = le.AppendUint32(epb, uint32(r.TS))
		epb = le.AppendUint32(epb, uint32(len(r.Data)))
		epb = le.AppendUint32(epb, uint32(max(r.OrigLen, len(r.Data))))
		epb = append(epb, r.Data...)
		b = block(b, 6, epb)
	}
	return b
}

// Frames makes records of frames, one a millisecond from t0 (ns).
func Frames(t0 int64, frames ...[]byte) []Record {
	recs := make([]Record, len(frames))
	for i, f := range frames {
		recs[i] = Record{TS: t0 + int64(i)*1e6, Data: f}
	}
	return recs
}

// WriteFile writes a capture file's bytes to a new file in t's temporary
// directory and returns its path.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := t.TempDir() + "/" + name
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
