package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// frame is one captured packet held in memory with the few TCP fields the
// ground-truth bookkeeping needs. The lab's captures are small (a few MB),
// so keeping them whole is simpler than streaming.
type frame struct {
	Num     int // 1-based frame number in its file
	TS      int64
	Data    []byte
	OrigLen int

	TCP      bool
	V6       bool
	Src, Dst netip.AddrPort
	IPID     uint32
	Seq, Ack uint32
	Flags    uint16
	Win      uint16
	PayLen   int // TCP payload length from the IP length fields (snaplen-proof)
	TSVal    uint32
	HasTS    bool   // the segment carries a TCP timestamp option
	MSS      uint16 // the MSS option's value (SYNs), 0 if none

	// Pieces is the number of wire segments wireSegments cut this frame's
	// super-segment into (0 when it was not cut), Piece this one's index.
	Pieces, Piece int
}

// readFrames reads every packet of a capture file.
func readFrames(path string) ([]frame, decode.LinkType, int, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer r.Close()
	var out []frame
	var p capfile.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, r.LinkType(), r.Snaplen(), fmt.Errorf("%s: %w", path, err)
		}
		f := frame{Num: int(p.Frame), TS: p.Timestamp, Data: append([]byte(nil), p.Data...), OrigLen: p.OrigLen}
		if p.Link == decode.LinkEthernet {
			parseEthernetTCP(&f)
		}
		out = append(out, f)
	}
	return out, r.LinkType(), r.Snaplen(), nil
}

