package decode_test

import (
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
)

func TestDecodeTCP(t *testing.T) {
	eth := decode.LinkEthernet
	nop, eol := []byte{1}, []byte{0}
	frame := func(h pkttest.TCP, payload []byte) []byte {
		return pkttest.Ether(0x0800, baseIP4(6).Bytes(h.Bytes(payload)))
	}
	opts := func(o []byte) pkttest.TCP { h := baseTCP(); h.Opts = o; return h }
	// want: baseTCP with a header of hlen bytes and n payload bytes, then f.
	want := func(hlen, n int, f func(*decode.Packet)) decode.Packet {
		p := withTCP(withIP4(wantEth(0x0800), 14, 20+hlen+n, 6), hlen, n)
		if f != nil {
			f(&p)
		}
		return p
	}
	linuxSYN := pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(11, 0), nop, pkttest.OptWScale(7))
	synWant := func(p *decode.Packet) {
		p.MSS, p.WScale, p.TSVal = 1460, 7, 11
		p.Flags = decode.HasMSS | decode.HasSACKPerm | decode.HasTimestamps | decode.HasWScale
	}
	sack := func(n int) []byte {
		var e []uint32
		for i := range n {
			e = append(e, uint32(1000*i+100), uint32(1000*i+200))
		}
		return pkttest.OptSACK(e...)
	}
	sackWant := func(n int) func(p *decode.Packet) {
		return func(p *decode.Packet) {
			for i := range n {
				p.SACK[i] = decode.SACKBlock{Left: uint32(1000*i + 100), Right: uint32(1000*i + 200)}
			}
			p.SACKCount = uint8(n)
			p.Flags |= decode.HasSACK
		}
	}
	all := baseTCP()
	all.Flags = fFIN | fSYN | fRST | fPSH | fACK | fURG | 0x40 | 0x80 | fNS
	all.Urg = 0x0102
	cut := frame(opts(pkttest.Pad4(pkttest.OptMSS(1400), pkttest.OptWScale(2), pkttest.OptTS(5, 6))), pl4)
	runCases(t, []decodeCase{
		{name: "fixed header", data: frame(baseTCP(), pl4), link: eth, want: want(20, 4, nil)},
		{name: "every flag and urgent", data: frame(all, nil), link: eth, want: want(20, 0, func(p *decode.Packet) {
			p.TCPFlags = decode.TCPFin | decode.TCPSyn | decode.TCPRst | decode.TCPPsh | decode.TCPAck |
				decode.TCPUrg | decode.TCPEce | decode.TCPCwr | decode.TCPNs
			p.Urgent = 0x0102
		})},
		{name: "Linux SYN options", data: frame(opts(linuxSYN), nil), link: eth, want: want(40, 0, synWant)},
		{name: "Linux SYN layout, wrong WS length", data: frame(opts(pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(11, 0), nop, []byte{3, 2, 7})), nil),
			link: eth, want: want(40, 0, func(p *decode.Packet) {
				p.MSS, p.TSVal = 1460, 11
				// The 2-byte WS option is malformed; the byte after it is EOL.
				p.Flags = decode.HasMSS | decode.HasSACKPerm | decode.HasTimestamps | decode.BadTCPOptions
			})},
		{name: "Windows SYN options", data: frame(opts(pkttest.Cat(pkttest.OptMSS(1460), nop, pkttest.OptWScale(8), nop, nop, pkttest.OptSACKPerm())), nil),
			link: eth, want: want(32, 0, func(p *decode.Packet) {
				p.MSS, p.WScale = 1460, 8
				p.Flags = decode.HasMSS | decode.HasSACKPerm | decode.HasWScale
			})},
		{name: "aligned timestamps", data: frame(opts(pkttest.Cat(nop, nop, pkttest.OptTS(0xfeedface, 0xcafebabe))), pl4), link: eth,
			want: want(32, 4, func(p *decode.Packet) {
				p.TSVal, p.TSEcr, p.Flags = 0xfeedface, 0xcafebabe, decode.HasTimestamps
			})},
		{name: "unaligned timestamps", data: frame(opts(pkttest.Pad4(pkttest.OptTS(1, 2))), pl4), link: eth,
			want: want(32, 4, func(p *decode.Packet) { p.TSVal, p.TSEcr, p.Flags = 1, 2, decode.HasTimestamps })},
		{name: "timestamps and SACK", data: frame(opts(pkttest.Cat(nop, nop, pkttest.OptTS(3, 4), nop, nop, sack(3))), nil), link: eth,
			want: want(12+4+24+20, 0, func(p *decode.Packet) {
				p.TSVal, p.TSEcr, p.Flags = 3, 4, decode.HasTimestamps
				sackWant(3)(p)
			})},
		{name: "timestamps, SACK, then an unknown option", data: frame(opts(pkttest.Cat(nop, nop, pkttest.OptTS(3, 4), nop, nop, sack(1), []byte{30, 4, 0, 0})), nil),
			link: eth, want: want(12+12+4+20, 0, func(p *decode.Packet) {
				p.TSVal, p.TSEcr, p.Flags = 3, 4, decode.HasTimestamps
				sackWant(1)(p)
			})},
		{name: "SACK 1 block", data: frame(opts(pkttest.Cat(nop, nop, sack(1))), nil), link: eth, want: want(32, 0, sackWant(1))},
		{name: "SACK 2 blocks", data: frame(opts(pkttest.Cat(nop, nop, sack(2))), nil), link: eth, want: want(40, 0, sackWant(2))},
		{name: "SACK 4 blocks", data: frame(opts(pkttest.Cat(nop, nop, sack(4))), nil), link: eth, want: want(56, 0, sackWant(4))},
		{name: "SACK without blocks is malformed", data: frame(opts(pkttest.Pad4(pkttest.OptMSS(536), []byte{5, 2}, pkttest.OptWScale(1))), nil), link: eth,
			want: want(32, 0, func(p *decode.Packet) {
				p.MSS, p.WScale = 536, 1
				p.Flags = decode.HasMSS | decode.HasWScale | decode.BadTCPOptions
			})},
		{name: "SACK length not 2+8n", data: frame(opts(pkttest.Pad4([]byte{5, 9, 0, 0, 0, 1, 0, 0, 0}, pkttest.OptMSS(536))), nil), link: eth,
			want: want(36, 0, func(p *decode.Packet) { p.MSS, p.Flags = 536, decode.HasMSS|decode.BadTCPOptions })},
		{name: "unknown options skipped by length", data: frame(opts(pkttest.Pad4([]byte{34, 2}, []byte{30, 6, 1, 2, 3, 4}, pkttest.OptMSS(9000))), nil),
			link: eth, want: want(32, 0, func(p *decode.Packet) { p.MSS, p.Flags = 9000, decode.HasMSS })},
		{name: "EOL ends the list", data: frame(opts(pkttest.Cat(pkttest.OptMSS(1200), eol, []byte{3, 3, 9})), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.MSS, p.Flags = 1200, decode.HasMSS })},
		{name: "option length 0", data: frame(opts(pkttest.Cat(pkttest.OptMSS(1200), []byte{3, 0, 9, 0})), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.MSS, p.Flags = 1200, decode.HasMSS|decode.BadTCPOptions })},
		{name: "option length 1", data: frame(opts(pkttest.Cat(pkttest.OptMSS(1200), []byte{30, 1, 9, 0})), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.MSS, p.Flags = 1200, decode.HasMSS|decode.BadTCPOptions })},
		{name: "option past the header", data: frame(opts(pkttest.Cat(pkttest.OptWScale(4), nop, nop, []byte{2, 4, 1})), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.WScale, p.Flags = 4, decode.HasWScale|decode.BadTCPOptions })},
		{name: "kind without length byte at the end", data: frame(opts(pkttest.Cat(pkttest.OptWScale(4), []byte{30})), nil), link: eth,
			want: want(24, 0, func(p *decode.Packet) { p.WScale, p.Flags = 4, decode.HasWScale|decode.BadTCPOptions })},
		{name: "MSS wrong length, later options kept", data: frame(opts(pkttest.Pad4([]byte{2, 3, 5}, pkttest.OptWScale(6))), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.WScale, p.Flags = 6, decode.HasWScale|decode.BadTCPOptions })},
		{name: "SACK-permitted wrong length", data: frame(opts([]byte{4, 4, 0, 0}), nil), link: eth,
			want: want(24, 0, func(p *decode.Packet) { p.Flags = decode.BadTCPOptions })},
		{name: "timestamps wrong length", data: frame(opts(pkttest.Pad4([]byte{8, 6, 0, 0, 0, 1})), nil), link: eth,
			want: want(28, 0, func(p *decode.Packet) { p.Flags = decode.BadTCPOptions })},
		{name: "data offset 4", data: frame(pkttest.TCP{DataOff: 4}, nil), link: eth, err: decode.ErrBadTCPOffset,
			want: withIP4(wantEth(0x0800), 14, 40, 6)},
		{name: "data offset past the datagram", data: frame(pkttest.TCP{DataOff: 7}, make([]byte, 4)), link: eth,
			err: decode.ErrBadTCPOffset, want: withIP4(wantEth(0x0800), 14, 44, 6)},
		{name: "header cut before 20 bytes", data: frame(baseTCP(), nil)[:14+20+19], link: eth, err: decode.ErrShortTCP,
			want: func() decode.Packet {
				p := withIP4(wantEth(0x0800), 14, 40, 6)
				p.Flags = decode.Truncated
				return p
			}()},
		{name: "datagram too short for TCP", data: pkttest.Ether(0x0800, pkttest.IPv4{Proto: 6, ID: tIPID, TTL: 61, TOS: 0x28, TotalLen: 30}.Bytes(baseTCP().Bytes(nil))),
			link: eth, err: decode.ErrShortTCP, want: func() decode.Packet {
				p := withIP4(wantEth(0x0800), 14, 30, 6)
				p.Flags = decode.ShortIPLength
				return p
			}()},
		{name: "options cut by the snaplen", data: cut[:14+20+20+9], link: eth, want: want(40, 4, func(p *decode.Packet) {
			// MSS and WS are whole; the timestamps option is cut.
			p.MSS, p.WScale = 1400, 2
			p.Flags = decode.Truncated | decode.TCPHeaderTruncated | decode.HasMSS | decode.HasWScale
			p.PayloadOffset, p.CapPayloadLen = 14+20+20+9, 0
		})},
		{name: "options cut inside an option's kind/length", data: cut[:14+20+20+8], link: eth, want: want(40, 4, func(p *decode.Packet) {
			p.MSS, p.WScale = 1400, 2
			p.Flags = decode.Truncated | decode.TCPHeaderTruncated | decode.HasMSS | decode.HasWScale
			p.PayloadOffset, p.CapPayloadLen = 14+20+20+8, 0
		})},
		{name: "payload cut", data: frame(baseTCP(), make([]byte, 1000))[:100], link: eth, want: want(20, 1000, func(p *decode.Packet) {
			p.Flags, p.CapPayloadLen = decode.Truncated, 100-54
		})},
	})
}

