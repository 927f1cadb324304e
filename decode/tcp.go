package decode

import "encoding/binary"

// TCP header (RFC 9293).
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12 // data offset in the high nibble, NS in bit 0
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
	tcpMinLen   = 20
)

// TCP option kinds and their fixed lengths.
const (
	tcpOptEOL      = 0
	tcpOptNOP      = 1
	tcpOptMSS      = 2
	tcpOptWScale   = 3
	tcpOptSACKPerm = 4
	tcpOptSACK     = 5
	tcpOptTS       = 8

	tcpOptMSSLen      = 4
	tcpOptWScaleLen   = 3
	tcpOptSACKPermLen = 2
	tcpOptTSLen       = 10
	tcpOptSACKBlock   = 8
	tcpOptHeader      = 2 // kind and length

	// The layout nearly every stack uses on established connections:
	// NOP, NOP, timestamps. Recognised as one 32-bit compare.
	tcpAlignedTS    = tcpOptNOP<<24 | tcpOptNOP<<16 | tcpOptTS<<8 | tcpOptTSLen
	tcpAlignedTSLen = 12
	// NOP, NOP, SACK kind (the length byte masked off), then >= 1 block.
	tcpAlignedSACK    = tcpOptNOP<<24 | tcpOptNOP<<16 | tcpOptSACK<<8
	tcpAlignedSACKMin = 4 + tcpOptSACKBlock
	// Linux SYN: MSS kind+len, (value), SACK-perm kind+len, TS kind+len,
	// (values), NOP, WS kind+len, (shift).
	tcpLinuxSYNLen  = 20
	tcpLinuxSYN     = tcpOptMSS<<56 | tcpOptMSSLen<<48 | tcpOptSACKPerm<<24 | tcpOptSACKPermLen<<16 | tcpOptTS<<8 | tcpOptTSLen
	tcpLinuxSYNMask = 0xffff0000ffffffff
	tcpLinuxSYNWS   = tcpOptNOP<<24 | tcpOptWScale<<16 | tcpOptWScaleLen<<8
)

// tcp decodes the TCP header at off; end is the end of the IP datagram.
//
// The fixed 20 bytes must be in the capture and in the datagram. When the
// capture (snaplen) ends inside the options, the fixed fields and every
// option wholly captured are decoded, TCPHeaderTruncated is set and the
// payload is empty (PayloadLen still says what was sent).
func (p *Packet) tcp(data []byte, off, end int) error {
	if err := p.transportFits(data, off, end, tcpMinLen, ErrShortTCP); err != nil {
		return err
	}
	b := data[off:]
	hlen := int(b[tcpDataOff]>>4) << 2
	if hlen < tcpMinLen || hlen > end-off {
		return ErrBadTCPOffset
	}
	h := b[:tcpMinLen:len(b)]
	p.Layer = LayerTransport
	p.SrcPort = binary.BigEndian.Uint16(h[tcpSrcPort:])
	p.DstPort = binary.BigEndian.Uint16(h[tcpDstPort:])
	p.Seq = binary.BigEndian.Uint32(h[tcpSeq:])
	p.Ack = binary.BigEndian.Uint32(h[tcpAck:])
	p.TCPFlags = TCPFlags(h[tcpFlags]) | TCPFlags(h[tcpDataOff]&1)<<8
	p.Window = binary.BigEndian.Uint16(h[tcpWindow:])
	p.Checksum = binary.BigEndian.Uint16(h[tcpChecksum:])
	p.Urgent = binary.BigEndian.Uint16(h[tcpUrgent:])
	p.TCPHeaderLen = uint8(hlen)
	if hlen > tcpMinLen {
		if hlen <= len(b) {
			o := b[tcpMinLen:hlen]
			if len(o) == tcpAlignedTSLen && binary.BigEndian.Uint32(o) == tcpAlignedTS {
				// Most segments of established connections: no call.
				p.TSVal = binary.BigEndian.Uint32(o[4:])
				p.TSEcr = binary.BigEndian.Uint32(o[8:])
				p.Flags |= HasTimestamps
			} else {
				p.tcpOptions(o, false)
			}
		} else {
			p.Flags |= TCPHeaderTruncated
			p.tcpOptions(b[tcpMinLen:], true)
		}
	}
	p.setPayload(data, off+hlen, end)
	return nil
}

