package capfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/zstd"
)

// benchPackets is the size of the generated capture: big enough that the
// file (about 110 MB as pcap) is not a cache-resident toy, small enough
// to generate in a few seconds.
const benchPackets = 1_000_000

// BenchmarkRead reads a generated snaplen-128 capture with a realistic
// frame-size mix (see synthFrame) from the page cache, one packet per
// op, with this package and with gopacket's pcapgo in the same run.
// MB/s is of the decompressed capture stream; pkts/s is packets per
// second.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	names := []string{"b.pcap", "b.pcapng", "b.pcap.zst", "b.pcap.gz"}
	for _, name := range names {
		writeSynth(b, filepath.Join(dir, name), benchPackets, 128)
	}
	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		return st.Size() / benchPackets
	}
	pcapPer, ngPer := size("b.pcap"), size("b.pcapng")
	for _, bc := range []struct {
		name string
		file string
		per  int64
		open func(f *os.File) (nexter, error)
	}{
		{"pcap", "b.pcap", pcapPer, openOurs},
		{"pcapng", "b.pcapng", ngPer, openOurs},
		{"pcap-zstd", "b.pcap.zst", pcapPer, openOurs},
		{"pcap-gzip", "b.pcap.gz", pcapPer, openOurs},
		{"gopacket-pcapgo", "b.pcap", pcapPer, openPcapgo(false, false)},
		{"gopacket-pcapgo-zerocopy", "b.pcap", pcapPer, openPcapgo(true, false)},
		{"gopacket-pcapgo-zstd", "b.pcap.zst", pcapPer, openPcapgo(true, true)},
		{"gopacket-pcapgo-ng", "b.pcapng", ngPer, openPcapgoNg},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchReadLoop(b, filepath.Join(dir, bc.file), bc.per, bc.open)
		})
	}
}

// benchReadLoop reads one packet an iteration from path, opened with
// open, starting over at the end of the file (the reopen is amortised over
// the file's packets). per is the bytes a packet for MB/s.
func benchReadLoop(b *testing.B, path string, per int64, open func(*os.File) (nexter, error)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	src, err := open(f)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(per)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := src.next()
		if err == io.EOF {
			src.close()
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				b.Fatal(err)
			}
			if src, err = open(f); err != nil {
				b.Fatal(err)
			}
			err = src.next()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	src.close()
}

// nexter reads one packet; the benchmark's common view of both readers.
type nexter struct {
	next  func() error
	close func()
}

func openOurs(f *os.File) (nexter, error) {
	r, err := NewReader(f)
	if err != nil {
		return nexter{}, err
	}
	var p Packet
	return nexter{next: func() error { return r.Next(&p) }, close: func() { r.Close() }}, nil
}

// openPcapgo gives pcapgo the same help ours has: a 256 KiB buffer (it
// reads the file directly otherwise) and, for zstd, the same decoder.
func openPcapgo(zeroCopy, compressed bool) func(f *os.File) (nexter, error) {
	return func(f *os.File) (nexter, error) {
		var src io.Reader = f
		closeFn := func() {}
		if compressed {
			d, err := zstd.NewReader(f, zstdReaderOptions...)
			if err != nil {
				return nexter{}, err
			}
			src, closeFn = d, d.Close
		}
		r, err := pcapgo.NewReader(bufio.NewReaderSize(src, defaultBufSize))
		if err != nil {
			return nexter{}, err
		}
		if zeroCopy {
			return nexter{next: func() error { _, _, err := r.ZeroCopyReadPacketData(); return err }, close: closeFn}, nil
		}
		return nexter{next: func() error { _, _, err := r.ReadPacketData(); return err }, close: closeFn}, nil
	}
}

func openPcapgoNg(f *os.File) (nexter, error) {
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nexter{}, err
	}
	var _ gopacket.ZeroCopyPacketDataSource = r
	return nexter{next: func() error { _, _, err := r.ZeroCopyReadPacketData(); return err }, close: func() {}}, nil
}

// BenchmarkZstdDecoderOptions reads the zstd capture with the decoder
// settings one might choose, to justify zstdReaderOptions: concurrency 1
// (synchronous, in the reading goroutine) against asynchronous block
// decoding, each with and without the low-memory mode.
func BenchmarkZstdDecoderOptions(b *testing.B) {
	path := filepath.Join(b.TempDir(), "b.pcap.zst")
	writeSynth(b, path, benchPackets/4, 128)
	// Bytes per packet of the decompressed stream, for MB/s.
	var plainPer int64
	{
		r, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var p Packet
		for r.Next(&p) == nil {
		}
		plainPer = r.in.offset() / int64(r.Frames())
		r.Close()
	}
	defer func(saved []zstd.DOption) { zstdReaderOptions = saved }(zstdReaderOptions)
	for _, bc := range []struct {
		name string
		opts []zstd.DOption
	}{
		{"conc1", []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false)}},
		{"conc1-lowmem", []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)}},
		{"conc2", []zstd.DOption{zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(false)}},
		{"conc4-lowmem", []zstd.DOption{zstd.WithDecoderConcurrency(4), zstd.WithDecoderLowmem(true)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			zstdReaderOptions = bc.opts
			benchReadLoop(b, path, plainPer, openOurs)
		})
	}
}
