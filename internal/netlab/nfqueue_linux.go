package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A minimal nfnetlink_queue client: enough to bind one queue, receive
// packet copies and send verdicts. The pure-Go libraries for this were not
// available from the module proxy, and the protocol subset we need is small.
//
// Wire format: every message is a netlink header (16 bytes, host order),
// an nfgenmsg (family, version, queue number in network order) and a list
// of attributes (length, type, value padded to 4 bytes). Values inside the
// queue attributes are in network byte order.

const (
	nfqMsgPacket  = 0 // kernel -> us: a queued packet
	nfqMsgVerdict = 1 // us -> kernel: verdict for one packet id
	nfqMsgConfig  = 2 // us -> kernel: bind / parameters

	nfqCfgCmd    = 1 // struct nfqnl_msg_config_cmd
	nfqCfgParams = 2 // struct nfqnl_msg_config_params
	nfqCfgMaxLen = 3 // be32 queue length

	nfqCmdBind   = 1
	nfqCmdUnbind = 2

	nfqCopyPacket = 2

	nfqaPacketHdr  = 1 // struct nfqnl_msg_packet_hdr: be32 id, be16 proto, u8 hook
	nfqaVerdictHdr = 2 // struct nfqnl_msg_verdict_hdr: be32 verdict, be32 id
	nfqaIfIndexIn  = 5
	nfqaPayload    = 10

	nfDrop   = 0
	nfAccept = 1

	nlmsgHdrLen = 16
	nfgenHdrLen = 4
)

// nfqPacket is one packet handed to us by the kernel. Payload starts at the
// IP header and aliases the receive buffer: copy what must outlive the call.
type nfqPacket struct {
	ID      uint32
	InDev   uint32
	Payload []byte
}

// nfQueue is one bound queue on its own netlink socket.
type nfQueue struct {
	fd   int
	num  uint16
	rbuf []byte // used only by Receive

	mu   sync.Mutex // serialises senders (verdict goroutines, Close)
	seq  uint32
	wbuf []byte
}

// openNFQueue binds queue num, asking for the first copyRange bytes of
// every packet, and allows up to maxLen packets to wait for a verdict.
func openNFQueue(num uint16, copyRange uint32, maxLen uint32) (*nfQueue, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("nfqueue: netlink socket: %w", err)
	}
	q := &nfQueue{fd: fd, num: num, rbuf: make([]byte, 1<<16), wbuf: make([]byte, 0, 256)}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		q.Close()
		return nil, fmt.Errorf("nfqueue: bind: %w", err)
	}
	// Receive polls a stop condition between timeouts: closing a socket
	// does not wake a thread blocked reading it.
	tv := unix.Timeval{Usec: 50_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		q.Close()
		return nil, fmt.Errorf("nfqueue: receive timeout: %w", err)
	}
	// A large receive buffer: when it overflows the kernel drops the
	// packet ("user_dropped"), which would be loss nobody decided on.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)

	cmd := []byte{nfqCmdBind, 0, 0, 0} // command, pad, be16 pf (ignored by modern kernels)
	binary.BigEndian.PutUint16(cmd[2:], unix.AF_INET)
	if err := q.config(attr(nfqCfgCmd, cmd)); err != nil {
		q.Close()
		return nil, fmt.Errorf("nfqueue: bind queue %d: %w", num, err)
	}
	params := make([]byte, 5) // be32 copy_range, u8 copy_mode (packed)
	binary.BigEndian.PutUint32(params, copyRange)
	params[4] = nfqCopyPacket
	ml := make([]byte, 4)
	binary.BigEndian.PutUint32(ml, maxLen)
	if err := q.config(append(attr(nfqCfgParams, params), attr(nfqCfgMaxLen, ml)...)); err != nil {
		q.Close()
		return nil, fmt.Errorf("nfqueue: configure queue %d: %w", num, err)
	}
	return q, nil
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, val []byte) []byte {
	n := 4 + len(val)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(n))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], val)
	return b
}

