package capfile

import (
	"encoding/binary"
	"io"
	"math/bits"

	"github.com/netblame/netblame/linktype"
)

// pcapng block types this reader interprets; all others are skipped.
const (
	blockSHB = 0x0a0d0d0a // section header
	blockIDB = 1          // interface description
	blockPB  = 2          // packet (obsolete)
	blockSPB = 3          // simple packet
	blockEPB = 6          // enhanced packet

	// Blocks that are skipped but that Wireshark lists as frames, so
	// they take a frame number.
	blockJournal      = 9          // systemd journal export
	blockCustom       = 0x00000bad // custom, copiable
	blockCustomNoCopy = 0x40000bad // custom, not to be copied

	byteOrderMagic = 0x1a2b3c4d

	shbMinLen   = 28 // type, length, BOM, version, section length, trailer
	blockMinLen = 12 // type, length, trailer
)

// Interface description options the reader uses.
const (
	optEnd      = 0
	optTSResol  = 9
	optFCSLen   = 13
	optTSOffset = 14
)

func isPcapngMagic(b []byte) bool {
	return binary.LittleEndian.Uint32(b) == blockSHB
}

func (r *Reader) u16(b []byte) uint16 {
	if r.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.be {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *Reader) blockErr(off int64, format string, args ...any) error {
	return formatErr(whatPcapngBlock, off, r.frame, format, args...)
}

// truncated turns a short read into a FormatError; other errors pass.
func (r *Reader) truncated(off int64, err error, have, want int, what string) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return r.blockErr(off, "truncated %s: %d of %d bytes present", what, have, want)
	}
	return err
}

func (r *Reader) readFirstSection() error {
	if _, err := r.in.peek(shbMinLen); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return formatErr(whatFile, 0, 0, "file is shorter than a pcapng section header (%d bytes)", shbMinLen)
		}
		return err
	}
	if err := r.readSection(0); err != nil {
		return err
	}
	return r.readLeadingIDBs()
}

// readLeadingIDBs reads the interface descriptions that follow the first
// section header, so that LinkType and Snaplen are known right after
// NewReader. Anything else (or a short file) is left for Next.
func (r *Reader) readLeadingIDBs() error {
	for {
		off := r.in.offset()
		h, err := r.in.peek(8)
		if err != nil || r.u32(h) != blockIDB {
			return nil
		}
		blen := r.u32(h[4:])
		if err := r.checkLen(off, blen, blockMinLen); err != nil {
			return err
		}
		b, err := r.in.peek(int(blen))
		if err != nil {
			return nil // Next reports the truncation
		}
		if t := r.u32(b[blen-4:]); t != blen {
			return r.blockErr(off, "trailing block length %d does not match %d", t, blen)
		}
		if err := r.readIDB(off, b[8:blen-4]); err != nil {
			return err
		}
		r.in.discard(int(blen))
	}
}

// readSection reads a section header block at off and starts a section:
// the byte order may change and no interface is defined yet.
func (r *Reader) readSection(off int64) error {
	h, err := r.in.peek(12)
	if err != nil {
		return r.truncated(off, err, len(h), 12, "section header")
	}
	switch binary.LittleEndian.Uint32(h[8:]) {
	case byteOrderMagic:
		r.be = false
	case bits.ReverseBytes32(byteOrderMagic):
		r.be = true
	default:
		return r.blockErr(off, "section header has a bad byte-order magic %#08x", binary.LittleEndian.Uint32(h[8:]))
	}
	blen := r.u32(h[4:])
	if err := r.checkLen(off, blen, shbMinLen); err != nil {
		return err
	}
	b, err := r.in.peek(int(blen))
	if err != nil {
		return r.truncated(off, err, len(b), int(blen), "section header")
	}
	major, minor := r.u16(b[12:]), r.u16(b[14:])
	// 1.0 is the only version; libpcap and Wireshark also take 1.2, which
	// some writers produced by mistake for the same format.
	if major != 1 || (minor != 0 && minor != 2) {
		return r.blockErr(off, "unsupported section header version %d.%d", major, minor)
	}
	if t := r.u32(b[blen-4:]); t != blen {
		return r.blockErr(off, "trailing block length %d does not match %d", t, blen)
	}
	r.in.discard(int(blen))
	r.ifaces = r.ifaces[:0]
	return nil
}

// checkLen validates a block's total length field.
func (r *Reader) checkLen(off int64, blen, minLen uint32) error {
	switch {
	case blen%4 != 0:
		return r.blockErr(off, "block length %d is not a multiple of 4", blen)
	case blen < minLen:
		return r.blockErr(off, "block length %d is less than the %d-byte minimum", blen, minLen)
	case blen > MaxRecordSize:
		return r.blockErr(off, "block length %d exceeds the %d-byte limit", blen, MaxRecordSize)
	}
	return nil
}

