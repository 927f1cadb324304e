package decode_test

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/internal/benchpeer"
	"github.com/netblame/netblame/internal/pkttest"
)

// TCP flag bytes for the builder.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
	fURG = 0x20
	fNS  = 0x100
)

// benchMix is a realistic mix of 64 distinct Ethernet frames: IPv4 and
// IPv6, TCP handshakes with MSS/SACK-permitted/timestamps/window scale,
// data segments with timestamps, ACKs with SACK blocks, UDP, and 802.1Q.
func benchMix() [][]byte {
	nop := []byte{1}
	payload := make([]byte, 512)
	dns := make([]byte, 40)
	var mix [][]byte
	for i := range 8 {
		sport := uint16(40000 + i)
		seq := uint32(1_000_000 + i*7919)
		ts := uint32(3_000_000 + i)
		synOpts := pkttest.Pad4(pkttest.OptMSS(1460), pkttest.OptSACKPerm(), pkttest.OptTS(ts, 0), nop, pkttest.OptWScale(7))
		tsOpts := pkttest.Cat(nop, nop, pkttest.OptTS(ts, ts-40))
		sackOpts := pkttest.Cat(nop, nop, pkttest.OptTS(ts, ts-40), nop, nop, pkttest.OptSACK(seq+2896, seq+4344, seq+5792, seq+7240))
		v4 := func(proto uint8, l4 []byte) []byte {
			return pkttest.IPv4{Proto: proto, ID: uint16(i), DF: true}.Bytes(l4)
		}
		v6 := func(next uint8, l4 []byte) []byte {
			return pkttest.IPv6{Next: next, Flow: uint32(i)}.Bytes(l4)
		}
		mix = append(mix,
			pkttest.Ether(0x0800, v4(6, pkttest.TCP{Sport: sport, Dport: 443, Seq: seq, Flags: fSYN, Win: 64240, Opts: synOpts}.Bytes(nil))),
			pkttest.Ether(0x0800, v4(6, pkttest.TCP{Sport: sport, Dport: 443, Seq: seq + 1, Ack: 77, Flags: fACK | fPSH, Win: 501, Opts: tsOpts}.Bytes(payload))),
			pkttest.Ether(0x0800, v4(6, pkttest.TCP{Sport: 443, Dport: sport, Seq: 77, Ack: seq + 1, Flags: fACK, Win: 501, Opts: sackOpts}.Bytes(nil))),
			pkttest.Ether(0x86dd, v6(6, pkttest.TCP{Sport: sport, Dport: 80, Seq: seq, Flags: fSYN, Win: 64800, Opts: synOpts}.Bytes(nil))),
			pkttest.Ether(0x86dd, v6(6, pkttest.TCP{Sport: sport, Dport: 80, Seq: seq + 1, Ack: 99, Flags: fACK, Win: 509, Opts: tsOpts}.Bytes(payload))),
			pkttest.Ether(0x0800, v4(17, pkttest.UDP{Sport: sport, Dport: 53}.Bytes(dns))),
			pkttest.Ether(0x86dd, v6(17, pkttest.UDP{Sport: sport, Dport: 53}.Bytes(dns))),
			pkttest.Ether(0x0800, v4(6, pkttest.TCP{Sport: sport, Dport: 8080, Seq: seq, Ack: 5, Flags: fACK, Win: 1000, Opts: tsOpts}.Bytes(payload)),
				pkttest.Tag{TPID: 0x8100, TCI: uint16(100 + i)}),
		)
	}
	return mix
}

// BenchmarkDecode decodes the same packet mix with netblame's decoder and
// with gopacket's two APIs; ns/op is per packet.
func BenchmarkDecode(b *testing.B) {
	mix := benchMix()
	const mask = 63
	if len(mix) != mask+1 {
		b.Fatalf("mix has %d packets", len(mix))
	}
	b.Run("netblame", func(b *testing.B) {
		var p decode.Packet
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := p.Decode(mix[i&mask], decode.LinkEthernet); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gopacket-dlp", func(b *testing.B) {
		g := benchpeer.NewGopacketParser()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := g.Decode(mix[i&mask]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gopacket-newpacket", func(b *testing.B) {
		opts := gopacket.DecodeOptions{Lazy: true, NoCopy: true}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			pkt := gopacket.NewPacket(mix[i&mask], layers.LayerTypeEthernet, opts)
			if pkt.TransportLayer() == nil { // lazy: this decodes through the transport
				b.Fatal("no transport layer")
			}
		}
	})
}
