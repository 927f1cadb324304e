//go:build !linux

package netlab

import "errors"

// NFQUEUE is Linux-only; elsewhere the impairer cannot start (and
// Available already refuses, as there are no network namespaces).

type nfqPacket struct {
	ID      uint32
	InDev   uint32
	Payload []byte
}

type nfQueue struct{}

func openNFQueue(num uint16, copyRange, maxLen uint32) (*nfQueue, error) {
	return nil, errors.New("nfqueue: Linux only")
}

func (q *nfQueue) Receive(stop func() bool, fn func(p nfqPacket)) error { return nil }
func (q *nfQueue) Verdict(id uint32, accept bool) error                 { return nil }
func (q *nfQueue) Close() error                                         { return nil }
func attr(typ uint16, val []byte) []byte                                { return nil }
func parsePacketMsg(b []byte) (nfqPacket, bool)                         { return nfqPacket{}, false }

const (
	nfqaPacketHdr = 1
	nfqaIfIndexIn = 5
	nfqaPayload   = 10
)
