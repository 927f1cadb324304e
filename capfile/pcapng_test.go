package capfile

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/netblame/netblame/decode"
)

var orders = map[string]binary.ByteOrder{"le": binary.LittleEndian, "be": binary.BigEndian}

// TestPcapngTimestamps checks if_tsresol (powers of ten and of two) and
// if_tsoffset against hand-computed nanoseconds.
func TestPcapngTimestamps(t *testing.T) {
	for oname, order := range orders {
		for _, tc := range []struct {
			name   string
			resol  int // -1: option absent
			offset int64
			raw    uint64
			want   int64
		}{
			{"default usec", -1, 0, 1_600_000_000_123_456, 1_600_000_000_123_456_000},
			{"nsec", 9, 0, 1_600_000_000_123_456_789, 1_600_000_000_123_456_789},
			{"msec", 3, 0, 1_600_000_000_123, 1_600_000_000_123_000_000},
			{"seconds", 0, 0, 1_600_000_000, 1_600_000_000_000_000_000},
			{"psec", 12, 0, 1_600_000_000_123_456, 1_600_000_000_123}, // ps -> ns truncates
			{"2^-10", 0x80 | 10, 0, 1_600_000_000<<10 | 512, 1_600_000_000_500_000_000},
			{"2^-30", 0x80 | 30, 0, 5<<30 | 1<<28, 5_250_000_000},
			{"2^-40 wide fraction", 0x80 | 40, 0, 3<<40 | 1<<39, 3_500_000_000},
			{"2^0", 0x80, 0, 7, 7_000_000_000},
			{"usec with offset", 6, 1_000_000, 1_500_000, 1_000_001_500_000_000},
			{"nsec with negative offset", 9, -10, 20_000_000_001, 10_000_000_001},
		} {
			t.Run(oname+"/"+tc.name, func(t *testing.T) {
				f := newNg(order)
				var opts [][]byte
				if tc.resol >= 0 {
					opts = append(opts, f.tsresol(uint8(tc.resol)))
				}
				if tc.offset != 0 {
					opts = append(opts, f.tsoffset(tc.offset))
				}
				f.idb(1, 0, opts...).epb(0, tc.raw, []byte{1, 2, 3}, 3)
				r := mustReader(t, f.bytes())
				var p Packet
				if err := r.Next(&p); err != nil {
					t.Fatal(err)
				}
				if p.Timestamp != tc.want {
					t.Errorf("timestamp %d, want %d", p.Timestamp, tc.want)
				}
			})
		}
	}
}

