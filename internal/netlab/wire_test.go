package netlab

import (
	"net/netip"
	"testing"
)

func TestTCPOptions(t *testing.T) {
	// MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
	opts := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 42, 0, 0, 0, 0, 1, 3, 3, 7}
	ts, has, mss := tcpOptions(opts)
	if ts != 42 || !has || mss != 1460 {
		t.Errorf("tcpOptions = %d %v %d, want 42 true 1460", ts, has, mss)
	}
	if ts, has, mss := tcpOptions([]byte{1, 1, 0}); ts != 0 || has || mss != 0 {
		t.Errorf("no options: %d %v %d", ts, has, mss)
	}
}

func TestWireSegments(t *testing.T) {
	c := netip.MustParseAddrPort("10.0.0.1:40000")
	s := netip.MustParseAddrPort("10.0.1.1:5001")
	frames := []frame{
		{Num: 1, TCP: true, Src: c, Dst: s, Flags: 0x02, MSS: 1000, HasTS: true},
		{Num: 2, TCP: true, Src: s, Dst: c, Flags: 0x12, MSS: 1460, HasTS: true},
		// Server to client: the client announced 1000, 988 with timestamps.
		{Num: 3, TCP: true, Src: s, Dst: c, Seq: 100, Ack: 7, Flags: 0x19, IPID: 0xffff, PayLen: 2500, HasTS: true, TSVal: 9},
		{Num: 4, TCP: true, Src: c, Dst: s, Seq: 7, Flags: 0x10, PayLen: 1448, HasTS: true},
	}
	if !hasSuperSegments(frames) {
		t.Fatal("no super-segment found")
	}
	w := wireSegments(frames)
	if len(w) != 6 {
		t.Fatalf("%d frames, want 6", len(w))
	}
	want := []struct {
		seq    uint32
		len    int
		ipid   uint32
		flags  uint16
		pieces int
		piece  int
	}{{100, 988, 0xffff, 0x10, 3, 0}, {1088, 988, 0, 0x10, 3, 1}, {2076, 524, 1, 0x19, 3, 2}}
	for i, x := range want {
		g := w[2+i]
		if g.Seq != x.seq || g.PayLen != x.len || g.IPID != x.ipid || g.Flags != x.flags || g.Num != 3 ||
			g.Ack != 7 || g.TSVal != 9 || g.Pieces != x.pieces || g.Piece != x.piece {
			t.Errorf("piece %d: %+v", i, g)
		}
	}
	if w[5].Num != 4 || w[5].Pieces != 0 {
		t.Errorf("a wire-sized segment was cut: %+v", w[5])
	}
	// Without the handshake, the 1500-byte MTU: 1448 with timestamps.
	if w := wireSegments(frames[3:]); len(w) != 1 || w[0].Pieces != 0 {
		t.Errorf("1448-byte segment cut without a handshake: %+v", w)
	}
	if w := wireSegments(frames[2:3]); len(w) != 2 || w[0].PayLen != 1448 || w[1].PayLen != 1052 {
		t.Errorf("without a handshake: %+v", w)
	}
}
