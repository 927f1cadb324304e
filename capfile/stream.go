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
	if s.w-s.r >= n {
		return s.buf[s.r : s.r+n], nil
	}
	return s.fill(n)
}

// fill reads until n bytes are buffered or the source ends.
func (s *stream) fill(n int) ([]byte, error) {
	if n > len(s.buf) {
		size := 2 * len(s.buf)
		if size < n {
			size = n
		}
		if size > MaxRecordSize {
			size = MaxRecordSize
		}
		nb := make([]byte, size)
		s.w = copy(nb, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.r = 0
		s.buf = nb
	} else if s.r > 0 && len(s.buf)-s.r < n {
		// Not enough room after r: move the unread tail to the front.
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.base += int64(s.r)
		s.r = 0
	}
	for s.w-s.r < n && s.err == nil {
		m, err := s.src.Read(s.buf[s.w:])
		if m < 0 || m > len(s.buf)-s.w {
			err = errors.New("capfile: source returned an invalid count")
			m = 0
		}
		s.w += m
		if err != nil {
			s.err = err
		} else if m == 0 {
			// A well-behaved source blocks rather than returning 0, nil;
			// keep trying like bufio does, but not forever.
			for i := 0; i < 100 && m == 0 && err == nil; i++ {
				m, err = s.src.Read(s.buf[s.w:])
			}
			s.w += m
			if m == 0 && err == nil {
				err = io.ErrNoProgress
			}
			if err != nil {
				s.err = err
			}
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
