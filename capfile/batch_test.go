package capfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// checkBatches reads data with Next and again with NextBatch (batch sizes
// cycling from 1 to 17) and requires the same packets, in the same
// batches' views still intact when each batch is complete, and the same
// end.
func checkBatches(t *testing.T, data []byte) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return // NewReader is not NextBatch's business
	}
	want, wantErr := readAll(r)
	r.Close()

	r, err = NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("second NewReader: %v", err)
	}
	defer r.Close()
	batch := make([]Packet, 17)
	got, size, full := 0, 1, 0
	var gotErr error
	for gotErr == nil {
		var n int
		n, gotErr = r.NextBatch(batch[:size])
		if n == 0 && gotErr == nil {
			t.Fatalf("NextBatch(%d) returned no packet and no error", size)
		}
		if n == size {
			full++
		}
		// Every view of the batch is checked after the whole batch was
		// read: they must all still hold their packet.
		for i, p := range batch[:n] {
			if got+i >= len(want) {
				t.Fatalf("NextBatch returned more than the %d packets Next did", len(want))
			}
			w := want[got+i]
			if p.Frame != w.Frame || p.Timestamp != w.Timestamp || p.OrigLen != w.OrigLen || p.Link != w.Link ||
				p.Interface != w.Interface || !bytes.Equal(p.Data, w.Data) {
				t.Fatalf("packet %d (batch of %d, index %d): frame %d %d bytes, Next gave frame %d %d bytes",
					got+i, size, i, p.Frame, len(p.Data), w.Frame, len(w.Data))
			}
		}
		got += n
		size = size%len(batch) + 1
	}
	if got != len(want) {
		t.Fatalf("NextBatch read %d packets, Next %d", got, len(want))
	}
	if gotErr.Error() != wantErr.Error() {
		t.Fatalf("NextBatch ended with %v, Next with %v", gotErr, wantErr)
	}
	if len(want) > 100 && full == 0 {
		t.Fatalf("no batch of %d packets was full", len(want))
	}
}

func TestNextBatchSharedCaptures(t *testing.T) {
	dir, files := sharedtest.Pcaps(t), sharedtest.Manifest(t)
	for _, e := range files {
		t.Run(e.File, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatal(err)
			}
			checkBatches(t, data)
			// Cut short inside a record: the batch before the damage is
			// whole, and the error is Next's.
			checkBatches(t, data[:len(data)*2/3])
		})
	}
}

func TestNextBatchSynthetic(t *testing.T) {
	dir := t.TempDir()
	// Records larger than the buffer make batches end early; snaplen
	// 128 fills batches.
	for _, snap := range []int{128, 70000} {
		for _, name := range []string{"a.pcap", "a.pcapng", "a.pcap.zst", "a.pcapng.gz"} {
			path := filepath.Join(dir, name)
			writeSynth(t, path, 3000, snap)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			// Compare through the decompressed bytes.
			var buf bytes.Buffer
			w, err := NewWriter(&buf, r.Format(), r.LinkType(), r.Snaplen())
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			for r.Next(&p) == nil {
				if err := w.WritePacket(p.Timestamp, p.Data, p.OrigLen); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			r.Close()
			checkBatches(t, buf.Bytes())
		}
	}
}

func TestNextBatchAllocs(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts are not meaningful under -cover or -race")
	}
	path := filepath.Join(t.TempDir(), "a.pcapng.zst")
	writeSynth(t, path, 40000, 128)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	batch := make([]Packet, 16)
	for range 10 {
		if _, err := r.NextBatch(batch); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := r.NextBatch(batch); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("NextBatch allocates %v times per batch", a)
	}
}
