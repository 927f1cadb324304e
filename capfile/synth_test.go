package capfile

import (
	"encoding/binary"
	"testing"

	"github.com/netblame/netblame/decode"
)

// synthFrame returns frame i of a deterministic, realistic traffic mix:
// mostly bare TCP ACKs and full-size TCP segments, some SYNs, UDP and
// mid-size packets. The returned slice is reused across calls.
func synthFrame(buf []byte, i int) (data []byte, origLen int) {
	x := uint32(i)*2654435761 + 12345 // cheap deterministic hash
	var size int
	switch r := x % 100; {
	case r < 40:
		size = 66 // pure ACK with timestamps
	case r < 75:
		size = 1514 // full-size segment
	case r < 85:
		size = 74 // SYN / SYN-ACK
	case r < 95:
		size = 60 + int(x>>8)%400 // UDP, DNS-ish
	default:
		size = 590
	}
	b := buf[:size]
	// Ethernet II, IPv4, TCP headers.
	copy(b[0:], []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00})
	b[14] = 0x45
	binary.BigEndian.PutUint16(b[16:], uint16(size-14))
	b[22], b[23] = 64, 6
	binary.BigEndian.PutUint32(b[26:], 0x0a000001+x%7)
	binary.BigEndian.PutUint32(b[30:], 0x0a000101)
	binary.BigEndian.PutUint32(b[38:], uint32(i)*1448)
	// Payload: pseudo-random, like the TLS that most traffic carries
	// (and so not a toy for the compressors).
	rnd := uint64(i)*0x9e3779b97f4a7c15 | 1
	for j := 54; j < size; j++ {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		b[j] = byte(rnd)
	}
	return b, size
}

// writeSynth writes n synthetic packets, 10 µs apart, with the given
// snaplen into path (format and compression from its name).
func writeSynth(tb testing.TB, path string, n, snaplen int, opts ...Option) (bytes int64) {
	tb.Helper()
	w, err := Create(path, decode.LinkEthernet, snaplen, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 2048)
	ts := int64(1_700_000_000_123_456_789)
	for i := range n {
		data, orig := synthFrame(buf, i)
		if err := w.WritePacket(ts+int64(i)*10_000, data, orig); err != nil {
			tb.Fatal(err)
		}
		bytes += int64(min(len(data), snaplen))
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return bytes
}