// writeFrames writes frames to a pcap file (nanosecond timestamps), with
// ts giving each frame's timestamp.
func writeFrames(path string, link decode.LinkType, snaplen int, frames []frame, ts func(*frame) int64) error {
	w, err := capfile.Create(path, link, snaplen)
	if err != nil {
		return err
	}
	for i := range frames {
		if err := w.WritePacket(ts(&frames[i]), frames[i].Data, frames[i].OrigLen); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// parseEthernetTCP fills the TCP fields of f when it holds Ethernet/IP/TCP
// with complete headers. Payload may be cut by the snaplen: its length
// comes from the IP header, not from the captured bytes.
func parseEthernetTCP(f *frame) {
	b := f.Data
	if len(b) < 14 {
		return
	}
	et := binary.BigEndian.Uint16(b[12:])
	b = b[14:]
	var ipPayload int // bytes after the IP header(s), from the length fields
	var proto uint8
	switch et {
	case 0x0800:
		if len(b) < 20 || b[0]>>4 != 4 {
			return
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || len(b) < ihl || total < ihl {
			return
		}
		if binary.BigEndian.Uint16(b[6:])&0x1fff != 0 {
			return // later fragment
		}
		f.IPID = uint32(binary.BigEndian.Uint16(b[4:]))
		proto = b[9]
		src, _ := netip.AddrFromSlice(b[12:16])
		dst, _ := netip.AddrFromSlice(b[16:20])
		f.Src, f.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		ipPayload = total - ihl
		b = b[ihl:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return
		}
		proto = b[6] // the lab sends no extension headers
		src, _ := netip.AddrFromSlice(b[8:24])
		dst, _ := netip.AddrFromSlice(b[24:40])
		f.Src, f.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		f.V6 = true
		ipPayload = int(binary.BigEndian.Uint16(b[4:]))
		b = b[40:]
	default:
		return
	}
	if proto != 6 || len(b) < 20 {
		return
	}
	hl := int(b[12]>>4) * 4
	if hl < 20 || len(b) < hl || ipPayload < hl {
		return
	}
	f.TCP = true
	f.Src = netip.AddrPortFrom(f.Src.Addr(), binary.BigEndian.Uint16(b))
	f.Dst = netip.AddrPortFrom(f.Dst.Addr(), binary.BigEndian.Uint16(b[2:]))
	f.Seq = binary.BigEndian.Uint32(b[4:])
	f.Ack = binary.BigEndian.Uint32(b[8:])
	f.Flags = uint16(b[13]) | uint16(b[12]&1)<<8
	f.Win = binary.BigEndian.Uint16(b[14:])
	f.PayLen = ipPayload - hl
	f.TSVal, f.HasTS, f.MSS = tcpOptions(b[20:hl])
}

// tcpTSVal returns the TSval of a TCP timestamp option, or 0.
func tcpTSVal(opts []byte) uint32 {
	v, _, _ := tcpOptions(opts)
	return v
}

// tcpOptions returns the TSval of a TCP timestamp option (and whether
// there is one) and the value of an MSS option (0 if none).
func tcpOptions(opts []byte) (tsval uint32, hasTS bool, mss uint16) {
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return
		case 1:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			return
		}
		switch {
		case opts[0] == 8 && opts[1] == 10:
			tsval, hasTS = binary.BigEndian.Uint32(opts[2:]), true
		case opts[0] == 2 && opts[1] == 4:
			mss = binary.BigEndian.Uint16(opts[2:])
		}
		opts = opts[opts[1]:]
	}
	return
}

// flagNames spells TCP flags the way the shared truth files do ("S", "SA", "PA", "FA", "R").
func flagNames(fl uint16) string {
	var sb strings.Builder
	for _, x := range []struct {
		bit uint16
		c   byte
	}{{0x02, 'S'}, {0x01, 'F'}, {0x04, 'R'}, {0x08, 'P'}, {0x10, 'A'}, {0x20, 'U'}} {
		if fl&x.bit != 0 {
			sb.WriteByte(x.c)
		}
	}
	return sb.String()
}

// segSizes gives the size of a wire segment in each direction of the
// connections of one capture: the MSS the receiver announced in its SYN
// or SYN-ACK, less 12 bytes when the segment carries the TCP timestamp
// option. A direction whose handshake the capture missed gets what the
// lab's 1500-byte MTU lets one segment carry.
type segSizes map[[2]netip.AddrPort]int

func segSizesOf(frames []frame) segSizes {
	m := segSizes{}
	for i := range frames {
		f := &frames[i]
		if f.TCP && f.Flags&0x02 != 0 && f.MSS > 0 {
			m[[2]netip.AddrPort{f.Dst, f.Src}] = int(f.MSS) // what the SYN's receiver may send
		}
	}
	return m
}

func (m segSizes) of(f *frame) int {
	n, ok := m[[2]netip.AddrPort{f.Src, f.Dst}]
	if !ok {
		n = 1500 - 20 - 20
		if f.V6 {
			n -= 20
		}
	}
	if f.HasTS {
		n -= 12
	}
	return n
}

// hasSuperSegments reports whether frames holds a TCP frame longer than
// its direction's wire segment size (TSO/GSO or GRO at the capturing
// host).
func hasSuperSegments(frames []frame) bool {
	m := segSizesOf(frames)
	for i := range frames {
		if n := m.of(&frames[i]); frames[i].TCP && n > 0 && frames[i].PayLen > n {
			return true
		}
	}
	return false
}

// wireSegments returns frames with every TCP super-segment (a frame whose
// payload is longer than its direction's wire segment size, which TSO/GSO
// or GRO made at an endpoint with offloads on) replaced by the wire
// segments the router forwarded: segment-sized pieces with consecutive
// IPv4 IDs, the same ack and TSval, PSH and FIN on the last. Each piece
// keeps the frame's number and time and records its place in Pieces and
// Piece. Frames is returned as is when it holds none.
func wireSegments(frames []frame) []frame {
	if !hasSuperSegments(frames) {
		return frames
	}
	m := segSizesOf(frames)
	var out []frame
	for _, f := range frames {
		n := m.of(&f)
		if !f.TCP || f.PayLen <= n || n <= 0 {
			out = append(out, f)
			continue
		}
		f.Pieces = (f.PayLen + n - 1) / n
		for off, j := 0, 0; off < f.PayLen; off, j = off+n, j+1 {
			p := f
			p.Piece = j
			p.Seq = f.Seq + uint32(off)
			p.PayLen = min(n, f.PayLen-off)
			if !f.V6 {
				p.IPID = (f.IPID + uint32(j)) & 0xffff
			}
			if off+p.PayLen < f.PayLen {
				p.Flags &^= 0x08 | 0x01
			}
			out = append(out, p)
		}
	}
	return out
}
