package decode_test

import (
	"encoding/binary"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
	"github.com/netblame/netblame/internal/sharedtest"
)

// fuzzLinks are the link types FuzzDecode picks from (by index, so the
// fuzzer spends its time inside decoders rather than on unknown types);
// the last index is an unknown type.
var fuzzLinks = []decode.LinkType{
	decode.LinkEthernet, decode.LinkLinuxSLL, decode.LinkLinuxSLL2, decode.LinkRaw,
	decode.LinkIPv4, decode.LinkIPv6, decode.LinkNull, decode.LinkLoop,
	decode.LinkRawDLT12, decode.LinkRawDLT14, 127,
}

func linkIndex(l decode.LinkType) uint8 {
	for i, x := range fuzzLinks {
		if x == l {
			return uint8(i)
		}
	}
	return uint8(len(fuzzLinks) - 1)
}

// seedFrames adds every packet of the shared captures (when present) and
// a few hand-built ones through add.
func seedFrames(f *testing.F, add func(link decode.LinkType, data []byte)) {
	nop := []byte{1}
	tcpWith := func(o []byte) []byte { h := baseTCP(); h.Opts = o; return h.Bytes(pl4) }
	padN := []byte{1, 4, 0, 0, 0, 0}
	for _, d := range [][]byte{
		pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith(pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(1, 0), nop, pkttest.OptWScale(7))))),
		pkttest.Ether(0x0800, baseIP4(6).Bytes(tcpWith(pkttest.Cat(nop, nop, pkttest.OptTS(1, 2), nop, nop, pkttest.OptSACK(1, 2, 3, 4)))), pkttest.Tag{TPID: 0x88a8, TCI: 1}, pkttest.Tag{TPID: 0x8100, TCI: 2}),
		pkttest.Ether(0x86dd, baseIP6(0).Bytes(pkttest.Ext6(43, padN, pkttest.Ext6(44, padN, pkttest.Frag6(51, 0, true, 9, pkttest.AH(6, 12, tcpWith(nil))))))),
		pkttest.Ether(0x86dd, pkttest.IPv6{Next: 0, PayloadLen: pkttest.NoLen}.Bytes(pkttest.Ext6(17, []byte{0xc2, 4, 0, 1, 0, 0}, pkttest.UDP{}.Bytes(pl4)))),
		pkttest.Ether(0x8847, pkttest.Cat(pkttest.BE32(0x1ff), baseIP4(1).Bytes([]byte{8, 0, 0, 0, 1, 2, 3, 4}))),
		pkttest.Ether(0x0800, pkttest.IPv4{Proto: 51, Opts: []byte{1, 1, 1, 0}}.Bytes(pkttest.AH(6, 4, tcpWith(nil)))),
	} {
		add(decode.LinkEthernet, d)
	}
	add(decode.LinkLinuxSLL, pkttest.SLL(4, 1, 0x8100, pkttest.Cat(pkttest.BE16(9), pkttest.BE16(0x86dd), v6TCP)))
	add(decode.LinkLinuxSLL2, pkttest.SLL2(0, 1, 0x0800, v4TCP))
	add(decode.LinkNull, pkttest.Null(2, binary.BigEndian, v4TCP))
	add(decode.LinkLoop, pkttest.Null(24, binary.BigEndian, v6TCP))
	add(decode.LinkRaw, v6TCP)
	if dir := sharedtest.PcapsIfPresent(); dir != "" {
		for _, fr := range allFrames(f, dir) {
			add(fr.Link, fr.Data)
		}
	}
}

// checkDecode decodes data twice, into a dirty and a zero Packet, and
// asserts the invariants and that both agree (Decode resets everything).
func checkDecode(t *testing.T, decodeInto func(*decode.Packet) error, data []byte) {
	var clean decode.Packet
	dirty := dirtyPacket()
	err1 := decodeInto(&clean)
	err2 := decodeInto(&dirty)
	if err1 != err2 {
		t.Fatalf("errors differ between runs: %v, %v", err1, err2)
	}
	if clean != dirty {
		t.Fatalf("decoding into a used Packet differs:\n%s", packetDiff(&dirty, &clean))
	}
	checkInvariants(t, &clean, data, err1)
}

