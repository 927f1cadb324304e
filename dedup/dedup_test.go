package dedup

import (
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
)

func packet() decode.Packet {
	p := decode.Packet{Layer: decode.LayerTransport, Proto: decode.ProtoTCP, IPVersion: 4, IPID: 7,
		SrcPort: 40000, DstPort: 80, TCPFlags: decode.TCPAck, Seq: 1000, Ack: 2000, PayloadLen: 100, Checksum: 0x1234}
	p.SetAddrs(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"))
	return p
}

// TestDuplicate: the same packet within the window is a duplicate; after
// it, or with any identifying field changed, or as an RST, it is not.
func TestDuplicate(t *testing.T) {
	d := New(DefaultWindow)
	p := packet()
	if d.Duplicate(0, &p) || !d.Duplicate(20e3, &p) {
		t.Fatal("a copy 20 µs later is not a duplicate")
	}
	if d.Duplicate(2e6, &p) {
		t.Error("a copy 2 ms later counted as a duplicate")
	}
	for name, change := range map[string]func(*decode.Packet){
		"ip id":    func(q *decode.Packet) { q.IPID++ },
		"checksum": func(q *decode.Packet) { q.Checksum++ },
		"ack":      func(q *decode.Packet) { q.Ack++ },
		"port":     func(q *decode.Packet) { q.SrcPort++ },
		"address":  func(q *decode.Packet) { q.SetAddrs(netip.MustParseAddr("10.0.0.3"), q.Dst()) },
	} {
		q := packet()
		change(&q)
		if d.Duplicate(2e6+10e3, &q) {
			t.Errorf("a packet with another %s counted as a duplicate", name)
		}
	}
	rst := packet()
	rst.TCPFlags = decode.TCPRst
	if d.Duplicate(3e6, &rst) || d.Duplicate(3e6+1e3, &rst) {
		t.Error("an identical RST counted as a duplicate")
	}
	if d.Dropped != 1 {
		t.Errorf("Dropped %d, want 1", d.Dropped)
	}
	if New(0).Duplicate(0, &p) || New(0).Duplicate(0, &p) {
		t.Error("a zero window found a duplicate")
	}
}

func TestDuplicateAllocs(t *testing.T) {
	d := New(DefaultWindow)
	p := packet()
	var ts int64
	if n := testing.AllocsPerRun(1000, func() { ts += 10e3; p.Seq += 100; d.Duplicate(ts, &p) }); n != 0 {
		t.Errorf("Duplicate allocates %.1f times a packet", n)
	}
}

func BenchmarkDuplicate(b *testing.B) {
	d := New(DefaultWindow)
	p := packet()
	b.ReportAllocs()
	for i := range b.N {
		p.Seq += 100
		d.Duplicate(int64(i)*1000, &p)
	}
}
