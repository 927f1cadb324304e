package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/netblame/netblame/decode"
)

func TestPcapVariants(t *testing.T) {
	data1 := []byte("0123456789abcdefghij")
	data2 := []byte{0xff, 0xee}
	for _, tc := range []struct {
		name    string
		order   binary.ByteOrder
		magic   uint32
		hdrLen  int
		network uint32
		frac    uint32 // of the first record
		wantNs  int64  // its timestamp
		wantFCS int
		link    decode.LinkType
	}{
		{"le-usec", binary.LittleEndian, pcapMagicMicro, 16, 1, 123456, 1_600_000_000_123_456_000, -1, 1},
		{"be-usec", binary.BigEndian, pcapMagicMicro, 16, 113, 999999, 1_600_000_000_999_999_000, -1, 113},
		{"le-nsec", binary.LittleEndian, pcapMagicNano, 16, 101, 123456789, 1_600_000_000_123_456_789, -1, 101},
		{"be-nsec", binary.BigEndian, pcapMagicNano, 16, 276, 1, 1_600_000_000_000_000_001, -1, 276},
		{"le-modified", binary.LittleEndian, pcapMagicModified, 24, 1, 5, 1_600_000_000_000_005_000, -1, 1},
		{"be-modified", binary.BigEndian, pcapMagicModified, 24, 1, 5, 1_600_000_000_000_005_000, -1, 1},
		// FCS length present (bit 26), 2 words = 4 bytes, in the top bits.
		{"fcs-bits", binary.LittleEndian, pcapMagicMicro, 16, 1 | 1<<26 | 2<<28, 0, 1_600_000_000_000_000_000, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := buildPcap(tc.order, tc.magic, 65535, tc.network, tc.hdrLen,
				pcapRec{sec: 1_600_000_000, frac: tc.frac, origlen: 60, data: data1},
				pcapRec{sec: 1_600_000_001, frac: 0, origlen: 2, data: data2})
			r, err := NewReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Format() != FormatPCAP || r.LinkType() != tc.link || r.Snaplen() != 65535 || r.Interfaces()[0].FCSLen != tc.wantFCS {
				t.Errorf("format %v link %d snaplen %d fcs %d", r.Format(), r.LinkType(), r.Snaplen(), r.Interfaces()[0].FCSLen)
			}
			var p Packet
			if err := r.Next(&p); err != nil {
				t.Fatal(err)
			}
			if p.Frame != 1 || p.Timestamp != tc.wantNs || !bytes.Equal(p.Data, data1) || p.OrigLen != 60 || p.Link != tc.link {
				t.Errorf("first packet %+v", p)
			}
			if r.Offset() != 24 {
				t.Errorf("first record offset %d, want 24", r.Offset())
			}
			if err := r.Next(&p); err != nil {
				t.Fatal(err)
			}
			if p.Frame != 2 || p.Timestamp != 1_600_000_001_000_000_000 || !bytes.Equal(p.Data, data2) || p.OrigLen != 2 {
				t.Errorf("second packet %+v", p)
			}
			if want := int64(24 + tc.hdrLen + len(data1)); r.Offset() != want {
				t.Errorf("second record offset %d, want %d", r.Offset(), want)
			}
			if err := r.Next(&p); err != io.EOF {
				t.Errorf("after the last packet: %v, want io.EOF", err)
			}
		})
	}
}

// TestPcapCaplenTolerance: like libpcap, a record longer than the file's
// snaplen is accepted up to 262144 bytes.
func TestPcapCaplenTolerance(t *testing.T) {
	big := make([]byte, 1000)
	file := buildPcap(binary.LittleEndian, pcapMagicMicro, 68, 1, 16, pcapRec{origlen: 1000, data: big})
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := r.Next(&p); err != nil || len(p.Data) != 1000 {
		t.Fatalf("caplen 1000 with snaplen 68: %v, %d bytes", err, len(p.Data))
	}
}

// TestPcapLargeRecords: records larger than the default buffer (a file
// with a big snaplen) are read whole, proving the buffer grows.
func TestPcapLargeRecords(t *testing.T) {
	var recs []pcapRec
	for i, n := range []int{100, 300_000, 50, 1 << 20, 7} {
		d := bytes.Repeat([]byte{byte(i + 1)}, n)
		recs = append(recs, pcapRec{sec: uint32(i), origlen: uint32(n), data: d})
	}
	file := buildPcap(binary.LittleEndian, pcapMagicNano, 2<<20, 1, 16, recs...)
	pkts, err := readAll(mustReader(t, file))
	if err != io.EOF || len(pkts) != len(recs) {
		t.Fatalf("read %d of %d packets, then %v", len(pkts), len(recs), err)
	}
	for i, p := range pkts {
		if !bytes.Equal(p.Data, recs[i].data) {
			t.Errorf("record %d (%d bytes) differs", i, len(recs[i].data))
		}
	}
}