// TestPcapngBlocks reads a file with three sections in alternating byte
// orders, several interfaces with their own link types and snaplens,
// every packet block kind with options, and blocks that must be skipped.
func TestPcapngBlocks(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	f := newNg(le)
	f.idb(1, 0, f.tsresol(9))   // if 0: Ethernet, ns
	f.idb(113, 96)              // if 1: SLL, usec, snaplen 96
	f.block(4, make([]byte, 8)) // name resolution
	comment := f.opt(1, []byte("a packet comment"))
	flags := f.opt(2, []byte{0, 0, 0, 1})
	f.epb(1, 42, []byte("sll packet"), 100, comment, flags)
	f.block(5, make([]byte, 12)) // interface statistics
	f.epb(0, 7, []byte("eth"), 3)
	f.block(0x0a, make([]byte, 16)) // decryption secrets
	f.block(blockCustom, []byte{0, 0, 0x7e, 0xd9, 'x'})
	f.block(0x12345, []byte("unknown block type"))
	f.pb(1, 1_000_000, []byte("old"), 3)
	// Section 2, big-endian: interfaces start over.
	f.shb(be, 1, 0)
	f.idb(101, 4) // raw IP, snaplen 4
	f.spb(10, []byte("0123456789"))
	f.epb(0, 3, []byte{9}, 1)
	// Section 3, little-endian again, version 1.2 (accepted).
	f.shb(le, 1, 2)
	f.idb(0, 0)
	f.block(blockCustomNoCopy, []byte{0, 0, 0, 1})
	f.spb(2, []byte{7, 7, 0, 0}) // block padding beyond orig len
	r := mustReader(t, f.bytes())
	// NewReader reads the interfaces that follow the first section header.
	if r.Format() != FormatPCAPNG || len(r.Interfaces()) != 2 || r.LinkType() != 1 || r.Snaplen() != 0 || r.Interfaces()[1].Snaplen != 96 {
		t.Fatalf("format %v, interfaces %+v before the first packet", r.Format(), r.Interfaces())
	}
	want := []struct {
		frame  uint64
		ts     int64
		data   string
		orig   int
		link   decode.LinkType
		iface  int
		nIface int
	}{
		{1, 42_000, "sll packet", 100, 113, 1, 2},
		{2, 7, "eth", 3, 1, 0, 2},
		// frame 3 is the custom block
		{4, 1_000_000_000, "old", 3, 113, 1, 2},
		{5, 0, "0123", 10, 101, 0, 1}, // SPB: cut to snaplen 4
		{6, 3_000, "\x09", 1, 101, 0, 1},
		// frame 7 is the second custom block
		{8, 0, "\x07\x07", 2, 0, 0, 1},
	}
	var p Packet
	for _, w := range want {
		if err := r.Next(&p); err != nil {
			t.Fatalf("frame %d: %v", w.frame, err)
		}
		if p.Frame != w.frame || p.Timestamp != w.ts || string(p.Data) != w.data || p.OrigLen != w.orig ||
			p.Link != w.link || p.Interface != w.iface || len(r.Interfaces()) != w.nIface {
			t.Errorf("got frame %d ts %d data %q orig %d link %d if %d (of %d); want %+v",
				p.Frame, p.Timestamp, p.Data, p.OrigLen, p.Link, p.Interface, len(r.Interfaces()), w)
		}
	}
	if err := r.Next(&p); err != io.EOF {
		t.Errorf("end: %v, want io.EOF", err)
	}
	if r.Frames() != 8 {
		t.Errorf("Frames() = %d, want 8", r.Frames())
	}
}