// message builds a queue-subsystem netlink message around attrs.
func (q *nfQueue) message(msgType uint16, flags uint16, attrs []byte) []byte {
	q.seq++
	n := nlmsgHdrLen + nfgenHdrLen + len(attrs)
	b := q.wbuf[:0]
	b = binary.NativeEndian.AppendUint32(b, uint32(n))
	b = binary.NativeEndian.AppendUint16(b, unix.NFNL_SUBSYS_QUEUE<<8|msgType)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|flags)
	b = binary.NativeEndian.AppendUint32(b, q.seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, unix.AF_UNSPEC, 0) // family, NFNETLINK_V0
	b = binary.BigEndian.AppendUint16(b, q.num)
	b = append(b, attrs...)
	q.wbuf = b
	return b
}

// config sends a config message and waits for the kernel's acknowledgement.
// It runs before any other goroutine uses q.
func (q *nfQueue) config(attrs []byte) error {
	msg := q.message(nfqMsgConfig, unix.NLM_F_ACK, attrs)
	seq := q.seq
	if err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(q.fd, q.rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				return errors.New("no reply from the kernel")
			}
			return err
		}
		for b := q.rbuf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				return errors.New("malformed netlink reply")
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			if typ == unix.NLMSG_ERROR && mseq == seq && l >= nlmsgHdrLen+4 {
				if code := int32(binary.NativeEndian.Uint32(b[16:])); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
			b = b[(l+3)&^3:]
		}
	}
}

// Receive calls fn for every queued packet until stop reports true while
// the socket is idle (no packet for one 50 ms receive timeout), so that
// packets already queued when stopping still get their verdict.
func (q *nfQueue) Receive(stop func() bool, fn func(p nfqPacket)) error {
	for {
		n, _, err := unix.Recvfrom(q.fd, q.rbuf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.EAGAIN) {
				if stop() {
					return nil
				}
				continue
			}
			return fmt.Errorf("nfqueue: receive: %w", err)
		}
		for b := q.rbuf[:n]; len(b) >= nlmsgHdrLen; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				return errors.New("nfqueue: malformed netlink message")
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			if typ == unix.NFNL_SUBSYS_QUEUE<<8|nfqMsgPacket && l >= nlmsgHdrLen+nfgenHdrLen {
				if p, ok := parsePacketMsg(b[nlmsgHdrLen+nfgenHdrLen : l]); ok {
					fn(p)
				}
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}

// parsePacketMsg walks the attributes of one packet message.
func parsePacketMsg(b []byte) (nfqPacket, bool) {
	var p nfqPacket
	haveID := false
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // strip NESTED/BYTEORDER bits
		if l < 4 || l > len(b) {
			break
		}
		v := b[4:l]
		switch typ {
		case nfqaPacketHdr:
			if len(v) >= 4 {
				p.ID = binary.BigEndian.Uint32(v)
				haveID = true
			}
		case nfqaIfIndexIn:
			if len(v) >= 4 {
				p.InDev = binary.BigEndian.Uint32(v)
			}
		case nfqaPayload:
			p.Payload = v
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return p, haveID
}

// Verdict accepts or drops packet id.
func (q *nfQueue) Verdict(id uint32, accept bool) error {
	v := make([]byte, 8)
	if accept {
		binary.BigEndian.PutUint32(v, nfAccept)
	} else {
		binary.BigEndian.PutUint32(v, nfDrop)
	}
	binary.BigEndian.PutUint32(v[4:], id)
	q.mu.Lock()
	defer q.mu.Unlock()
	msg := q.message(nfqMsgVerdict, 0, attr(nfqaVerdictHdr, v))
	for {
		err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err
	}
}

// Close unbinds the queue and closes the socket; packets still waiting
// for a verdict are dropped by the kernel, so callers verdict them first.
func (q *nfQueue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fd < 0 {
		return nil
	}
	cmd := []byte{nfqCmdUnbind, 0, 0, 0}
	msg := q.message(nfqMsgConfig, 0, attr(nfqCfgCmd, cmd))
	_ = unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	err := unix.Close(q.fd)
	q.fd = -1
	return err
}
