package capfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/netblame/netblame/decode"
)

func TestRotatedName(t *testing.T) {
	for base, want := range map[string]string{
		"out.pcap":          "out-0003.pcap",
		"/d/cap.pcapng.zst": "/d/cap-0003.pcapng.zst",
		"x.PCAP.gz":         "x-0003.PCAP.gz",
		"noext":             "noext-0003",
		"d.pcap/f":          "d.pcap/f-0003",
	} {
		if got := RotatedName(base, 3); got != want {
			t.Errorf("RotatedName(%q, 3) = %q, want %q", base, got, want)
		}
	}
}

// rotTS is the first packet's time in the rotation tests.
const rotTS = int64(1_700_000_000_000_000_000)

// writeRotating writes n synthetic packets, step apart, and closes the
// writer; it checks the frame numbers WritePacket returns.
func writeRotating(t *testing.T, base string, snaplen, n int, step time.Duration, r Rotation) []string {
	t.Helper()
	rw, err := NewRotatingWriter(base, decode.LinkEthernet, snaplen, r)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for i := range n {
		data, orig := synthFrame(buf, i)
		frame, err := rw.WritePacket(rotTS+int64(i)*int64(step), data, orig)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if frame != uint64(i+1) {
			t.Fatalf("packet %d got frame %d", i, frame)
		}
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := rw.Packets(); got != uint64(n) {
		t.Errorf("Packets() = %d, want %d", got, n)
	}
	files := rw.Files()
	if got := rw.Current(); got != files[len(files)-1] {
		t.Errorf("Current() = %q, last file %q", got, files[len(files)-1])
	}
	return files
}

// readFiles reads every file whole (a read error fails the test) and
// checks that together they hold packets 0..n-1 of synthFrame in order,
// cut at snaplen. It returns each file's packets.
func readFiles(t *testing.T, files []string, snaplen, n int, step time.Duration) [][]Packet {
	t.Helper()
	var out [][]Packet
	buf := make([]byte, 2048)
	i := 0
	for _, name := range files {
		r, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := readAll(r)
		r.Close()
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: after %d packets: %v", name, len(pkts), err)
		}
		for _, p := range pkts {
			data, orig := synthFrame(buf, i)
			if len(data) > snaplen {
				data = data[:snaplen]
			}
			if !bytes.Equal(p.Data, data) || p.OrigLen != orig || p.Timestamp != rotTS+int64(i)*int64(step) {
				t.Fatalf("%s frame %d: not packet %d as written", name, p.Frame, i)
			}
			i++
		}
		out = append(out, pkts)
	}
	if i != n {
		t.Fatalf("%d files hold %d packets, %d written", len(files), i, n)
	}
	return out
}

// TestRotatingBySize: no file grows past MaxBytes (counted before
// compression), each file ends only because its next packet would have,
// every file is complete, and together they hold every packet in order.
func TestRotatingBySize(t *testing.T) {
	const n, snaplen, limit = 3000, 1000, 100_000
	for _, name := range []string{"s.pcap", "s.pcapng", "s.pcap.gz", "s.pcapng.zst"} {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(t.TempDir(), name)
			files := writeRotating(t, base, snaplen, n, time.Microsecond, Rotation{MaxBytes: limit})
			if len(files) < 5 {
				t.Fatalf("%d files for ~1.5 MB with a %d-byte limit", len(files), limit)
			}
			for i, f := range files {
				if want := RotatedName(base, i+1); f != want {
					t.Errorf("file %d is %q, want %q", i+1, f, want)
				}
			}
			format, comp := FormatFromName(base)
			w := &Writer{format: format, snaplen: snaplen} // for recordLen
			header := int64(pcapFileHeaderLen)
			if format == FormatPCAPNG {
				header = shbMinLen + 32
			}
			perFile := readFiles(t, files, snaplen, n, time.Microsecond)
			for i, pkts := range perFile {
				size := header
				for _, p := range pkts {
					size += w.recordLen(len(p.Data))
				}
				if size > limit {
					t.Errorf("%s: %d bytes, over the limit", files[i], size)
				}
				if i+1 < len(perFile) && size+w.recordLen(len(perFile[i+1][0].Data)) <= limit {
					t.Errorf("%s: %d bytes, ended although the next packet fit", files[i], size)
				}
				if comp == CompressNone {
					if st, err := os.Stat(files[i]); err != nil || st.Size() != size {
						t.Errorf("%s: %v bytes on disk, %d counted (%v)", files[i], st.Size(), size, err)
					}
				}
			}
			// Merged reads the series back as one capture, frames 1..n.
			m, err := OpenMerged(files...)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var p Packet
			k := uint64(0)
			for err = m.Next(&p); err == nil; err = m.Next(&p) {
				if k++; p.Frame != k {
					t.Fatalf("merged frame %d at position %d", p.Frame, k)
				}
			}
			if !errors.Is(err, io.EOF) || k != n {
				t.Fatalf("merged: %d packets, then %v", k, err)
			}
		})
	}
}

// TestRotatingByTime: a file holds the packets less than Every after its
// first one, in packet time.
func TestRotatingByTime(t *testing.T) {
	const n, step, every = 95, 10 * time.Millisecond, 100 * time.Millisecond
	files := writeRotating(t, filepath.Join(t.TempDir(), "t.pcapng"), 2048, n, step, Rotation{Every: every})
	perFile := readFiles(t, files, 2048, n, step)
	if len(perFile) != 10 {
		t.Fatalf("%d files for %d packets %v apart, rotating every %v", len(perFile), n, step, every)
	}
	for i, pkts := range perFile {
		want := 10
		if i == 9 {
			want = 5
		}
		if len(pkts) != want {
			t.Errorf("file %d holds %d packets, want %d", i+1, len(pkts), want)
		}
		if d := pkts[len(pkts)-1].Timestamp - pkts[0].Timestamp; d >= int64(every) {
			t.Errorf("file %d spans %v", i+1, time.Duration(d))
		}
	}
}

