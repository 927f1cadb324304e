package capfile_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// Write a zstd-compressed pcapng file, then read it back: the reader
// finds the format and the compression by itself.
func Example() {
	dir, err := os.MkdirTemp("", "capfile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "trace.pcapng.zst")

	w, err := capfile.Create(path, decode.LinkRaw, 96)
	if err != nil {
		log.Fatal(err)
	}
	w.WritePacket(1_700_000_000_000_000_001, []byte{0x45, 0, 0, 20}, 20)
	w.WritePacket(1_700_000_000_250_000_000, make([]byte, 200), 1500) // cut to 96
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := capfile.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Format(), r.Compression(), r.LinkType(), r.Snaplen())
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		var fe *capfile.FormatError
		if errors.As(err, &fe) {
			log.Fatalf("corrupt at byte %d: %v", fe.Offset, err)
		}
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(p.Frame, p.Timestamp, len(p.Data), p.OrigLen)
	}
	// Output:
	// pcapng zstd RAW 96
	// 1 1700000000000000001 4 20
	// 2 1700000000250000000 96 1500
}
