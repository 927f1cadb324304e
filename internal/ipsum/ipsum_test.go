package ipsum

import (
	"encoding/binary"
	"testing"
)

// The example of RFC 1071, section 3: the words 0001 f203 f4f5 f6f7 sum
// to ddf2 (carries folded), so the checksum is its complement.
func TestRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(0, b); got != ^uint16(0xddf2) {
		t.Fatalf("checksum %#04x, want %#04x", got, ^uint16(0xddf2))
	}
	// Summed in two parts (as a pseudo-header and a segment), the same.
	if got := Checksum(Add(0, b[:4]), b[4:]); got != ^uint16(0xddf2) {
		t.Fatalf("in two parts: %#04x", got)
	}
}

// A real IPv4 header (from a Linux host) with its checksum in place sums to
// zero, and Checksum recomputes the stored value.
func TestIPv4Header(t *testing.T) {
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
		0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if got := Checksum(0, h); got != 0 {
		t.Fatalf("a valid header checks to %#04x, want 0", got)
	}
	stored := binary.BigEndian.Uint16(h[10:])
	h[10], h[11] = 0, 0
	if got := Checksum(0, h); got != stored {
		t.Fatalf("checksum %#04x, want %#04x", got, stored)
	}
}

// An odd length pads the last byte with a zero.
func TestOddLength(t *testing.T) {
	if Checksum(0, []byte{0x12, 0x34, 0x56}) != Checksum(0, []byte{0x12, 0x34, 0x56, 0x00}) {
		t.Fatal("odd length not padded with a zero byte")
	}
}
