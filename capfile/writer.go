package capfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/netblame/netblame/linktype"
)

// DefaultSnaplen is the snapshot length written when none is given.
const DefaultSnaplen = libpcapMaxSnaplen

const writeBufSize = 256 << 10

// Option adjusts a Writer.
type Option func(*writerConfig)

type writerConfig struct {
	micro bool
	comp  Compression
}

// WithMicroseconds makes a pcap writer use the microsecond magic
// (0xa1b2c3d4), which old tools read, instead of nanoseconds. It does not
// affect pcapng, which always records nanoseconds (if_tsresol 9).
func WithMicroseconds() Option { return func(c *writerConfig) { c.micro = true } }

// WithCompression compresses the output. Create chooses it from the file
// name; this option overrides that.
func WithCompression(comp Compression) Option { return func(c *writerConfig) { c.comp = comp } }

// Writer writes packets to a pcap file (one link type) or a pcapng file
// (one section with one interface). It is not safe for concurrent use.
type Writer struct {
	bw      *bufio.Writer
	comp    io.WriteCloser // compressor, nil for plain output
	file    *os.File       // set by Create
	format  Format
	micro   bool
	snaplen int
	scratch [32]byte // record header under construction
	size    int64    // bytes of capture written, before compression
	err     error    // sticky
}

// Create creates a capture file; its name chooses the format: ".pcapng"
// gives pcapng and anything else pcap, and a further ".zst" (or ".zstd")
// or ".gz" suffix compresses with zstd or gzip. snaplen <= 0 means
// DefaultSnaplen.
func Create(path string, link linktype.Type, snaplen int, opts ...Option) (*Writer, error) {
	format, comp := FormatFromName(path)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	opts = append([]Option{WithCompression(comp)}, opts...)
	w, err := NewWriter(f, format, link, snaplen, opts...)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	w.file = f
	return w, nil
}

// FormatFromName maps a file name to the format and compression Create
// uses: .pcapng is pcapng, anything else pcap; a further .zst, .zstd or .gz
// compresses.
func FormatFromName(path string) (Format, Compression) {
	name := strings.ToLower(filepath.Base(path))
	comp := CompressNone
	switch ext := filepath.Ext(name); ext {
	case ".zst", ".zstd":
		comp = CompressZstd
		name = strings.TrimSuffix(name, ext)
	case ".gz":
		comp = CompressGzip
		name = strings.TrimSuffix(name, ext)
	}
	if filepath.Ext(name) == ".pcapng" {
		return FormatPCAPNG, comp
	}
	return FormatPCAP, comp
}

// NewWriter writes a capture of format f to w, writing the file header
// (for pcapng the section header and interface description) at once into
// its buffer. snaplen <= 0 means DefaultSnaplen. Close flushes and
// finishes compression but does not close w.
func NewWriter(w io.Writer, f Format, link linktype.Type, snaplen int, opts ...Option) (*Writer, error) {
	var cfg writerConfig
	for _, o := range opts {
		o(&cfg)
	}
	if f != FormatPCAP && f != FormatPCAPNG {
		return nil, fmt.Errorf("capfile: unknown format %d", f)
	}
	if snaplen <= 0 || snaplen > MaxRecordSize/2 {
		snaplen = DefaultSnaplen
	}
	wr := &Writer{format: f, micro: cfg.micro, snaplen: snaplen}
	dst := w
	switch cfg.comp {
	case CompressNone:
	case CompressZstd:
		// Fastest level: the writer serves live capture, where keeping up
		// matters more than the last percent of ratio. One synchronous
		// encoder: the concurrent one allocates a closure per block.
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		wr.comp, dst = enc, enc
	case CompressGzip:
		gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		wr.comp, dst = gz, gz
	default:
		return nil, fmt.Errorf("capfile: unknown compression %d", cfg.comp)
	}
	wr.bw = bufio.NewWriterSize(dst, writeBufSize)
	if f == FormatPCAP {
		wr.writePcapHeader(link)
	} else {
		wr.writePcapngHeader(link)
	}
	return wr, wr.err
}

func (w *Writer) write(b []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(b)
		w.size += int64(len(b))
	}
}

// Size returns the bytes of capture written so far, file header and
// records, counted before compression (buffered bytes included).
func (w *Writer) Size() int64 { return w.size }

// recordLen returns the bytes WritePacket adds for a packet of caplen
// captured bytes.
func (w *Writer) recordLen(caplen int) int64 {
	caplen = min(caplen, w.snaplen)
	if w.format == FormatPCAP {
		return int64(pcapRecordHeaderLen + caplen)
	}
	return int64(32 + caplen + -caplen&3) // EPB: header, data padded to 4, trailer
}

