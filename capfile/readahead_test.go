package capfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/netblame/netblame/internal/sharedtest"
)

// readAllBytes reads every packet of a file and the error that ended it.
func readAllBytes(t *testing.T, data []byte) (string, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	defer r.Close()
	var b bytes.Buffer
	var p Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		fmt.Fprintf(&b, "%d %d %d %d %x\n", p.Frame, p.Timestamp, p.OrigLen, p.Link, p.Data)
	}
}

// Reading ahead changes nothing: the same packets, and for a compressed
// file cut short or corrupt the same packets before the same error.
func TestReadAheadSameAsDirect(t *testing.T) {
	files := []string{"../samples/twopoint/loss-s2c/span.pcap"}
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, f := range []string{"tcpdump/resp_1_benchmark.pcap", "zeek/pcapng-multi-interface.pcapng", "zeek/truncated-header.pcap"} {
			files = append(files, filepath.Join(dir, f))
		}
	}
	defer func(g, z bool) { readAheadGzip, readAheadZstd = g, z }(readAheadGzip, readAheadZstd)
	cuts := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var gz, zs bytes.Buffer
		gw := gzip.NewWriter(&gz)
		gw.Write(raw)
		gw.Close()
		zw, _ := zstd.NewWriter(&zs)
		zw.Write(raw)
		zw.Close()
		corrupt := func(b []byte) []byte {
			b = bytes.Clone(b)
			for i := len(b) * 2 / 3; i < len(b)*2/3+16 && i < len(b); i++ {
				b[i] ^= 0x5a
			}
			return b
		}
		for _, c := range []struct {
			name string
			data []byte
		}{{"gzip", gz.Bytes()}, {"zstd", zs.Bytes()}, {"gzip cut", gz.Bytes()[:gz.Len()*2/3]}, {"zstd cut", zs.Bytes()[:zs.Len()*2/3]},
			{"gzip corrupt", corrupt(gz.Bytes())}, {"zstd corrupt", corrupt(zs.Bytes())}} {
			readAheadGzip, readAheadZstd = false, false
			want, wantErr := readAllBytes(t, c.data)
			readAheadGzip, readAheadZstd = true, true
			got, gotErr := readAllBytes(t, c.data)
			if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("%s, %s: read ahead %d bytes of packets, error %v; directly %d bytes, error %v", f, c.name, len(got), gotErr, len(want), wantErr)
			}
			if wantErr != nil {
				cuts++
			}
		}
	}
	if cuts == 0 {
		t.Fatal("no cut file ended in an error: the comparison misses the error path")
	}
}
