//go:build !linux

package netlab

import "errors"

// NFQUEUE is Linux-only; elsewhere the impairer cannot start (and
// Available already refuses, as there are no network namespaces).

type nfQueue struct{}

func openNFQueue(num uint16, copyRange, maxLen uint32) (*nfQueue, error) {
	return nil, errors.New("nfqueue: Linux only")
}

func (q *nfQueue) Receive(stop func() bool, fn func(p nfqPacket)) error { return nil }
func (q *nfQueue) Verdict(id uint32, accept bool) error                 { return nil }
func (q *nfQueue) Close() error                                         { return nil }

func openRawIPv4() (int, error)          { return -1, errors.New("raw sockets: Linux only") }
func sendRawIPv4(fd int, b []byte) error { return errors.New("raw sockets: Linux only") }
func closeRaw(fd int)                    {}