// tcpOptions decodes an option list. cut says the capture ended inside
// the list, so an option running past its end is missing, not malformed.
func (p *Packet) tcpOptions(o []byte, cut bool) {
	// The layout most stacks send, recognised with a few compares before
	// the general loop: NOP, NOP, timestamps (RFC 7323 appendix A), often
	// followed by NOP, NOP, SACK. (Decode's fast path takes the aligned
	// timestamps alone, and Linux's SYN layout, before calling this.)
	if len(o) >= tcpAlignedTSLen && binary.BigEndian.Uint32(o) == tcpAlignedTS {
		p.TSVal = binary.BigEndian.Uint32(o[4:])
		p.TSEcr = binary.BigEndian.Uint32(o[8:])
		p.Flags |= HasTimestamps
		o = o[tcpAlignedTSLen:]
		if len(o) >= tcpAlignedSACKMin {
			// One load for the compare and the length (reading o[3] on
			// its own splits the load into four).
			if w := binary.BigEndian.Uint32(o); w&^0xff == tcpAlignedSACK && int(w&0xff) == len(o)-2 {
				p.sackOption(o[4:])
				return
			}
		}
	}
	for len(o) > 0 {
		kind := o[0]
		if kind == tcpOptNOP {
			o = o[1:]
			continue
		}
		if kind == tcpOptEOL {
			return
		}
		if len(o) < tcpOptHeader {
			p.optionOverrun(cut)
			return
		}
		l := int(o[1])
		if l < tcpOptHeader {
			p.Flags |= BadTCPOptions
			return
		}
		if l > len(o) {
			p.optionOverrun(cut)
			return
		}
		switch kind {
		case tcpOptMSS:
			if l != tcpOptMSSLen {
				p.Flags |= BadTCPOptions
				break
			}
			p.MSS = binary.BigEndian.Uint16(o[2:4])
			p.Flags |= HasMSS
		case tcpOptWScale:
			if l != tcpOptWScaleLen {
				p.Flags |= BadTCPOptions
				break
			}
			p.WScale = o[2]
			p.Flags |= HasWScale
		case tcpOptSACKPerm:
			if l != tcpOptSACKPermLen {
				p.Flags |= BadTCPOptions
				break
			}
			p.Flags |= HasSACKPerm
		case tcpOptSACK:
			p.sackOption(o[tcpOptHeader:l])
		case tcpOptTS:
			if l != tcpOptTSLen {
				p.Flags |= BadTCPOptions
				break
			}
			p.TSVal = binary.BigEndian.Uint32(o[2:6])
			p.TSEcr = binary.BigEndian.Uint32(o[6:10])
			p.Flags |= HasTimestamps
		}
		o = o[l:]
	}
}

// sackOption decodes the blocks of a SACK option, v being its value.
func (p *Packet) sackOption(v []byte) {
	n := len(v) / tcpOptSACKBlock
	// 40 bytes of option space hold at most 4 blocks; the bound on n
	// only keeps the loop within p.SACK.
	if len(v)%tcpOptSACKBlock != 0 || n == 0 || n > MaxSACKBlocks {
		p.Flags |= BadTCPOptions
		return
	}
	for i := range n {
		b := v[i*tcpOptSACKBlock : i*tcpOptSACKBlock+tcpOptSACKBlock]
		p.SACK[i] = SACKBlock{Left: binary.BigEndian.Uint32(b), Right: binary.BigEndian.Uint32(b[4:])}
	}
	p.SACKCount = uint8(n)
	p.Flags |= HasSACK
}

// optionOverrun handles an option whose length runs past the list.
func (p *Packet) optionOverrun(cut bool) {
	if !cut {
		p.Flags |= BadTCPOptions
	}
}
