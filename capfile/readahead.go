package capfile

import (
	"errors"
	"io"
)

// Decompression on a core of its own
//
// Decompressing takes a good part of the time netblame spends on a packet
// (gzip more than zstd), so a compressed file is read ahead on a
// goroutine of its own: it decompresses the next chunks while the
// caller's goroutine decodes and analyses the packets of the current
// one. The bytes cross between the cores once, a whole chunk at a time,
// in order, and a decompression error arrives after the bytes before it,
// as without the goroutine. zstd's own concurrent decoding
// (WithDecoderConcurrency above 1) was slower on the benchmark capture
// than one decoder on this goroutine. docs/BENCHMARKS.md ("Reading and
// decompression on their own core") has the measurements.

const (
	aheadChunk  = 256 << 10 // bytes a chunk
	aheadChunks = 4         // chunks in flight
)

type chunk struct {
	b   []byte
	err error // after b
}

// readAhead reads src on its own goroutine, up to aheadChunks ahead.
type readAhead struct {
	full chan chunk
	free chan []byte
	stop chan struct{}
	done chan struct{}
	cur  chunk // being consumed
	buf  []byte
	end  bool
}

func newReadAhead(src io.Reader) *readAhead {
	r := &readAhead{full: make(chan chunk, aheadChunks), free: make(chan []byte, aheadChunks),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range aheadChunks {
		r.free <- make([]byte, aheadChunk)
	}
	go r.fill(src)
	return r
}

func (r *readAhead) fill(src io.Reader) {
	defer close(r.done)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.stop:
			return
		}
		n, err := io.ReadFull(src, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		select {
		case r.full <- chunk{b: buf[:n], err: err}:
		case <-r.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (r *readAhead) Read(p []byte) (int, error) {
	for len(r.cur.b) == 0 {
		if r.cur.err != nil || r.end {
			r.end = true
			if r.cur.err == nil {
				return 0, io.EOF
			}
			return 0, r.cur.err
		}
		if r.buf != nil {
			r.free <- r.buf[:cap(r.buf)]
			r.buf = nil
		}
		c, ok := <-r.full
		if !ok {
			r.end = true
			return 0, io.EOF
		}
		r.cur, r.buf = c, c.b
	}
	n := copy(p, r.cur.b)
	r.cur.b = r.cur.b[n:]
	return n, nil
}

// Close stops the goroutine and waits for it (its source is closed
// after).
func (r *readAhead) Close() error {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	return nil
}