func mustReader(t *testing.T, file []byte) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSmallReads: a source that returns one byte per Read (or data with
// the final error) yields the same packets as a whole-buffer source.
func TestSmallReads(t *testing.T) {
	var recs []pcapRec
	for i := range 50 {
		recs = append(recs, pcapRec{sec: uint32(i), frac: uint32(i), origlen: uint32(i + 1), data: bytes.Repeat([]byte{byte(i)}, i+1)})
	}
	pc := buildPcap(binary.BigEndian, pcapMagicMicro, 128, 1, 16, recs...)
	ng := newNg(binary.LittleEndian).idb(1, 0).epb(0, 5, []byte("abc"), 3).block(4, make([]byte, 40)).spb(2, []byte("xy")).bytes()
	for name, file := range map[string][]byte{"pcap": pc, "pcapng": ng} {
		want, werr := readAll(mustReader(t, file))
		for rname, src := range map[string]io.Reader{
			"one-byte": iotest.OneByteReader(bytes.NewReader(file)),
			"data-err": iotest.DataErrReader(bytes.NewReader(file)),
			"half":     iotest.HalfReader(bytes.NewReader(file)),
		} {
			r, err := NewReader(src)
			if err != nil {
				t.Fatalf("%s %s: %v", name, rname, err)
			}
			got, gerr := readAll(r)
			if gerr != werr || len(got) != len(want) {
				t.Fatalf("%s %s: %d packets then %v, want %d then %v", name, rname, len(got), gerr, len(want), werr)
			}
			for i := range got {
				if got[i].Timestamp != want[i].Timestamp || !bytes.Equal(got[i].Data, want[i].Data) {
					t.Errorf("%s %s: packet %d differs", name, rname, i)
				}
			}
		}
	}
}

// errCase is one malformed input: how many packets come first, where the
// error must point and what it must say.
type errCase struct {
	name    string
	file    []byte
	packets int    // yielded before the error
	offset  int64  // FormatError.Offset
	msg     string // substring of the message
	atOpen  bool   // NewReader itself fails
}

func checkErrCase(t *testing.T, tc errCase) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(tc.file))
	var pkts []Packet
	if err == nil {
		if tc.atOpen {
			t.Fatalf("NewReader accepted the file")
		}
		pkts, err = readAll(r)
	} else if !tc.atOpen {
		t.Fatalf("NewReader: %v", err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v (%T), want *FormatError", err, err)
	}
	if len(pkts) != tc.packets {
		t.Errorf("%d packets before the error, want %d", len(pkts), tc.packets)
	}
	if fe.Offset != tc.offset {
		t.Errorf("offset %d, want %d (%v)", fe.Offset, tc.offset, fe)
	}
	if !strings.Contains(fe.Error(), tc.msg) {
		t.Errorf("error %q does not mention %q", fe.Error(), tc.msg)
	}
	if r != nil && r.Offset() != tc.offset && !tc.atOpen {
		t.Errorf("Reader.Offset %d after the error, want %d", r.Offset(), tc.offset)
	}
}

func TestPcapErrors(t *testing.T) {
	le := binary.LittleEndian
	good := pcapRec{sec: 1, origlen: 4, data: []byte{1, 2, 3, 4}}
	two := buildPcap(le, pcapMagicMicro, 128, 1, 16, good, good) // 24 + 2*20 bytes
	huge := buildPcap(le, pcapMagicMicro, 128, 1, 16, good, pcapRec{caplen: 262145, origlen: 1})
	hugeSnap := buildPcap(le, pcapMagicMicro, 0xffffffff, 1, 16, good, pcapRec{caplen: 0xfffffff0, origlen: 1})
	for _, tc := range []errCase{
		{name: "empty", file: nil, atOpen: true, msg: "shorter than a capture-file header"},
		{name: "short magic", file: two[:3], atOpen: true, msg: "shorter than a capture-file header"},
		{name: "short header", file: two[:20], atOpen: true, msg: "shorter than the 24-byte pcap header"},
		{name: "bad magic", file: append([]byte{1, 2, 3, 4}, two[4:]...), atOpen: true, msg: "not a pcap or pcapng file"},
		{name: "old version", file: func() []byte { b := bytes.Clone(two); b[4] = 1; return b }(), atOpen: true, msg: "unsupported pcap version 1.4"},
		{name: "truncated record header", file: two[:24+20+10], packets: 1, offset: 44, msg: "pcap: record at offset 44 (after frame 1): truncated record header: 10 of 16"},
		{name: "truncated record body", file: two[:24+20+18], packets: 1, offset: 44, msg: "truncated record: 4 captured bytes announced, 2 present"},
		{name: "caplen beyond 262144", file: huge, packets: 1, offset: 44, msg: "captured length 262145 exceeds the maximum 262144"},
		{name: "absurd caplen with absurd snaplen", file: hugeSnap, packets: 1, offset: 44, msg: "exceeds the maximum"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkErrCase(t, tc) })
	}
}

// TestReadOnAfterError: the loop a user writes first (log the error, read
// on, stop at io.EOF) ends on a damaged file, with the packets before the
// damage and the error exactly once; Err keeps it.
func TestReadOnAfterError(t *testing.T) {
	rec := pcapRec{sec: 1, origlen: 4, data: []byte{1, 2, 3, 4}}
	file := buildPcap(binary.LittleEndian, pcapMagicMicro, 65535, 1, 16, rec, rec, rec)
	file = file[:len(file)-2] // the third record cut short
	r := mustReader(t, file)
	var p Packet
	packets, errs := 0, 0
	for i := 0; i < 100; i++ { // the bound only stops a broken reader
		err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		packets++
	}
	var fe *FormatError
	if packets != 2 || errs != 1 || !errors.As(r.Err(), &fe) {
		t.Errorf("%d packets, %d errors, Err %v; want 2, 1 and a *FormatError", packets, errs, r.Err())
	}
}
