// Package dedup recognises capture duplicates: the second copy of a
// packet a capture recorded twice, microseconds apart, byte for byte the
// same, as a SPAN session mirroring both ingress and egress (or two
// mirrored ports on one path) records every packet. A host never sends
// such a copy itself: its retransmission comes a round trip later at the
// earliest and carries a new IPv4 ID.
package dedup

import (
	"encoding/binary"
	"time"

	"github.com/netblame/netblame/decode"
)

// DefaultWindow is how close two identical packets are, at most, to count
// as one packet recorded twice.
const DefaultWindow = time.Millisecond

// slots sizes the table of recent packets; a collision only forgets a
// packet, so thousands of packets a millisecond may let a duplicate pass.
const slots = 1 << 12

type recent struct {
	hash uint64
	ts   int64
}

// Detector remembers the packets of the last Window. The zero value is
// not usable; make one with New.
type Detector struct {
	window int64
	table  []recent
	// Dropped counts the duplicates found.
	Dropped uint64
}

// New returns a detector for copies at most window apart; a window of 0
// or less finds none.
func New(window time.Duration) *Detector {
	return &Detector{window: int64(window), table: make([]recent, slots)}
}

// Duplicate reports whether p, seen at ts (ns), is a copy of a packet seen
// at most the window before, and remembers it otherwise. Every field that
// tells two transmissions apart takes part: addresses, ports, IP ID,
// lengths, TCP seq, ack, flags, window, timestamp and the transport
// checksum (which covers the SACK blocks that tell successive duplicate
// ACKs apart). Only IP packets are compared. RSTs are never duplicates: a stack answers each segment
// arriving after an abort with the same RST, byte for byte.
func (d *Detector) Duplicate(ts int64, p *decode.Packet) bool {
	// Only IP packets have the fields that tell copies apart.
	if d.window <= 0 || p.IPVersion == 0 || p.IsTCP() && p.TCPFlags&decode.TCPRst != 0 {
		return false
	}
	h := hashAddr(p.SrcIP) ^ hashAddr(p.DstIP)*0x9e3779b97f4a7c15
	h ^= uint64(p.SrcPort)<<48 ^ uint64(p.DstPort)<<32 ^ uint64(p.IPID)
	h = mix(h ^ uint64(p.Seq)<<32 ^ uint64(p.Ack))
	h = mix(h ^ uint64(p.PayloadLen)<<48 ^ uint64(p.TCPFlags)<<32 ^ uint64(p.Window)<<16 ^ uint64(p.Checksum))
	h = mix(h ^ uint64(p.TSVal) ^ uint64(p.Proto)<<40)
	s := &d.table[h&(slots-1)]
	if s.hash == h && ts >= s.ts && ts-s.ts <= d.window {
		d.Dropped++
		return true
	}
	*s = recent{hash: h, ts: ts}
	return false
}

func hashAddr(a [16]byte) uint64 {
	return mix(binary.LittleEndian.Uint64(a[:8])) ^ binary.LittleEndian.Uint64(a[8:])
}

func mix(h uint64) uint64 {
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}
