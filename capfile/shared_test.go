package capfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/netblame/netblame/internal/sharedtest"
)

// readAll reads every packet of r, copying them, until the first error.
func readAll(r *Reader) ([]Packet, error) {
	var out []Packet
	var p Packet
	for {
		err := r.Next(&p)
		if err != nil {
			return out, err
		}
		c := p
		c.Data = append([]byte(nil), p.Data...)
		out = append(out, c)
	}
}

func TestSharedCaptures(t *testing.T) {
	dir, files := sharedtest.Pcaps(t), sharedtest.Manifest(t)
	for _, e := range files {
		t.Run(e.File, func(t *testing.T) {
			r, err := Open(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			pkts, err := readAll(r)
			// MANIFEST counts frames as tshark does, custom blocks included.
			if r.Frames() != uint64(e.Packets) {
				t.Errorf("read %d frames (%d packets), MANIFEST says %d (err %v)", r.Frames(), len(pkts), e.Packets, err)
			}
			var last uint64
			for _, p := range pkts {
				if p.Frame <= last || p.Frame > r.Frames() {
					t.Fatalf("frame number %d after %d (of %d frames)", p.Frame, last, r.Frames())
				}
				last = p.Frame
				if p.OrigLen < len(p.Data) && !e.ReadError {
					t.Errorf("frame %d: orig len %d < captured %d", p.Frame, p.OrigLen, len(p.Data))
				}
			}
			if !e.ReadError {
				if err != io.EOF {
					t.Fatalf("ended with %v, want io.EOF", err)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ended with %v (%T), want *FormatError", err, err)
			}
			st, _ := os.Stat(filepath.Join(dir, e.File))
			if fe.Offset <= 0 || fe.Offset >= st.Size() {
				t.Errorf("error offset %d outside the file (size %d): %v", fe.Offset, st.Size(), fe)
			}
			if fe.Frame != uint64(e.Packets) {
				t.Errorf("error says after frame %d, read %d: %v", fe.Frame, e.Packets, fe)
			}
			// Once, then the end: a loop that reads on after logging
			// the error still stops.
			if again := r.Next(new(Packet)); again != io.EOF || r.Err() != err {
				t.Errorf("Next after the error returned %v (Err %v), want io.EOF (Err the error)", again, r.Err())
			}
			t.Logf("%v", fe)
		})
	}
}