var le = binary.LittleEndian

func (w *Writer) writePcapHeader(link linktype.Type) {
	h := w.scratch[:pcapFileHeaderLen]
	magic := uint32(pcapMagicNano)
	if w.micro {
		magic = pcapMagicMicro
	}
	le.PutUint32(h[0:], magic)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[8:], 0)  // thiszone
	le.PutUint32(h[12:], 0) // sigfigs
	le.PutUint32(h[16:], uint32(w.snaplen))
	le.PutUint32(h[20:], uint32(link))
	w.write(h)
}

func (w *Writer) writePcapngHeader(link linktype.Type) {
	var b [shbMinLen + 32]byte
	shb := b[:shbMinLen]
	le.PutUint32(shb[0:], blockSHB)
	le.PutUint32(shb[4:], shbMinLen)
	le.PutUint32(shb[8:], byteOrderMagic)
	le.PutUint16(shb[12:], 1)
	le.PutUint16(shb[14:], 0)
	le.PutUint64(shb[16:], ^uint64(0)) // section length not given
	le.PutUint32(shb[24:], shbMinLen)
	idb := b[shbMinLen:]
	le.PutUint32(idb[0:], blockIDB)
	le.PutUint32(idb[4:], 32)
	le.PutUint16(idb[8:], uint16(link))
	le.PutUint16(idb[10:], 0)
	le.PutUint32(idb[12:], uint32(w.snaplen))
	le.PutUint16(idb[16:], optTSResol)
	le.PutUint16(idb[18:], 1)
	idb[20] = 9 // nanoseconds
	le.PutUint32(idb[24:], optEnd)
	le.PutUint32(idb[28:], 32)
	w.write(b[:])
}

var zeroPad [4]byte

// WritePacket appends one packet captured at ts (nanoseconds since the
// Unix epoch). data longer than the snaplen is cut to it; origLen is the
// length on the wire (raised to len(data) if smaller). It does not
// allocate.
func (w *Writer) WritePacket(ts int64, data []byte, origLen int) error {
	if w.err != nil {
		return w.err
	}
	if origLen < len(data) {
		origLen = len(data)
	}
	if len(data) > w.snaplen {
		data = data[:w.snaplen]
	}
	if origLen > 1<<32-1 {
		origLen = 1<<32 - 1
	}
	sec, nsec := ts/1e9, ts%1e9
	if nsec < 0 {
		sec, nsec = sec-1, nsec+1e9
	}
	h := w.scratch[:]
	if w.format == FormatPCAP {
		frac := nsec
		if w.micro {
			frac /= 1000
		}
		le.PutUint32(h[0:], uint32(sec))
		le.PutUint32(h[4:], uint32(frac))
		le.PutUint32(h[8:], uint32(len(data)))
		le.PutUint32(h[12:], uint32(origLen))
		w.write(h[:pcapRecordHeaderLen])
		w.write(data)
		return w.err
	}
	pad := -len(data) & 3
	blen := uint32(32 + len(data) + pad)
	t := uint64(ts)
	le.PutUint32(h[0:], blockEPB)
	le.PutUint32(h[4:], blen)
	le.PutUint32(h[8:], 0) // interface
	le.PutUint32(h[12:], uint32(t>>32))
	le.PutUint32(h[16:], uint32(t))
	le.PutUint32(h[20:], uint32(len(data)))
	le.PutUint32(h[24:], uint32(origLen))
	w.write(h[:28])
	w.write(data)
	w.write(zeroPad[:pad])
	le.PutUint32(h[0:], blen)
	w.write(h[:4])
	return w.err
}

// flusher is what zstd and gzip writers offer to push out a block.
type flusher interface{ Flush() error }

// Flush writes buffered packets through to the underlying writer; with
// compression it ends the current compressed block so that everything
// written so far can be decompressed.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.bw.Flush()
	if w.err == nil && w.comp != nil {
		w.err = w.comp.(flusher).Flush()
	}
	return w.err
}

// Close flushes, finishes any compression stream and, for Create, closes
// the file. The result is a complete capture file.
func (w *Writer) Close() error {
	if errors.Is(w.err, errWriterClosed) {
		return nil
	}
	err := w.bw.Flush()
	if w.err != nil {
		err = w.err
	}
	if w.comp != nil {
		if cerr := w.comp.Close(); err == nil {
			err = cerr
		}
	}
	if w.file != nil {
		if cerr := w.file.Close(); err == nil {
			err = cerr
		}
	}
	w.err = errWriterClosed
	return err
}

var errWriterClosed = errors.New("capfile: writer closed")
