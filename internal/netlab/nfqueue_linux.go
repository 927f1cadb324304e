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

// openRawIPv4 opens a raw socket that sends whole IPv4 packets, header
// included, as they are given.
func openRawIPv4() (int, error) {
	return unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
}

// sendRawIPv4 sends pkt, an IPv4 packet, to its destination address.
func sendRawIPv4(fd int, pkt []byte) error {
	if len(pkt) < 20 {
		return errors.New("short IPv4 packet")
	}
	return unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: [4]byte(pkt[16:20])})
}

func closeRaw(fd int) { unix.Close(fd) }
