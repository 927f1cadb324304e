// Package fragtest cuts IPv4 datagrams into fragments, for tests that
// check what happens when the network fragments a capture's packets.
//
// It is for tests only; nothing in the product imports it.
package fragtest

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"

	"github.com/netblame/netblame/internal/ipsum"
)

// Fragment4 cuts the IPv4 datagram of an Ethernet frame (no VLAN tag, no
// IP options) into fragments at random multiples of 8 bytes, the transport
// header itself cut at times, with identification id; one time in three
// they come in random order. Other frames, and datagrams of 8 data bytes
// or fewer, are returned whole.
func Fragment4(frame []byte, id uint16, rng *rand.Rand) [][]byte {
	if len(frame) < 14+20 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14] != 0x45 {
		return [][]byte{frame}
	}
	ip := frame[14:]
	total := min(int(binary.BigEndian.Uint16(ip[2:])), len(ip))
	data := ip[20:total]
	if len(data) <= 8 {
		return [][]byte{frame}
	}
	var cuts []int
	for range 1 + rng.IntN(3) {
		cuts = append(cuts, 8*(1+rng.IntN((len(data)-1)/8)))
	}
	slices.Sort(cuts)
	cuts = append(slices.Compact(cuts), len(data))
	var frames [][]byte
	from := 0
	for _, to := range cuts {
		f := append(append([]byte(nil), frame[:14+20]...), data[from:to]...)
		h := f[14:34]
		binary.BigEndian.PutUint16(h[2:], uint16(20+to-from))
		binary.BigEndian.PutUint16(h[4:], id)
		ff := uint16(from / 8)
		if to < len(data) {
			ff |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(h[6:], ff) // DF cleared
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], ipsum.Checksum(0, h))
		frames = append(frames, f)
		from = to
	}
	if rng.IntN(3) == 0 {
		rng.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
	}
	return frames
}
