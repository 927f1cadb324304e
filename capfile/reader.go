package capfile

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/netblame/netblame/linktype"
)

// Packet is one captured packet as read from a file.
type Packet struct {
	Frame     uint64        // 1-based frame number, as Wireshark counts (see Reader.Frames)
	Timestamp int64         // nanoseconds since the Unix epoch
	Data      []byte        // captured bytes; a view valid until the next Next
	OrigLen   int           // length of the packet on the wire
	Link      linktype.Type // link type of Data
	Interface int           // pcapng interface index within its section; 0 for pcap
}

// Interface describes one capture interface: the single one of a pcap
// file or one interface description block of the current pcapng section.
type Interface struct {
	Link    linktype.Type
	Snaplen int // 0 means no limit (pcapng)
	// FCSLen is the number of frame-check-sequence bytes at the end of
	// each packet, or -1 when the file does not say.
	FCSLen int
	// TSResol is the raw if_tsresol option value (6 when absent, 0x80|n
	// for 2^-n seconds); TSOffset is if_tsoffset in seconds.
	TSResol  uint8
	TSOffset int64

	ts tsConv
}

// Reader streams packets from a pcap or pcapng file, plain or compressed.
// It is not safe for concurrent use.
type Reader struct {
	in     *stream
	format Format
	comp   Compression
	frame  uint64
	recOff int64 // offset of the record last returned or failed
	err    error // sticky: once set, Next returns it again

	// pcap
	be        bool // big-endian numbers
	tsMul     int64
	recHdrLen int
	maxCap    uint32

	// pcapng: interfaces of the current section
	ifaces []Interface

	closers []io.Closer
}

// Open opens a capture file for reading. The format and any gzip or zstd
// compression are detected from the content.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	r, err := newReader(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.closers = append(r.closers, f)
	return r, nil
}

// NewReader reads a capture from src, detecting the format and any gzip
// or zstd compression from the first bytes. It reads the file header (for
// pcapng the first section header and the interface descriptions right
// after it) before returning. Close releases
// the decompressor but does not close src.
func NewReader(src io.Reader) (*Reader, error) {
	size := int64(-1)
	if l, ok := src.(interface{ Len() int }); ok { // bytes.Reader and kin
		size = int64(l.Len())
	}
	return newReader(src, size)
}

// newReader is NewReader with the input size when known (else -1), so
// that a small plain file gets a buffer no larger than itself.
func newReader(src io.Reader, size int64) (*Reader, error) {
	r := &Reader{}
	src, comp, err := r.decompress(src)
	if err != nil {
		r.Close()
		return nil, err
	}
	r.comp = comp
	bufSize := defaultBufSize
	if comp == CompressNone && size >= 0 && size < defaultBufSize {
		bufSize = max(int(size), 64)
	}
	r.in = newStream(src, bufSize)
	magic, err := r.in.peek(4)
	if err != nil {
		r.Close()
		if fe := r.corrupt(err); fe != nil {
			return nil, fe
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, formatErr(whatFile, 0, 0, "file is shorter than a capture-file header (%d bytes)", len(magic))
		}
		return nil, err
	}
	switch {
	case isPcapMagic(magic):
		r.format = FormatPCAP
		err = r.readPcapHeader()
	case isPcapngMagic(magic):
		r.format = FormatPCAPNG
		err = r.readFirstSection()
	default:
		err = formatErr(whatFile, 0, 0, "not a pcap or pcapng file (magic % x)", magic)
	}
	if err != nil {
		r.Close()
		if fe := r.corrupt(err); fe != nil {
			return nil, fe
		}
		return nil, err
	}
	return r, nil
}

// corrupt turns an error of the gzip or zstd decoder into a FormatError;
// it returns nil for plain input and for errors that are not the
// decompressor's.
func (r *Reader) corrupt(err error) error {
	var fe *FormatError
	if r.comp == CompressNone || err == io.EOF || err == io.ErrUnexpectedEOF || errors.As(err, &fe) {
		return nil
	}
	return &FormatError{Offset: r.in.offset(), Frame: r.frame, what: whatStream,
		Msg: fmt.Sprintf("corrupt %v data: %v", r.comp, err), err: err}
}

// Next reads the next packet into p. p.Data is a view into the reader's
// buffer, valid until the next call. Next returns io.EOF at the clean end
// of the file and a *FormatError for malformed input, once: every later
// call returns io.EOF, so a loop that logs an error and reads on still
// ends. Err keeps the error.
func (r *Reader) Next(p *Packet) error {
	if r.err != nil {
		if r.err == errClosed {
			return r.err
		}
		return io.EOF
	}
	var err error
	if r.format == FormatPCAP {
		err = r.nextPcap(p)
	} else {
		err = r.nextPcapng(p)
	}
	if err != nil {
		if fe := r.corrupt(err); fe != nil {
			err = fe
		}
		r.err = err
	}
	return err
}

// Err returns the error that ended the reading (nil while reading, and
// after a clean end).
func (r *Reader) Err() error {
	if r.err == io.EOF || r.err == errClosed {
		return nil
	}
	return r.err
}

// Format reports whether the file is pcap or pcapng.
func (r *Reader) Format() Format { return r.format }

// Compression reports how the file was compressed.
func (r *Reader) Compression() Compression { return r.comp }

// LinkType is the link type of a pcap file, or of the first interface of
// the current pcapng section (see Interfaces for the others).
func (r *Reader) LinkType() linktype.Type {
	if len(r.ifaces) == 0 {
		return 0
	}
	return r.ifaces[0].Link
}

// Snaplen is the snapshot length of a pcap file, or of the first
// interface of the current pcapng section (0: unlimited).
func (r *Reader) Snaplen() int {
	if len(r.ifaces) == 0 {
		return 0
	}
	return r.ifaces[0].Snaplen
}

// Interfaces lists the interfaces of the current pcapng section (one for
// pcap). The slice is the reader's own: do not modify it; it changes when
// Next crosses an interface description or section header block.
func (r *Reader) Interfaces() []Interface { return r.ifaces }

// Offset is the byte offset, in the decompressed stream, of the record or
// block last returned by Next (or of the one that failed).
func (r *Reader) Offset() int64 { return r.recOff }

// Frames is the number of frames Wireshark would have counted so far:
// the packets returned plus pcapng custom and systemd-journal blocks,
// which Wireshark lists as frames and this reader skips. Packet.Frame
// numbers match Wireshark's because such blocks take a number too.
func (r *Reader) Frames() uint64 { return r.frame }

// Close releases the decompressor and, for Open, closes the file.
func (r *Reader) Close() error {
	var first error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	r.closers = nil
	if r.err == nil {
		r.err = errClosed
	}
	return first
}

var errClosed = errors.New("capfile: reader closed")

// Source yields captured packets one at a time: Reader and Merged for
// files, ring.Source for a live interface. Next fills p with a view valid
// until the next call and returns io.EOF at the end; an error other than
// io.EOF comes once, io.EOF after it.
type Source interface {
	Next(p *Packet) error
}

var (
	_ Source = (*Reader)(nil)
	_ Source = (*Merged)(nil)
)