func (r *Reader) nextPcapng(p *Packet) error {
	in := r.in
	for {
		off := in.offset()
		r.recOff = off
		// Fast path as in nextPcap: use what is buffered, fill at the edge.
		h := in.buf[in.r:in.w]
		if len(h) < 8 {
			var err error
			if h, err = in.fill(8); err != nil {
				if err == io.EOF {
					return io.EOF
				}
				return r.truncated(off, err, len(h), 8, "block header")
			}
		}
		btype := r.u32(h)
		if btype == blockSHB {
			if err := r.readSection(off); err != nil {
				return err
			}
			continue
		}
		blen := r.u32(h[4:])
		switch btype {
		case blockEPB, blockSPB, blockPB, blockIDB:
		default:
			if err := r.skipBlock(off, blen); err != nil {
				return err
			}
			if btype == blockCustom || btype == blockCustomNoCopy || btype == blockJournal {
				r.frame++
			}
			continue
		}
		if blen%4 != 0 || blen < blockMinLen || blen > MaxRecordSize {
			return r.checkLen(off, blen, blockMinLen)
		}
		b := h
		if len(b) < int(blen) {
			var err error
			if b, err = in.fill(int(blen)); err != nil {
				return r.truncated(off, err, len(b), int(blen), "block")
			}
		}
		if t := r.u32(b[blen-4:]); t != blen {
			return r.blockErr(off, "trailing block length %d does not match %d", t, blen)
		}
		body := b[8 : blen-4]
		var err error
		switch btype {
		case blockIDB:
			err = r.readIDB(off, body)
		case blockEPB:
			err = r.readPacketBlock(off, body, p, false)
		case blockSPB:
			err = r.readSPB(off, body, p)
		case blockPB:
			err = r.readPacketBlock(off, body, p, true)
		}
		if err != nil {
			return err
		}
		in.r += int(blen)
		if btype != blockIDB {
			r.frame++
			p.Frame = r.frame
			return nil
		}
	}
}

// skipBlock passes over a block the reader does not interpret, without
// buffering all of it, and checks its trailing length.
func (r *Reader) skipBlock(off int64, blen uint32) error {
	if blen%4 != 0 || blen < blockMinLen {
		return r.checkLen(off, blen, blockMinLen)
	}
	if n, err := r.in.skip(int64(blen) - 4); err != nil {
		return r.truncated(off, err, int(n), int(blen), "block")
	}
	t, err := r.in.peek(4)
	if err != nil {
		return r.truncated(off, err, int(blen)-4+len(t), int(blen), "block")
	}
	if v := r.u32(t); v != blen {
		return r.blockErr(off, "trailing block length %d does not match %d", v, blen)
	}
	r.in.discard(4)
	return nil
}

func (r *Reader) readIDB(off int64, body []byte) error {
	if len(body) < 8 {
		return r.blockErr(off, "interface description block body is %d bytes, less than 8", len(body))
	}
	iface := Interface{
		Link:    linktype.Type(r.u16(body)),
		Snaplen: int(min(r.u32(body[4:]), 1<<31-1)),
		FCSLen:  -1,
		TSResol: 6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, olen := r.u16(opts), int(r.u16(opts[2:]))
		if code == optEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if padded > len(opts)-4 {
			return r.blockErr(off, "interface option %d of length %d overruns the block", code, olen)
		}
		v := opts[4 : 4+olen]
		switch code {
		case optTSResol:
			if olen != 1 {
				return r.blockErr(off, "if_tsresol option has length %d, not 1", olen)
			}
			iface.TSResol = v[0]
		case optTSOffset:
			if olen != 8 {
				return r.blockErr(off, "if_tsoffset option has length %d, not 8", olen)
			}
			iface.TSOffset = int64(r.u64(v))
		case optFCSLen:
			if olen == 1 {
				iface.FCSLen = int(v[0])
			}
		}
		opts = opts[4+padded:]
	}
	if !iface.ts.set(iface.TSResol, iface.TSOffset) {
		return r.blockErr(off, "unsupported if_tsresol %#02x", iface.TSResol)
	}
	r.ifaces = append(r.ifaces, iface)
	return nil
}

func (r *Reader) iface(off int64, id uint32, what string) (*Interface, error) {
	if uint64(id) >= uint64(len(r.ifaces)) {
		return nil, r.blockErr(off, "%s refers to interface %d, but the section defines %d", what, id, len(r.ifaces))
	}
	return &r.ifaces[id], nil
}

// readPacketBlock reads an enhanced packet block or, when obsolete, the
// obsolete packet block, which has the same layout but for a 16-bit
// interface ID and a drop count where the enhanced block has a 32-bit ID.
func (r *Reader) readPacketBlock(off int64, body []byte, p *Packet, obsolete bool) error {
	what := "enhanced packet block"
	if obsolete {
		what = "packet block"
	}
	if len(body) < 20 {
		return r.blockErr(off, "%s body is %d bytes, less than 20", what, len(body))
	}
	id := r.u32(body)
	if obsolete {
		id = uint32(r.u16(body))
	}
	caplen := r.u32(body[12:])
	if uint64(caplen) > uint64(len(body)-20) {
		return r.blockErr(off, "captured length %d overruns the %d-byte block", caplen, len(body)+12)
	}
	ifc, err := r.iface(off, id, what)
	if err != nil {
		return err
	}
	t := uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
	p.Timestamp = ifc.ts.nanos(t)
	p.Data = body[20 : 20+caplen : 20+caplen]
	p.OrigLen = int(r.u32(body[16:]))
	p.Link = ifc.Link
	p.Interface = int(id)
	return nil
}

// readSPB: a simple packet block has no timestamp and belongs to
// interface 0; its captured length is the packet length cut to the
// interface's snaplen and to the block.
func (r *Reader) readSPB(off int64, body []byte, p *Packet) error {
	if len(body) < 4 {
		return r.blockErr(off, "simple packet block body is %d bytes, less than 4", len(body))
	}
	ifc, err := r.iface(off, 0, "simple packet block")
	if err != nil {
		return err
	}
	orig := r.u32(body)
	caplen := uint64(orig)
	if ifc.Snaplen > 0 && caplen > uint64(ifc.Snaplen) {
		caplen = uint64(ifc.Snaplen)
	}
	if caplen > uint64(len(body)-4) {
		caplen = uint64(len(body) - 4)
	}
	p.Timestamp = 0
	p.Data = body[4 : 4+caplen : 4+caplen]
	p.OrigLen = int(orig)
	p.Link = ifc.Link
	p.Interface = 0
	return nil
}