func TestDecodeUDPAndICMP(t *testing.T) {
	eth := decode.LinkEthernet
	frame := func(h pkttest.IPv4, l4 []byte) []byte { return pkttest.Ether(0x0800, h.Bytes(l4)) }
	with := func(p decode.Packet, f func(*decode.Packet)) decode.Packet { f(&p); return p }
	udp := func(total, payload, capPayload int, udpLen uint16) decode.Packet {
		p := withIP4(wantEth(0x0800), 14, total, 17)
		p.Layer = decode.LayerTransport
		p.SrcPort, p.DstPort, p.UDPLen, p.Checksum = 5353, 53, udpLen, 0xabcd
		p.PayloadOffset, p.PayloadLen, p.CapPayloadLen = 42, payload, capPayload
		return p
	}
	u := pkttest.UDP{Sport: 5353, Dport: 53, Csum: 0xabcd}
	uBad := u
	uBad.Len = 3000
	uZero := u
	uZero.Len = pkttest.NoLen
	icmp := func(total int, typ, code uint8) decode.Packet {
		p := withIP4(wantEth(0x0800), 14, total, 1)
		p.Layer = decode.LayerTransport
		p.ICMPType, p.ICMPCode, p.Checksum = typ, code, 0xf00d
		p.PayloadOffset, p.PayloadLen, p.CapPayloadLen = 38, total-24, total-24
		return p
	}
	echo := pkttest.Cat([]byte{8, 0, 0xf0, 0x0d}, pkttest.BE16(1), pkttest.BE16(2), pl4)
	unreach := pkttest.Cat([]byte{3, 4, 0xf0, 0x0d}, pkttest.BE32(1500), baseIP4(6).Bytes(baseTCP().Bytes(nil))[:28])
	runCases(t, []decodeCase{
		{name: "UDP", data: frame(baseIP4(17), u.Bytes(pl4)), link: eth, want: udp(32, 4, 4, 12)},
		{name: "UDP empty", data: frame(baseIP4(17), u.Bytes(nil)), link: eth, want: udp(28, 0, 0, 8)},
		{name: "UDP length disagrees: IP length wins", data: frame(baseIP4(17), uBad.Bytes(pl4)), link: eth,
			want: udp(32, 4, 4, 3000)},
		{name: "UDP length 0", data: frame(baseIP4(17), uZero.Bytes(pl4)), link: eth, want: udp(32, 4, 4, 0)},
		{name: "UDP payload cut", data: frame(baseIP4(17), u.Bytes(make([]byte, 100)))[:50], link: eth,
			want: with(udp(128, 100, 8, 108), func(p *decode.Packet) { p.Flags = decode.Truncated })},
		{name: "UDP header cut", data: frame(baseIP4(17), u.Bytes(nil))[:14+20+7], link: eth, err: decode.ErrShortUDP,
			want: with(withIP4(wantEth(0x0800), 14, 28, 17), func(p *decode.Packet) { p.Flags = decode.Truncated })},
		{name: "datagram too short for UDP", data: frame(pkttest.IPv4{Proto: 17, ID: tIPID, TTL: 61, TOS: 0x28, TotalLen: 27}, u.Bytes(nil)),
			link: eth, err: decode.ErrShortUDP,
			want: with(withIP4(wantEth(0x0800), 14, 27, 17), func(p *decode.Packet) { p.Flags = decode.ShortIPLength })},
		{name: "ICMP echo", data: frame(baseIP4(1), echo), link: eth, want: icmp(20+len(echo), 8, 0)},
		{name: "ICMP unreachable quoting TCP is not TCP", data: frame(baseIP4(1), unreach), link: eth,
			want: icmp(20+len(unreach), 3, 4)},
		{name: "ICMP cut", data: frame(baseIP4(1), echo)[:14+20+3], link: eth, err: decode.ErrShortICMP,
			want: with(withIP4(wantEth(0x0800), 14, 20+len(echo), 1), func(p *decode.Packet) { p.Flags = decode.Truncated })},
	})
}
