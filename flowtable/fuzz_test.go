package flowtable

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/netblame/netblame/decode"
)

// FuzzUpdate feeds arbitrary segment sequences (8 bytes each: direction,
// flags, seq and ack deltas, length, window, time step) through a small
// table with short timeouts, through an Owner with the shortcuts and,
// alongside, through the full path (see steady_test.go): nothing may
// panic, the two must agree after every packet, and the counters must stay
// consistent.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 0, 10, 1, 1, 1, 18, 0, 1, 0, 10, 1, 1, 0, 16, 1, 1, 0, 10, 1, 1})
	f.Add([]byte{0, 16, 5, 0, 100, 0, 0, 0, 1, 16, 0, 5, 0, 0, 0, 9, 0, 4, 1, 1, 20, 1, 1, 1})
	f.Add([]byte{1, 1, 255, 255, 1, 0, 255, 255, 0, 17, 128, 0, 0, 255, 3, 0})
	// A handshake, then in-order data and ACKs (the steady path).
	f.Add([]byte{0, 2, 0, 0, 0, 10, 1, 1, 1, 18, 0, 1, 0, 10, 1, 1, 0, 16, 1, 1, 0, 10, 1, 1,
		0, 16, 0, 0, 100, 10, 1, 1, 0, 16, 1, 0, 100, 10, 1, 1, 1, 16, 0, 2, 0, 10, 1, 1, 0, 16, 1, 0, 100, 10, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := newLockstep(t, Config{Capacity: 8, Shards: 2})
		var seq, ack [2]uint32
		now := int64(1)
		for i := 0; i+8 <= len(data); i += 8 {
			b := data[i : i+8]
			d := int(b[0] & 1)
			port := 40000 + uint16(b[0]>>1&7) // up to 8 connections
			cli := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)
			srv := netip.MustParseAddrPort("10.0.0.2:80")
			seq[d] += uint32(int8(b[2])) * 97
			ack[d] += uint32(int8(b[3])) * 89
			g := seg{seq: seq[d], ack: ack[d], flags: decode.TCPFlags(b[1]), len: int(b[4]), win: binary.BigEndian.Uint16(b[5:7]), ws: int(b[7] & 15)}
			if b[7]&16 != 0 {
				g.hasTS, g.tsval, g.tsecr = true, seq[d], ack[d]
			}
			src, dst := cli, srv
			if d == 1 {
				src, dst = srv, cli
			}
			p := tcpPacket(src, dst, g)
			now += int64(b[7]>>5) * 7e9 // up to 49 s: timeouts fire
			l.update("fuzz", &p, now, uint64(i/8+1))
		}
		st := l.fast.Stats()
		if st.Created != st.Live+st.Expired+st.Evicted+st.PortReuse || l.ended != st.Expired+st.Evicted+st.PortReuse {
			t.Fatalf("counters inconsistent: %+v, handed out %d", st, l.ended)
		}
		l.finish("fuzz")
		if st2 := l.fast.Stats(); st2.Live != 0 || l.ended != st2.Created {
			t.Fatalf("after flush: %+v, handed out %d", st2, l.ended)
		}
	})
}
