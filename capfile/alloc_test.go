package capfile

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"
)

// TestNextAllocs asserts that reading a packet allocates nothing, for each
// format and compression: both the per-call average and the total over
// the rest of the file, so that an allocation every few packets, which the
// integer average hides, is caught too. The total allows a few: the zstd
// decoder's sync.Pool and the runtime may allocate at frame boundaries.
// gzip is held to a looser bound: klauspost's inflater rebuilds Huffman
// link tables with make() at some dynamic blocks (about one allocation
// per 7 KB of output in this capture), which this package cannot avoid.
func TestNextAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -cover or -race")
	}
	dir := t.TempDir()
	const n = 20000
	for _, name := range []string{"a.pcap", "a.pcapng", "a.pcap.zst", "a.pcapng.zst", "a.pcap.gz"} {
		t.Run(name, func(t *testing.T) {
			maxTotal := uint64(8)
			if filepath.Ext(name) == ".gz" {
				maxTotal = n / 20
			}
			path := filepath.Join(dir, name)
			writeSynth(t, path, n, 128)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var p Packet
			// Warm up: the decompressor sets up its buffers lazily.
			for range 100 {
				if err := r.Next(&p); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(1000, func() {
				if err := r.Next(&p); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("Next allocates %v times per packet", a)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			count := 0
			for r.Next(&p) == nil {
				count++
			}
			runtime.ReadMemStats(&after)
			if count < n/2 {
				t.Fatalf("read only %d packets", count)
			}
			if m := after.Mallocs - before.Mallocs; m > maxTotal {
				t.Errorf("%d allocations reading %d packets", m, count)
			}
		})
	}
}

// TestWritePacketAllocs asserts that writing a packet allocates nothing.
func TestWritePacketAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -cover or -race")
	}
	buf := make([]byte, 2048)
	for _, name := range []string{"w.pcap", "w.pcapng", "w.pcap.zst", "w.pcapng.gz"} {
		t.Run(name, func(t *testing.T) {
			format, comp := FormatFromName(name)
			w, err := NewWriter(io.Discard, format, 1, 128, WithCompression(comp))
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			write := func() {
				data, orig := synthFrame(buf, i)
				i++
				if err := w.WritePacket(int64(i)*1000, data, orig); err != nil {
					t.Fatal(err)
				}
			}
			for range 1000 {
				write() // let the compressor set up its buffers
			}
			if a := testing.AllocsPerRun(5000, write); a != 0 {
				t.Errorf("WritePacket allocates %v times per packet", a)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 20000 {
				write()
			}
			runtime.ReadMemStats(&after)
			if m := after.Mallocs - before.Mallocs; m > 8 {
				t.Errorf("%d allocations writing 20000 packets", m)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
