package capfile

import (
	"encoding/binary"
	"io"

	"github.com/netblame/netblame/linktype"
)

// Classic pcap magic numbers, as read in the file's own byte order.
const (
	pcapMagicMicro    = 0xa1b2c3d4
	pcapMagicNano     = 0xa1b23c4d
	pcapMagicModified = 0xa1b2cd34 // Alexey Kuznetzov's patched libpcap

	pcapFileHeaderLen     = 24
	pcapRecordHeaderLen   = 16
	pcapModifiedHeaderLen = 24 // adds ifindex, protocol, pkt_type, pad

	// libpcapMaxSnaplen is libpcap's largest snapshot length; records up
	// to it are accepted even when the file's snaplen is smaller.
	libpcapMaxSnaplen = 262144
)

func isPcapMagic(b []byte) bool {
	switch binary.LittleEndian.Uint32(b) {
	case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
		return true
	}
	switch binary.BigEndian.Uint32(b) {
	case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
		return true
	}
	return false
}

func (r *Reader) readPcapHeader() error {
	h, err := r.in.peek(pcapFileHeaderLen)
	if err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return formatErr(whatPcapHeader, 0, 0, "file is %d bytes, shorter than the %d-byte pcap header", len(h), pcapFileHeaderLen)
		}
		return err
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(h)
	if !(magic == pcapMagicMicro || magic == pcapMagicNano || magic == pcapMagicModified) {
		order = binary.BigEndian
		magic = order.Uint32(h)
		r.be = true
	}
	major := order.Uint16(h[4:])
	if major < 2 {
		return formatErr(whatPcapHeader, 0, 0, "unsupported pcap version %d.%d", major, order.Uint16(h[6:]))
	}
	r.tsMul = 1000
	r.recHdrLen = pcapRecordHeaderLen
	switch magic {
	case pcapMagicNano:
		r.tsMul = 1
	case pcapMagicModified:
		r.recHdrLen = pcapModifiedHeaderLen
	}
	snaplen := order.Uint32(h[16:])
	network := order.Uint32(h[20:])
	// The top bits of the link-type field may carry the FCS length
	// (bit 26 says it is present; bits 28-31 count 16-bit words).
	fcs := -1
	if network&0x04000000 != 0 {
		fcs = int(network>>28) * 2
	}
	link := network & 0x03ffffff
	if link > 0xffff {
		return formatErr(whatPcapHeader, 0, 0, "link type %d out of range", link)
	}
	r.maxCap = max(snaplen, libpcapMaxSnaplen)
	if r.maxCap > MaxRecordSize-pcapModifiedHeaderLen {
		r.maxCap = MaxRecordSize - pcapModifiedHeaderLen
	}
	resol := uint8(6)
	if r.tsMul == 1 {
		resol = 9
	}
	r.ifaces = append(r.ifaces[:0], Interface{
		Link:    linktype.Type(link),
		Snaplen: int(min(snaplen, 1<<31-1)),
		FCSLen:  fcs,
		TSResol: resol,
	})
	r.in.discard(pcapFileHeaderLen)
	return nil
}

// nextPcap reads the next record. The common case, a record wholly in the
// buffer, takes a short path with nothing to report; the rest (refills,
// the end, corrupt records) go through nextPcapFill.
func (r *Reader) nextPcap(p *Packet) error {
	in := r.in
	hl := r.recHdrLen
	if in.w-in.r < hl {
		return r.nextPcapFill(p)
	}
	sec, frac, caplen, origlen := r.pcapRecordHeader((*[pcapRecordHeaderLen]byte)(in.buf[in.r : in.r+pcapRecordHeaderLen]))
	n := hl + int(caplen)
	if caplen > r.maxCap || in.w-in.r < n {
		return r.nextPcapFill(p)
	}
	r.recOff = in.offset()
	start := in.r
	in.r += n
	r.setPcapPacket(p, sec, frac, origlen, in.buf[start+hl:start+n:start+n])
	return nil
}

// nextPcapFill is nextPcap for a record that is not wholly buffered, or
// that is corrupt.
func (r *Reader) nextPcapFill(p *Packet) error {
	in := r.in
	off := in.offset()
	r.recOff = off
	hl := r.recHdrLen
	b, err := in.fill(hl)
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return formatErr(whatPcapRecord, off, r.frame, "truncated record header: %d of %d bytes", len(b), hl)
		}
		return err
	}
	sec, frac, caplen, origlen := r.pcapRecordHeader((*[pcapRecordHeaderLen]byte)(b))
	if caplen > r.maxCap {
		return formatErr(whatPcapRecord, off, r.frame, "captured length %d exceeds the maximum %d", caplen, r.maxCap)
	}
	n := hl + int(caplen)
	if b, err = in.fill(n); err != nil {
		if err == io.ErrUnexpectedEOF {
			return formatErr(whatPcapRecord, off, r.frame, "truncated record: %d captured bytes announced, %d present", caplen, len(b)-hl)
		}
		return err
	}
	in.r += n
	r.setPcapPacket(p, sec, frac, origlen, b[hl:n:n])
	return nil
}

// pcapRecordHeader decodes the four fields of a record header.
func (r *Reader) pcapRecordHeader(h *[pcapRecordHeaderLen]byte) (sec, frac, caplen, origlen uint32) {
	if r.be {
		return binary.BigEndian.Uint32(h[0:]), binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint32(h[8:]), binary.BigEndian.Uint32(h[12:])
	}
	return binary.LittleEndian.Uint32(h[0:]), binary.LittleEndian.Uint32(h[4:]), binary.LittleEndian.Uint32(h[8:]), binary.LittleEndian.Uint32(h[12:])
}

// setPcapPacket fills p with the next frame.
func (r *Reader) setPcapPacket(p *Packet, sec, frac, origlen uint32, data []byte) {
	r.frame++
	p.Frame = r.frame
	p.Timestamp = int64(sec)*1e9 + int64(frac)*r.tsMul
	p.Data = data
	p.OrigLen = int(origlen)
	p.Link = r.ifaces[0].Link
	p.Interface = 0
}
