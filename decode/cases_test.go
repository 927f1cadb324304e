package decode_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/pkttest"
)

// decodeCase is one hand-built packet and the Packet Decode must produce,
// compared field by field (so a field set by mistake fails too).
type decodeCase struct {
	name string
	data []byte
	link decode.LinkType
	err  error
	want decode.Packet
}

// dirtyPacket has every field set, to check that Decode resets them.
func dirtyPacket() decode.Packet {
	var p decode.Packet
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(0xff)
		case reflect.Int:
			f.SetInt(12345)
		}
	}
	p.SrcIP, p.DstIP = pkttest.V6Src.As16(), pkttest.V4Dst.As16()
	p.SACK[3] = decode.SACKBlock{Left: 1, Right: 2}
	return p
}

func runCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := dirtyPacket()
			err := p.Decode(c.data, c.link)
			if err != c.err {
				t.Errorf("error %v, want %v", err, c.err)
			}
			if d := packetDiff(&p, &c.want); d != "" {
				t.Errorf("packet differs (got != want):\n%s", d)
			}
			checkInvariants(t, &p, c.data, err)
		})
	}
}

// packetDiff lists the fields where got and want differ.
func packetDiff(got, want *decode.Packet) string {
	var b strings.Builder
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
		if gf != wf {
			fmt.Fprintf(&b, "\t%s: %v != %v\n", g.Type().Field(i).Name, fmtField(gf), fmtField(wf))
		}
	}
	return b.String()
}

func fmtField(v any) string {
	if f, ok := v.(decode.Flags); ok {
		return fmt.Sprintf("%#x", uint32(f))
	}
	return fmt.Sprintf("%v", v)
}

// Default headers used by the cases; each case changes what it tests.
const (
	tSport = 40001
	tDport = 443
	tSeq   = 0x01020304
	tAck   = 0xa0b0c0d0
	tWin   = 0xfff0
	tCsum  = 0x1c2d
	tIPID  = 0x4321
)

func baseTCP() pkttest.TCP {
	return pkttest.TCP{Sport: tSport, Dport: tDport, Seq: tSeq, Ack: tAck, Flags: fACK | fPSH, Win: tWin, Csum: tCsum}
}

func baseIP4(proto uint8) pkttest.IPv4 {
	return pkttest.IPv4{Proto: proto, ID: tIPID, TTL: 61, TOS: 0x28}
}

func baseIP6(next uint8) pkttest.IPv6 {
	return pkttest.IPv6{Next: next, TC: 0xb8, Flow: 0xabcde, Hop: 57}
}

// wantEth is the expected link layer of an untagged Ethernet frame.
func wantEth(et decode.EtherType) decode.Packet {
	return decode.Packet{Layer: decode.LayerLink, Link: decode.LinkEthernet, EtherType: et}
}

// withIP4 adds what baseIP4 yields at offset off, for a datagram of
// total bytes of which the transport header starts at off+20.
func withIP4(p decode.Packet, off, total int, proto decode.IPProto) decode.Packet {
	p.Layer = decode.LayerNetwork
	p.IPVersion = 4
	p.SrcIP, p.DstIP = ip4Bytes(pkttest.V4Src), ip4Bytes(pkttest.V4Dst)
	p.TTL, p.TOS, p.IPID = 61, 0x28, tIPID
	p.Proto = proto
	p.NetOffset = off
	p.IPLen = total
	p.TransOffset = off + 20
	return p
}

// withIP6 adds what baseIP6 yields at offset off with the transport at
// transOff and payload length plen.
func withIP6(p decode.Packet, off, transOff, plen int, proto decode.IPProto) decode.Packet {
	p.Layer = decode.LayerNetwork
	p.IPVersion = 6
	p.SrcIP, p.DstIP = pkttest.V6Src.As16(), pkttest.V6Dst.As16()
	p.TTL, p.TOS, p.FlowLabel = 57, 0xb8, 0xabcde
	p.Proto = proto
	p.NetOffset = off
	p.IPLen = 40 + plen
	p.TransOffset = transOff
	return p
}

// withTCP adds baseTCP's fields for a header of hlen bytes at TransOffset
// and a payload of n bytes, all captured.
func withTCP(p decode.Packet, hlen, n int) decode.Packet {
	p.Layer = decode.LayerTransport
	p.SrcPort, p.DstPort = tSport, tDport
	p.Seq, p.Ack = tSeq, tAck
	p.TCPFlags = decode.TCPAck | decode.TCPPsh
	p.Window, p.Checksum = tWin, tCsum
	p.TCPHeaderLen = uint8(hlen)
	p.PayloadOffset = p.TransOffset + hlen
	p.PayloadLen, p.CapPayloadLen = n, n
	return p
}

// withPayload sets a payload of n bytes, all captured, at off.
func withPayload(p decode.Packet, off, n int) decode.Packet {
	p.PayloadOffset, p.PayloadLen, p.CapPayloadLen = off, n, n
	return p
}

// ip4Bytes is a as Packet.SrcIP holds an IPv4 address.
func ip4Bytes(a netip.Addr) (b [16]byte) {
	v4 := a.As4()
	copy(b[:], v4[:])
	return b
}
