package capfile

import (
	"errors"
	"io"
)

// Buffer sizes of the reader's input layer.
const (
	// defaultBufSize is big enough that page-cache reads cost few system
	// calls per megabyte and that every ordinary record fits.
	defaultBufSize = 256 << 10
	// MaxRecordSize caps one record or block held in memory (and so the
	// reader's buffer). Larger claims are reported as corrupt.
	MaxRecordSize = 64 << 20
)

// stream is the reader's only buffering layer: one buffer over the
// (possibly decompressed) source from which records are handed out as
// views. It grows only when a record is larger than the buffer.
type stream struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread bytes are buf[r:w]
	base int64 // stream offset of buf[0]
	err  error // sticky error from src

	empty int // consecutive reads that returned nothing
}

func newStream(src io.Reader, size int) *stream {
	return &stream{src: src, buf: make([]byte, size)}
}

// offset is the stream offset of the next unread byte.
func (s *stream) offset() int64 { return s.base + int64(s.r) }

// peek returns the next n bytes without consuming them; the view is valid
// until the next peek, discard or skip. At the end of input it returns
// io.EOF when no byte is left and io.ErrUnexpectedEOF with the bytes that
// are left otherwise. n must not exceed MaxRecordSize.
func (s *stream) peek(n int) ([]byte, error) {
	if b := s.buf[s.r:s.w]; len(b) >= n {
		return b[:n], nil
	}
	return s.fill(n)
}

// fill reads until n bytes are buffered or the source ends. The buffer
// grows only when it is full and still short of n, so a corrupt length
// claim in a short file costs no more memory than the file has.
func (s *stream) fill(n int) ([]byte, error) {
	if s.r > 0 && len(s.buf)-s.r < n {
		// Not enough room after r: move the unread tail to the front.
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.r = 0
	}
	for s.w-s.r < n && s.err == nil {
		if s.w == len(s.buf) {
			s.grow(n)
		}
		m, err := s.src.Read(s.buf[s.w:])
		if m < 0 || m > len(s.buf)-s.w {
			m, err = 0, errors.New("capfile: source returned an invalid count")
		}
		s.w += m
		switch {
		case err != nil:
			s.err = err
		case m == 0:
			s.empty++
			if s.empty >= 100 {
				s.err = io.ErrNoProgress
			}
		default:
			s.empty = 0
		}
	}
	if s.w-s.r >= n {
		return s.buf[s.r : s.r+n], nil
	}
	if s.err == io.EOF {
		if s.w == s.r {
			return nil, io.EOF
		}
		return s.buf[s.r:s.w], io.ErrUnexpectedEOF
	}
	return s.buf[s.r:s.w], s.err
}

// grow doubles the buffer (at most to n, at most MaxRecordSize), keeping
// the unread bytes, which start at 0 when it is called.
func (s *stream) grow(n int) {
	size := min(2*len(s.buf), n, MaxRecordSize)
	if size <= len(s.buf) {
		size = len(s.buf) + 1 // not reached: callers keep n <= MaxRecordSize
	}
	nb := make([]byte, size)
	s.w = copy(nb, s.buf[s.r:s.w])
	s.base += int64(s.r)
	s.r = 0
	s.buf = nb
}

// discard consumes n bytes that peek has returned.
func (s *stream) discard(n int) { s.r += n }

// skip consumes n bytes that need not be buffered at once. It returns how
// many were skipped and, if fewer than n, the error from the source
// (io.ErrUnexpectedEOF at the end of input).
func (s *stream) skip(n int64) (int64, error) {
	var done int64
	for done < n {
		if s.r == s.w {
			if s.err != nil {
				if s.err == io.EOF {
					return done, io.ErrUnexpectedEOF
				}
				return done, s.err
			}
			s.base += int64(s.w)
			s.r, s.w = 0, 0
			if _, err := s.fill(1); err != nil && s.r == s.w {
				continue // reported at the top of the loop
			}
		}
		k := int64(s.w - s.r)
		if k > n-done {
			k = n - done
		}
		s.r += int(k)
		done += k
	}
	return done, nil
}
