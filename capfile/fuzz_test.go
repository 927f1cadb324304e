package capfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// addSharedSeeds adds every shared capture whose name ends in ext.
func addSharedSeeds(f *testing.F, ext string) {
	dir := sharedtest.Pcaps(f)
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ext) {
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
}

// fuzzRead reads data to the end and checks the reader's promises: no
// panic, increasing frame numbers, views no larger than the input, and
// an ending that is io.EOF or a *FormatError pointing inside the input,
// followed by io.EOF, with the error kept by Err.
func fuzzRead(t *testing.T, data []byte) {
	checkBatches(t, data)
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("NewReader: %v (%T), want *FormatError", err, err)
		}
		return
	}
	defer r.Close()
	var p Packet
	var last uint64
	for i := 0; ; i++ {
		err := r.Next(&p)
		if err != nil {
			if err != io.EOF {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("Next: %v (%T), want io.EOF or *FormatError", err, err)
				}
				if fe.Offset < 0 || fe.Offset > int64(len(data)) || fe.Frame != r.Frames() {
					t.Fatalf("error %v: offset outside %d input bytes or frame %d != %d", fe, len(data), fe.Frame, r.Frames())
				}
			}
			if again := r.Next(&p); again != io.EOF {
				t.Fatalf("Next after %v returned %v, want io.EOF", err, again)
			}
			if keep := r.Err(); err == io.EOF && keep != nil || err != io.EOF && keep != err {
				t.Fatalf("Err() = %v after Next returned %v", keep, err)
			}
			return
		}
		if p.Frame <= last || p.Frame > r.Frames() {
			t.Fatalf("frame %d after %d", p.Frame, last)
		}
		last = p.Frame
		if len(p.Data) > len(data) || r.Offset() >= int64(len(data)) {
			t.Fatalf("frame %d: %d bytes at offset %d from a %d-byte input", p.Frame, len(p.Data), r.Offset(), len(data))
		}
		if p.Interface >= len(r.Interfaces()) {
			t.Fatalf("frame %d: interface %d of %d", p.Frame, p.Interface, len(r.Interfaces()))
		}
	}
}

func FuzzPcapReader(f *testing.F) {
	addSharedSeeds(f, ".pcap")
	le, be := binary.LittleEndian, binary.BigEndian
	rec := pcapRec{sec: 1, frac: 2, origlen: 10, data: []byte("0123456789")}
	for _, order := range []binary.ByteOrder{le, be} {
		for _, magic := range []uint32{pcapMagicMicro, pcapMagicNano} {
			f.Add(buildPcap(order, magic, 65535, 1, 16, rec, rec))
		}
		f.Add(buildPcap(order, pcapMagicModified, 65535, 113, 24, rec, rec))
	}
	f.Add(buildPcap(le, pcapMagicMicro, 68, 1|1<<26|2<<28, 16, rec, pcapRec{caplen: 300000, origlen: 5}))
	f.Add(buildPcap(le, pcapMagicMicro, 0, 1, 16, rec)[:40])
	f.Fuzz(fuzzRead)
}

func FuzzPcapngReader(f *testing.F) {
	addSharedSeeds(f, ".pcapng")
	le, be := binary.LittleEndian, binary.BigEndian
	for _, order := range []binary.ByteOrder{le, be} {
		g := newNg(order)
		g.idb(1, 0, g.tsresol(9), g.tsoffset(5)).idb(113, 64, g.tsresol(0x80|20))
		g.epb(1, 1<<40, []byte("hello"), 5, g.opt(1, []byte("comment")))
		g.block(4, make([]byte, 8)).block(5, make([]byte, 12)).block(blockCustom, []byte{1, 2, 3, 4})
		g.spb(100, bytes.Repeat([]byte{1}, 100)).pb(0, 7, []byte{1, 2}, 2)
		g.shb(order, 1, 0).idb(101, 0).epb(0, 1, []byte{0x45}, 1)
		f.Add(g.bytes())
	}
	bad := newNg(le).idb(1, 0)
	bad.raw(blockEPB, 1<<20, make([]byte, 20), 0)
	f.Add(bad.bytes())
	f.Add(newNg(le).idb(1, 0).shb(le, 2, 0).bytes())
	f.Fuzz(fuzzRead)
}
