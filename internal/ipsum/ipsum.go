// Package ipsum computes the Internet checksum (RFC 1071) of IPv4, TCP
// and UDP headers, for the code that builds packets: the traffic
// generator and the tests.
package ipsum

import "encoding/binary"

// Add adds b, as big-endian 16-bit words (an odd last byte padded with a
// zero), to the running sum acc: pseudo-header and segment can be added in
// turn before Checksum.
func Add(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

// Checksum returns the checksum of acc plus b: the one's complement of
// their one's-complement sum, ready to store in the header (whose checksum
// field must be zero while it is summed).
func Checksum(acc uint32, b []byte) uint16 {
	acc = Add(acc, b)
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}
