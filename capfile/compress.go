package capfile

import (
	"bufio"
	"bytes"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// prefixReader replays bytes already read from src before reading on.
type prefixReader struct {
	head []byte
	src  io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.src.Read(b)
}

// decompress looks at the first bytes of src and, when they are a gzip or
// zstd magic, returns a decompressing reader over all of src.
func (r *Reader) decompress(src io.Reader) (io.Reader, Compression, error) {
	var head [4]byte
	n, err := io.ReadFull(src, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, CompressNone, err
	}
	pr := &prefixReader{head: head[:n], src: src}
	switch {
	case bytes.HasPrefix(head[:n], zstdMagic):
		d, err := zstd.NewReader(pr, zstdReaderOptions...)
		if err != nil {
			return nil, CompressZstd, err
		}
		r.closers = append(r.closers, zstdCloser{d})
		if readAheadZstd {
			ra := newReadAhead(d)
			r.closers = append(r.closers, ra)
			return ra, CompressZstd, nil
		}
		return d, CompressZstd, nil
	case bytes.HasPrefix(head[:n], gzipMagic):
		// The inflater reads byte by byte; without a buffer of ours it
		// would add its own 4 KiB one, costing a system call per 4 KiB.
		z, err := gzip.NewReader(bufio.NewReaderSize(pr, 64<<10))
		if err != nil {
			return nil, CompressGzip, formatErr(whatFile, 0, 0, "bad gzip header: %v", err)
		}
		r.closers = append(r.closers, z)
		if !readAheadGzip {
			return z, CompressGzip, nil
		}
		ra := newReadAhead(z)
		r.closers = append(r.closers, ra)
		return ra, CompressGzip, nil
	}
	return pr, CompressNone, nil
}

// zstdReaderOptions: one decoding goroutine keeps the pipeline simple and
// still decodes well over 1 GB/s; the low-memory mode is off because it
// trades speed for buffers that are allocated once per reader anyway.
var zstdReaderOptions = []zstd.DOption{
	zstd.WithDecoderConcurrency(1),
	zstd.WithDecoderLowmem(false),
}

type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Close() error { z.d.Close(); return nil }

// readAheadGzip and readAheadZstd decompress on a goroutine of their own
// (readahead.go); tests turn them off to compare.
var readAheadGzip, readAheadZstd = true, true
