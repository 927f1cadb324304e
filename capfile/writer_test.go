package capfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/sharedtest"
	"github.com/netblame/netblame/internal/tsharktest"
)

// TestCompressedShared: gzip and zstd copies of shared captures (made
// here, in memory) read back packet for packet like the plain file, and
// the reader reports the compression it detected.
func TestCompressedShared(t *testing.T) {
	dir, files := sharedtest.Pcaps(t), sharedtest.Manifest(t)
	for _, e := range files {
		plain, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := readAll(mustReader(t, plain))
		var gz, zs bytes.Buffer
		gw := gzip.NewWriter(&gz)
		gw.Write(plain)
		gw.Close()
		zw, _ := zstd.NewWriter(&zs)
		zw.Write(plain)
		zw.Close()
		for comp, file := range map[Compression][]byte{CompressGzip: gz.Bytes(), CompressZstd: zs.Bytes()} {
			r := mustReader(t, file)
			if r.Compression() != comp {
				t.Errorf("%s: detected %v, want %v", e.File, r.Compression(), comp)
			}
			got, gotErr := readAll(r)
			r.Close()
			if len(got) != len(want) || (gotErr == io.EOF) != (wantErr == io.EOF) {
				t.Errorf("%s %v: %d packets then %v; plain %d then %v", e.File, comp, len(got), gotErr, len(want), wantErr)
				continue
			}
			var fe, pfe *FormatError
			if errors.As(gotErr, &fe) && errors.As(wantErr, &pfe) && *fe != *pfe {
				t.Errorf("%s %v: error %v, plain %v", e.File, comp, fe, pfe)
			}
			for i := range got {
				if got[i].Timestamp != want[i].Timestamp || got[i].Frame != want[i].Frame || !bytes.Equal(got[i].Data, want[i].Data) {
					t.Errorf("%s %v: frame %d differs", e.File, comp, want[i].Frame)
					break
				}
			}
		}
	}
}

func TestFormatFromName(t *testing.T) {
	for name, want := range map[string]struct {
		f Format
		c Compression
	}{
		"a.pcap":             {FormatPCAP, CompressNone},
		"a.pcapng":           {FormatPCAPNG, CompressNone},
		"dir.x/A.PCAPNG.ZST": {FormatPCAPNG, CompressZstd},
		"a.pcap.zstd":        {FormatPCAP, CompressZstd},
		"a.pcapng.gz":        {FormatPCAPNG, CompressGzip},
		"a.cap":              {FormatPCAP, CompressNone},
	} {
		f, c := FormatFromName(name)
		if f != want.f || c != want.c {
			t.Errorf("%s: %v %v, want %v %v", name, f, c, want.f, want.c)
		}
	}
}

// TestWriterRoundTrip writes synthetic packets in every format and
// compression, reads them back with this reader (identical packets, cut
// to the snaplen) and, where tshark is installed (and not -short), checks
// that tshark reads the same number of frames with the same times and
// lengths.
func TestWriterRoundTrip(t *testing.T) {
	_, hasTshark := exec.LookPath("tshark")
	dir := t.TempDir()
	const n, snaplen = 300, 200
	for _, tc := range []struct {
		name  string
		opts  []Option
		micro bool
	}{
		{"a.pcap", nil, false},
		{"u.pcap", []Option{WithMicroseconds()}, true},
		{"a.pcapng", nil, false},
		{"a.pcap.zst", nil, false},
		{"a.pcapng.zst", nil, false},
		{"a.pcap.gz", nil, false},
		{"a.pcapng.gz", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			writeSynth(t, path, n, snaplen, tc.opts...)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			wantFormat, wantComp := FormatFromName(tc.name)
			if r.Format() != wantFormat || r.Compression() != wantComp || r.LinkType() != decode.LinkEthernet || r.Snaplen() != snaplen {
				t.Errorf("read back as %v %v link %d snaplen %d", r.Format(), r.Compression(), r.LinkType(), r.Snaplen())
			}
			got, err := readAll(r)
			if err != io.EOF || len(got) != n {
				t.Fatalf("read %d of %d packets, then %v", len(got), n, err)
			}
			buf := make([]byte, 2048)
			for i, p := range got {
				data, orig := synthFrame(buf, i)
				ts := int64(1_700_000_000_123_456_789) + int64(i)*10_000
				if tc.micro {
					ts -= ts % 1000
				}
				if p.Timestamp != ts || p.OrigLen != orig || !bytes.Equal(p.Data, data[:min(len(data), snaplen)]) || p.Frame != uint64(i+1) {
					t.Fatalf("packet %d: ts %d orig %d caplen %d; want ts %d orig %d caplen %d",
						i, p.Timestamp, p.OrigLen, len(p.Data), ts, orig, min(len(data), snaplen))
				}
			}
			if hasTshark != nil || testing.Short() || wantComp == CompressZstd && !tsharkReadsZstd(t) {
				return
			}
			frames := runTshark(t, path)
			if len(frames) != n {
				t.Fatalf("tshark read %d frames, want %d", len(frames), n)
			}
			for i, f := range frames {
				if f.epochNs != got[i].Timestamp || f.len != got[i].OrigLen || f.capLen != len(got[i].Data) {
					t.Fatalf("tshark frame %d: ts %d len %d caplen %d; we wrote %d %d %d", f.number,
						f.epochNs, f.len, f.capLen, got[i].Timestamp, got[i].OrigLen, len(got[i].Data))
				}
			}
		})
	}
}

