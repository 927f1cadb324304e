package netlab

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame with a timestamp option and
// n payload bytes, of which only keep bytes are present (a snaplen cut).
func tcpFrame(n, keep int) []byte {
	b := make([]byte, 14+20+32+n)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+32+n))
	binary.BigEndian.PutUint16(ip[4:], 4242)
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp, 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1000)
	binary.BigEndian.PutUint32(tcp[8:], 2000)
	tcp[12], tcp[13] = 8<<4, 0x18
	binary.BigEndian.PutUint16(tcp[14:], 0)
	copy(tcp[20:], []byte{1, 1, 8, 10, 0, 0, 0x30, 0x39, 0, 0, 0, 0})
	return b[:min(len(b), 14+20+32+keep)]
}

func TestParseEthernetTCP(t *testing.T) {
	f := frame{Data: tcpFrame(1448, 30)} // cut 30 bytes into the payload
	parseEthernetTCP(&f)
	want := frame{TCP: true, Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.0.0.2:5201"),
		IPID: 4242, Seq: 1000, Ack: 2000, Flags: 0x18, PayLen: 1448, TSVal: 12345, HasTS: true}
	f.Data = nil
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v\nwant %+v", f, want)
	}
	if flagNames(0x18) != "PA" || flagNames(0x12) != "SA" || flagNames(0x14) != "RA" {
		t.Errorf("flag names %q %q %q", flagNames(0x18), flagNames(0x12), flagNames(0x14))
	}
	// Headers cut short: not TCP, no panic.
	for n := 0; n < 14+20+32; n++ {
		g := frame{Data: tcpFrame(0, 0)[:n]}
		parseEthernetTCP(&g)
		if g.TCP && n < 14+20+20 {
			t.Errorf("%d bytes parsed as TCP", n)
		}
	}
}

func FuzzParseEthernetTCP(f *testing.F) {
	f.Add(tcpFrame(100, 100))
	f.Add(tcpFrame(1448, 10))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := frame{Data: b}
		parseEthernetTCP(&fr)
		if fr.TCP && fr.PayLen < 0 {
			t.Fatalf("negative payload length %d", fr.PayLen)
		}
		var g frame
		parseIPTCP(&g, b, nil)
	})
}

// TestNFQueueMessages round-trips a packet message through the attribute
// encoder and parser the queue client uses.
func TestNFQueueMessages(t *testing.T) {
	hdr := make([]byte, 7)
	binary.BigEndian.PutUint32(hdr, 77)
	in := make([]byte, 4)
	binary.BigEndian.PutUint32(in, 3)
	payload := tcpFrame(10, 10)[14:]
	msg := append(append(attr(nfqaPacketHdr, hdr), attr(nfqaIfIndexIn, in)...), attr(nfqaPayload|0x4000, payload)...)
	p, ok := parsePacketMsg(msg)
	if !ok || p.ID != 77 || p.InDev != 3 || string(p.Payload) != string(payload) {
		t.Fatalf("parsed %+v ok=%v", p, ok)
	}
	if _, ok := parsePacketMsg(attr(nfqaPayload, payload)); ok {
		t.Error("a message without a packet header was accepted")
	}
}

func FuzzParsePacketMsg(f *testing.F) {
	hdr := make([]byte, 7)
	f.Add(append(attr(nfqaPacketHdr, hdr), attr(nfqaPayload, tcpFrame(5, 5)[14:])...))
	f.Add([]byte{4, 0})
	f.Add([]byte{255, 255, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := parsePacketMsg(b)
		if !ok && p.ID != 0 {
			t.Fatal("id without header")
		}
	})
}