// TestPcapngLargeBlocks: an unknown block larger than the buffer is
// skipped as a stream, and a packet larger than the buffer is read whole.
func TestPcapngLargeBlocks(t *testing.T) {
	f := newNg(binary.LittleEndian).idb(1, 0)
	f.block(0x99, make([]byte, 3<<20))
	big := bytes.Repeat([]byte{0xab}, 700_000)
	f.epb(0, 1, big, uint32(len(big)))
	f.epb(0, 2, []byte{1}, 1)
	pkts, err := readAll(mustReader(t, f.bytes()))
	if err != io.EOF || len(pkts) != 2 || !bytes.Equal(pkts[0].Data, big) || pkts[1].Data[0] != 1 {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
}

func TestPcapngErrors(t *testing.T) {
	le := binary.LittleEndian
	base := func() *ngFile { return newNg(le).idb(1, 0) }
	pkt := []byte{1, 2, 3, 4}
	// Each case: a good packet, then the bad block at a known offset.
	// bad writes the bad block; blocks written before it call f.offset
	// through mark to move the expected offset past them.
	var cases []errCase
	var off int64
	mark := func(f *ngFile) { off = f.offset() }
	add := func(name, msg string, bad func(f *ngFile)) {
		f := base().epb(0, 1, pkt, 4)
		off = f.offset()
		bad(f)
		f.epb(0, 2, pkt, 4) // never reached
		cases = append(cases, errCase{name: name, file: f.bytes(), packets: 1, offset: off, msg: msg})
	}
	add("length not multiple of 4", "block length 30 is not a multiple of 4", func(f *ngFile) {
		f.raw(blockEPB, 30, make([]byte, 18), 30)
	})
	add("length below minimum", "block length 8 is less than the 12-byte minimum", func(f *ngFile) {
		f.raw(blockEPB, 8, nil, 8)
	})
	add("unknown block length below minimum", "less than the 12-byte minimum", func(f *ngFile) {
		f.raw(0x77, 4, nil, 4)
	})
	add("trailing length mismatch", "trailing block length 32 does not match 36", func(f *ngFile) {
		f.raw(blockEPB, 36, f.epbBody(0, 1, pkt, 4), 32)
	})
	add("trailing mismatch in skipped block", "trailing block length 16 does not match 20", func(f *ngFile) {
		f.raw(0x77, 20, make([]byte, 8), 16)
	})
	add("length beyond limit", "exceeds the 67108864-byte limit", func(f *ngFile) {
		f.raw(blockEPB, 1<<30, nil, 0)
	})
	add("unknown SHB version", "unsupported section header version 2.0", func(f *ngFile) {
		f.shb(le, 2, 0)
	})
	add("bad byte-order magic", "bad byte-order magic", func(f *ngFile) {
		f.raw(blockSHB, 28, make([]byte, 16), 28)
	})
	add("undefined interface", "enhanced packet block refers to interface 1, but the section defines 1", func(f *ngFile) {
		f.epb(1, 1, pkt, 4)
	})
	add("interface of an earlier section", "refers to interface 0, but the section defines 0", func(f *ngFile) {
		f.shb(le, 1, 0)
		mark(f)
		f.epb(0, 1, pkt, 4)
	})
	add("SPB without interface", "simple packet block refers to interface 0", func(f *ngFile) {
		f.shb(le, 1, 0)
		mark(f)
		f.spb(4, pkt)
	})
	add("obsolete PB undefined interface", "packet block refers to interface 3", func(f *ngFile) {
		f.pb(3, 1, pkt, 4)
	})
	add("caplen overruns block", "captured length 100 overruns", func(f *ngFile) {
		b := f.epbBody(0, 1, pkt, 4)
		le.PutUint32(b[12:], 100)
		f.block(blockEPB, b)
	})
	add("EPB body too short", "enhanced packet block body is 8 bytes", func(f *ngFile) {
		f.block(blockEPB, make([]byte, 8))
	})
	add("IDB option overrun", "interface option 9 of length 200 overruns", func(f *ngFile) {
		body := make([]byte, 8)
		body = append(body, 9, 0, 200, 0, 6, 0, 0, 0)
		f.block(blockIDB, body)
	})
	add("IDB bad tsresol", "unsupported if_tsresol 0xc0", func(f *ngFile) {
		f.idb(1, 0, f.tsresol(0x80|64))
	})
	add("IDB tsresol wrong length", "if_tsresol option has length 2", func(f *ngFile) {
		f.idb(1, 0, f.opt(optTSResol, []byte{9, 9}))
	})
	// Truncations at the end of the file.
	{
		f := base().epb(0, 1, pkt, 4)
		off := f.offset()
		f.epb(0, 2, pkt, 4)
		full := f.bytes()
		cases = append(cases,
			errCase{name: "truncated block", file: full[:len(full)-6], packets: 1, offset: off, msg: "truncated block: 30 of 36 bytes"},
			errCase{name: "truncated block header", file: full[:off+5], packets: 1, offset: off, msg: "truncated block header: 5 of 8"},
		)
		g := base().epb(0, 1, pkt, 4)
		off = g.offset()
		g.block(0x77, make([]byte, 100))
		gb := g.bytes()
		cases = append(cases, errCase{name: "truncated skipped block", file: gb[:len(gb)-50], packets: 1, offset: off, msg: "truncated block"})
	}
	// Problems in the first section header surface from NewReader.
	first := newNg(le).bytes()
	cases = append(cases,
		errCase{name: "file shorter than SHB", file: first[:20], atOpen: true, msg: "shorter than a pcapng section header"},
		errCase{name: "first SHB bad version", file: (&ngFile{}).shb(le, 3, 0).bytes(), atOpen: true, msg: "version 3.0"},
		errCase{name: "first SHB length not multiple of 4", file: func() []byte {
			b := bytes.Clone(first)
			le.PutUint32(b[4:], uint32(len(b)-2))
			return b
		}(), atOpen: true, msg: "not a multiple of 4"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkErrCase(t, tc) })
	}
}

// TestCorruptLengthSmallMemory: a block claiming many megabytes in a tiny
// file is reported without allocating a buffer of the claimed size.
func TestCorruptLengthSmallMemory(t *testing.T) {
	f := newNg(binary.LittleEndian).idb(1, 0)
	f.raw(blockEPB, 60<<20, make([]byte, 100), 0)
	r := mustReader(t, f.bytes())
	_, err := readAll(r)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("truncated block")) {
		t.Fatalf("got %v, want a truncated-block error", err)
	}
	if c := cap(r.in.buf); c > defaultBufSize {
		t.Errorf("buffer grew to %d bytes for a %d-byte file", c, len(f.bytes()))
	}
}