// tsharkReadsZstd reports whether the installed Wireshark was built with
// zstd support (4.2 and later); older versions cannot read .zst files.
func tsharkReadsZstd(t *testing.T) bool {
	out, _ := exec.Command(tsharktest.Path(t), "--version").Output()
	if !bytes.Contains(out, []byte("Zstandard")) && !bytes.Contains(out, []byte("zstd")) {
		t.Logf("tshark lacks zstd support; checked only with this reader")
		return false
	}
	return true
}

// TestWriterSnaplenAndErrors: data beyond the snaplen is cut, origLen is
// kept, and the writer reports write errors and refuses bad arguments.
func TestWriterSnaplenAndErrors(t *testing.T) {
	var b bytes.Buffer
	w, err := NewWriter(&b, FormatPCAPNG, decode.LinkRaw, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(-1_500_000_000, []byte("0123456789abcdef"), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pkts, err := readAll(mustReader(t, b.Bytes()))
	if err != io.EOF || len(pkts) != 1 || string(pkts[0].Data) != "0123456789" || pkts[0].OrigLen != 16 || pkts[0].Link != decode.LinkRaw {
		t.Fatalf("%+v %v", pkts, err)
	}
	if _, err := NewWriter(&b, Format(9), 1, 0); err == nil {
		t.Error("NewWriter accepted an unknown format")
	}
	w, _ = NewWriter(failWriter{}, FormatPCAP, 1, 0)
	var werr error
	for i := 0; i < 100000 && werr == nil; i++ {
		werr = w.WritePacket(0, make([]byte, 100), 100)
	}
	if werr == nil || w.Flush() == nil || w.Close() == nil {
		t.Errorf("write errors were not reported: %v", werr)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriterPcapMicroNegative: pre-1970 times round down to the previous
// whole second in the microsecond format (floor, not truncation).
func TestWriterPcapMicroNegative(t *testing.T) {
	var b bytes.Buffer
	w, _ := NewWriter(&b, FormatPCAP, 1, 0, WithMicroseconds())
	w.WritePacket(-1_500_000_000, []byte{1}, 1)
	w.Close()
	pkts, _ := readAll(mustReader(t, b.Bytes()))
	// -1.5 s is second -2 plus 500000 µs; pcap seconds are unsigned 32-bit,
	// so it reads back as 2^32-2 seconds.
	if len(pkts) != 1 || pkts[0].Timestamp != (1<<32-2)*1e9+500_000_000 {
		t.Fatalf("%+v", pkts)
	}
}

// TestCorruptCompressed: damage inside a gzip or zstd stream ends reading
// with a *FormatError that wraps the decompressor's error, after the
// packets decoded before the damage.
func TestCorruptCompressed(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"c.pcap.zst", "c.pcap.gz"} {
		path := filepath.Join(dir, name)
		writeSynth(t, path, 20000, 128)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 2; i < len(b)/2+64; i++ {
			b[i] ^= 0x5a
		}
		r := mustReader(t, b)
		pkts, err := readAll(r)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: ended with %v (%T), want *FormatError", name, err, err)
		}
		if len(pkts) == 0 || len(pkts) >= 20000 {
			t.Errorf("%s: %d packets before the error", name, len(pkts))
		}
		t.Logf("%s: %d packets, then %v", name, len(pkts), err)
	}
}

// TestWriterFlush: after Flush, everything written so far can be read
// from the file, compressed or not, while the writer stays open; Close
// then completes the file.
func TestWriterFlush(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"f.pcap", "f.pcapng", "f.pcap.zst", "f.pcapng.gz"} {
		path := filepath.Join(dir, name)
		w, err := Create(path, decode.LinkEthernet, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			w.WritePacket(int64(i), []byte{byte(i), 1, 2, 3}, 4)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path)
		if err != nil {
			t.Fatalf("%s after Flush: %v", name, err)
		}
		got, _ := readAll(r) // an unfinished compressed stream ends in an error
		r.Close()
		if len(got) != 10 {
			t.Errorf("%s: %d packets readable after Flush, want 10", name, len(got))
		}
		w.WritePacket(10, []byte{10}, 1)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err = Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err = readAll(r)
		r.Close()
		if err != io.EOF || len(got) != 11 {
			t.Errorf("%s: %d packets then %v after Close, want 11 then EOF", name, len(got), err)
		}
	}
}