// TestRotatingLimits: a packet larger than MaxBytes still goes out, one a
// file; both limits together rotate on whichever comes first; without a
// rotation the base name is the one file.
func TestRotatingLimits(t *testing.T) {
	dir := t.TempDir()
	files := writeRotating(t, filepath.Join(dir, "big.pcap"), 2048, 20, time.Millisecond, Rotation{MaxBytes: 10})
	for i, pkts := range readFiles(t, files, 2048, 20, time.Millisecond) {
		if len(pkts) != 1 {
			t.Errorf("file %d holds %d packets, want 1", i+1, len(pkts))
		}
	}

	// 1 ms apart: time rotates every 5 packets before 1 MB fills.
	files = writeRotating(t, filepath.Join(dir, "both.pcap"), 2048, 20, time.Millisecond, Rotation{MaxBytes: 1 << 20, Every: 5 * time.Millisecond})
	if len(files) != 4 {
		t.Errorf("%d files, want 4: %v", len(files), files)
	}
	readFiles(t, files, 2048, 20, time.Millisecond)

	base := filepath.Join(dir, "one.pcapng")
	files = writeRotating(t, base, 2048, 50, time.Second, Rotation{})
	if len(files) != 1 || files[0] != base {
		t.Errorf("without rotation: files %v", files)
	}
	readFiles(t, files, 2048, 50, time.Second)
}

// TestRotatingErrors: a file that cannot be created or written is an
// error that sticks, the files before it stay complete, and writing after
// Close fails.
func TestRotatingErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewRotatingWriter(filepath.Join(dir, "missing", "a.pcap"), decode.LinkEthernet, 0, Rotation{}); err == nil {
		t.Error("a file in a missing directory was created")
	}
	if _, err := NewRotatingWriter(filepath.Join(dir, "neg.pcap"), decode.LinkEthernet, 0, Rotation{MaxBytes: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}

	// The second file's name is taken by a directory.
	base := filepath.Join(dir, "e.pcap")
	if err := os.Mkdir(RotatedName(base, 2), 0o755); err != nil {
		t.Fatal(err)
	}
	rw, err := NewRotatingWriter(base, decode.LinkEthernet, 0, Rotation{Every: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for i := range 3 {
		data, orig := synthFrame(buf, i)
		if _, err := rw.WritePacket(rotTS+int64(i), data, orig); err != nil {
			t.Fatal(err)
		}
	}
	data, orig := synthFrame(buf, 3)
	if _, err := rw.WritePacket(rotTS+int64(time.Second), data, orig); err == nil {
		t.Fatal("rotating into a directory succeeded")
	}
	if _, err := rw.WritePacket(rotTS+int64(time.Second)+1, data, orig); err == nil {
		t.Error("a write after a failed rotation succeeded")
	}
	if err := rw.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if files := rw.Files(); len(files) != 1 || rw.Packets() != 3 {
		t.Errorf("files %v, %d packets; want the first file with 3", files, rw.Packets())
	}
	readFiles(t, rw.Files(), 2048, 3, 1)

	// Written after Close, and closed twice.
	if _, err := rw.WritePacket(rotTS, data, orig); err == nil {
		t.Error("a write after Close succeeded")
	}
	if err := rw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// A device that fails every write: the error comes out of
	// WritePacket once the buffer is flushed, or out of Close.
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	rw, err = NewRotatingWriter("/dev/full", decode.LinkEthernet, 0, Rotation{})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		data, orig := synthFrame(buf, i)
		_, werr = rw.WritePacket(rotTS+int64(i), data, orig)
	}
	if cerr := rw.Close(); werr == nil && cerr == nil {
		t.Error("writing to /dev/full reported no error")
	}
}

// TestRotatingConcurrent: workers sharing one writer get distinct frame
// numbers and every packet lands in a file (run with -race).
func TestRotatingConcurrent(t *testing.T) {
	const workers, per = 4, 500
	base := filepath.Join(t.TempDir(), "c.pcap")
	rw, err := NewRotatingWriter(base, decode.LinkEthernet, 0, Rotation{MaxBytes: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, workers*per+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, 2048)
			for i := range per {
				data, orig := synthFrame(buf, w*per+i)
				frame, err := rw.WritePacket(rotTS+int64(i), data, orig)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if frame == 0 || frame > workers*per || seen[frame] {
					t.Errorf("frame %d twice or out of range", frame)
				} else {
					seen[frame] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range rw.Files() {
		r, err := Open(f)
		if err != nil {
			t.Fatal(err)
		}
		pkts, err := readAll(r)
		r.Close()
		if !errors.Is(err, io.EOF) {
			t.Fatalf("%s: %v", f, err)
		}
		total += len(pkts)
	}
	if total != workers*per {
		t.Errorf("files hold %d packets, %d written", total, workers*per)
	}
}

// TestRotatingAllocs: writing a packet allocates nothing (only a new file
// does).
func TestRotatingAllocs(t *testing.T) {
	rw, err := NewRotatingWriter(filepath.Join(t.TempDir(), "a.pcapng"), decode.LinkEthernet, 0, Rotation{MaxBytes: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	data, orig := synthFrame(make([]byte, 2048), 1)
	ts := rotTS
	if n := testing.AllocsPerRun(1000, func() {
		ts++
		if _, err := rw.WritePacket(ts, data, orig); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePacket allocates %v times a packet", n)
	}
}