// FuzzDecode decodes arbitrary bytes as each supported link type.
func FuzzDecode(f *testing.F) {
	seedFrames(f, func(link decode.LinkType, data []byte) { f.Add(linkIndex(link), data) })
	f.Fuzz(func(t *testing.T, li uint8, data []byte) {
		link := fuzzLinks[int(li)%len(fuzzLinks)]
		checkDecode(t, func(p *decode.Packet) error { return p.Decode(data, link) }, data)
		checkFastPath(t, data, link)
	})
}

// FuzzDecodeNetwork decodes arbitrary bytes from the network layer, as a
// live capture does for a SOCK_DGRAM socket, and as Ethernet with a
// kernel-stripped VLAN tag.
func FuzzDecodeNetwork(f *testing.F) {
	seedFrames(f, func(link decode.LinkType, data []byte) {
		if link == decode.LinkEthernet && len(data) > 14 {
			f.Add(binary.BigEndian.Uint16(data[12:]), uint16(0x2064), data[14:])
		}
	})
	f.Fuzz(func(t *testing.T, etherType, tci uint16, data []byte) {
		checkDecode(t, func(p *decode.Packet) error { return p.DecodeNetwork(data, etherType) }, data)
		frame := pkttest.Ether(etherType, data)
		checkDecode(t, func(p *decode.Packet) error { return p.DecodeWithVLAN(frame, decode.LinkEthernet, tci) }, frame)
	})
}

// FuzzDecodeTCP wraps arbitrary bytes as the TCP segment of an IPv4 and an
// IPv6 datagram with consistent lengths, so that the fuzzer works on the
// TCP header and option parser; claimed is an IP length to test against
// the capture (0: consistent).
func FuzzDecodeTCP(f *testing.F) {
	seedFrames(f, func(link decode.LinkType, data []byte) {
		var p decode.Packet
		if p.Decode(data, link) == nil && p.IsTCP() {
			f.Add(uint16(0), data[p.TransOffset:])
		}
	})
	f.Fuzz(func(t *testing.T, claimed uint16, seg []byte) {
		h4 := pkttest.IPv4{Proto: 6, TotalLen: int(claimed)}
		d4 := pkttest.Ether(0x0800, h4.Bytes(seg))
		checkDecode(t, func(p *decode.Packet) error { return p.Decode(d4, decode.LinkEthernet) }, d4)
		checkFastPath(t, d4, decode.LinkEthernet)
		h6 := pkttest.IPv6{Next: 6, PayloadLen: int(claimed)}
		d6 := pkttest.Ether(0x86dd, h6.Bytes(seg))
		checkDecode(t, func(p *decode.Packet) error { return p.Decode(d6, decode.LinkEthernet) }, d6)
		checkFastPath(t, d6, decode.LinkEthernet)
	})
}

// checkFastPath asserts that Decode, which takes a fast path for common
// Ethernet frames, agrees with the general decoder.
func checkFastPath(t *testing.T, data []byte, link decode.LinkType) {
	var fast, general decode.Packet
	errF := fast.Decode(data, link)
	errG := general.DecodeGeneral(data, link)
	if errF != errG {
		t.Fatalf("fast path error %v, general %v", errF, errG)
	}
	if fast != general {
		t.Fatalf("fast path and general decoder differ (fast != general):\n%s", packetDiff(&fast, &general))
	}
}

// TestFastPathAgrees runs checkFastPath over the benchmark mix, whose
// frames all take the fast path, and over every prefix of each frame, as a
// snaplen would cut it: the fast path takes those cut in the payload, the
// general path those cut in a header.
func TestFastPathAgrees(t *testing.T) {
	for _, data := range benchMix() {
		for n := len(data); n >= 0; n-- {
			checkFastPath(t, data[:n], decode.LinkEthernet)
		}
	}
}
