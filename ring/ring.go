package ring

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netblame/netblame/ring/xsk"
)

// Errors Next returns.
var (
	// ErrTimeout: no packet arrived within Config.PollTimeout. Call again.
	ErrTimeout = errors.New("ring: poll timeout")
	// ErrStopped: the capture was stopped and everything the kernel had
	// handed over before the stop has been read.
	ErrStopped = errors.New("ring: capture stopped")
)

// Ring is one worker's socket and memory-mapped TPACKET_V3 ring. Next must
// be called from one goroutine at a time; Stats may be called from any.
type Ring struct {
	id          int
	fd          int
	file        *os.File        // owns fd
	raw         syscall.RawConn // file's, to hold fd open while polling
	pollFn      func(uintptr)   // r.poll, bound once: a method value per wait would allocate
	pollMs      int             // poll's timeout
	pollErr     error           // poll's result
	pfd         [1]unix.PollFd  // poll's, here so that it does not escape per call
	waitStopped bool            // the stop was already seen when the wait began
	mem         []byte
	blkSize     int
	nBlocks     int
	snaplen     int
	ether       bool // frames start with an Ethernet header (VLAN tags can go back)
	keepTag     bool
	pollTimeout time.Duration // < 0: none
	drain       time.Duration // how long to wait for the open block after a stop
	stop        *stopper

	cur   int    // index of the block being read or awaited
	held  bool   // block cur belongs to user space
	left  uint32 // packets of block cur not yet returned
	off   int    // offset in mem of the next packet header
	end   int    // end of block cur in mem
	stopT time.Time

	// Packets and bytes returned by Next: counted plainly by the reading
	// goroutine, published for Stats at every block boundary and whenever
	// Next returns an error (so exact once a worker has stopped).
	nPkts, nBytes     uint64
	delivered, dBytes atomic.Uint64

	statsMu sync.Mutex
	kstats  KernelStats // accumulated: the kernel resets its counters on read

	// AF_XDP workers (Config.XDP) read x instead of the TPACKET_V3 ring.
	x       *xsk.Socket
	xp      xsk.Packet
	ifindex int
	xstats  xsk.Stats // the last counters read, kept for after Close
}

// ID is the worker number, 0 to Workers-1.
func (r *Ring) ID() int { return r.id }

// FD is the socket's file descriptor (for tests and diagnostics).
func (r *Ring) FD() int { return r.fd }

func (r *Ring) u32(off int) uint32 { return *(*uint32)(unsafe.Pointer(&r.mem[off])) }
func (r *Ring) u16(off int) uint16 { return *(*uint16)(unsafe.Pointer(&r.mem[off])) }

// blockStatus points at the status word the kernel and user space hand the
// block over with; it is accessed atomically on both sides.
func (r *Ring) blockStatus(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[b*r.blkSize+blkStatusOff]))
}

// Next fills p with the next packet. p.Data stays valid until the next call
// to Next; the block holding it is given back to the kernel then. Next does
// not allocate. It returns ErrTimeout after Config.PollTimeout without
// packets and ErrStopped once the capture is stopped and drained.
func (r *Ring) Next(p *Packet) error {
	if r.x != nil {
		return r.nextXDP(p)
	}
	for {
		if r.left > 0 {
			r.read(p)
			return nil
		}
		if r.held {
			r.publish()
			atomic.StoreUint32(r.blockStatus(r.cur), unix.TP_STATUS_KERNEL)
			r.held = false
			r.cur++
			if r.cur == r.nBlocks {
				r.cur = 0
			}
		}
		if r.stop.stopped() && r.drained() {
			r.publish()
			return ErrStopped
		}
		if r.ready() {
			base := r.cur * r.blkSize
			r.held = true
			r.left = r.u32(base + blkNumPktsOff)
			r.off = base + int(r.u32(base+blkFirstPktOff))
			r.end = base + r.blkSize
			continue
		}
		if err := r.wait(); err != nil {
			r.publish()
			return err
		}
	}
}

// drained reports, once the capture is stopped, whether the time allowed
// for reading what the kernel still hands over has passed. Checked at block
// boundaries too, so that a worker that never runs out of blocks stops.
func (r *Ring) drained() bool {
	if r.stopT.IsZero() {
		r.stopT = time.Now()
	}
	return time.Since(r.stopT) >= r.drain
}

// publish makes the packet counts visible to Stats.
func (r *Ring) publish() {
	r.delivered.Store(r.nPkts)
	r.dBytes.Store(r.nBytes)
}

// read decodes the packet header at r.off into p and moves to the next one.
func (r *Ring) read(p *Packet) {
	h := r.off
	r.left--
	if next := int(r.u32(h + hdrNextOff)); next > 0 {
		r.off += next
	} else {
		r.left = 0 // the kernel marks the last packet with 0
	}
	snap := int(r.u32(h + hdrSnaplenOff))
	mac := int(r.u16(h + hdrMacOff))
	status := r.u32(h + hdrStatusOff)
	start := h + mac
	stop := start + snap
	if stop > r.end || start > stop { // never from a sane kernel; keep the view inside the block
		start, stop = r.end, r.end
	}
	p.Timestamp = int64(r.u32(h+hdrSecOff))*1e9 + int64(r.u32(h+hdrNsecOff))
	p.OrigLen = int(r.u32(h + hdrLenOff))
	p.Ifindex = int(int32(r.u32(h + sllIfindexOff)))
	p.PktType = r.mem[h+sllPktTypeOff]
	p.HasVLAN = status&statusVLANValid != 0
	p.VLANTCI, p.VLANTPID = 0, 0
	if p.HasVLAN {
		p.VLANTCI = uint16(r.u32(h + hdrVLANTCIOff))
		p.VLANTPID = unix.ETH_P_8021Q
		if status&statusVLANTPIDValid != 0 {
			p.VLANTPID = r.u16(h + hdrVLANTPOff)
		}
		// Write the tag back in front of the EtherType: move the two MAC
		// addresses 4 bytes down into the headroom between sockaddr_ll and
		// the frame (the kernel leaves at least 14 bytes there).
		if r.ether && !r.keepTag && snap >= 12 && mac >= hdrLen+sllLen+4 {
			copy(r.mem[start-4:start+8], r.mem[start:start+12])
			start -= 4
			r.mem[start+12] = byte(p.VLANTPID >> 8)
			r.mem[start+13] = byte(p.VLANTPID)
			r.mem[start+14] = byte(p.VLANTCI >> 8)
			r.mem[start+15] = byte(p.VLANTCI)
			p.OrigLen += 4
			if stop-start > r.snaplen {
				stop = start + r.snaplen
			}
		}
	}
	p.Data = r.mem[start:stop:stop]
	r.nPkts++
	r.nBytes += uint64(stop - start)
}

// wait blocks until the kernel may have handed over a block, the poll
// timeout passes, or the capture is stopped and drained. It blocks its
// thread in poll(2) rather than parking the goroutine in Go's netpoller,
// which once took fewer context switches (and CPU) under load: a parked
// goroutine is woken only when some thread of the runtime next looks at
// the netpoller, which with every core busy (the load itself, softirqs)
// can be tens of milliseconds, long enough for the kernel to fill every
// block and drop (docs/BENCHMARKS.md, "Live capture"). The wait is cut
// into slices of pollSlice so that a stop is seen.
func (r *Ring) wait() error {
	stopped := r.stop.stopped()
	if stopped && r.stopT.IsZero() {
		r.stopT = time.Now()
	}
	var deadline time.Time
	switch {
	case stopped:
		// After a stop, wait for the kernel to retire the block it is
		// filling (at most BlockTimeout) so nothing captured is left behind.
		deadline = r.stopT.Add(r.drain)
		if !time.Now().Before(deadline) {
			return ErrStopped
		}
	case r.pollTimeout >= 0:
		deadline = time.Now().Add(r.pollTimeout)
	}
	r.waitStopped = stopped
	for !r.woken() {
		slice := pollSlice
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				if stopped || r.stop.stopped() {
					return nil // the next wait decides whether draining is over
				}
				return ErrTimeout
			}
			slice = min(slice, left)
		}
		r.pollMs = int((slice + time.Millisecond - 1) / time.Millisecond)
		// Control keeps the descriptor open (a Close waits) while poll
		// sleeps on its number.
		if err := r.raw.Control(r.pollFn); err != nil {
			return fmt.Errorf("ring: waiting for packets: %w", err)
		}
		if r.pollErr != nil && r.pollErr != unix.EINTR {
			return fmt.Errorf("ring: waiting for packets: %w", r.pollErr)
		}
	}
	return nil
}

// woken reports what ends a wait: a block to read, or a stop that came
// during it.
func (r *Ring) woken() bool { return r.ready() || (!r.waitStopped && r.stop.stopped()) }

// poll is one poll(2) of wait, for r.pollMs.
func (r *Ring) poll(fd uintptr) {
	r.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	_, r.pollErr = unix.Poll(r.pfd[:], r.pollMs)
}

// pollSlice is the longest one poll(2) of wait sleeps.
const pollSlice = 10 * time.Millisecond

// ready reports whether the block Next reads next belongs to user space.
func (r *Ring) ready() bool {
	return atomic.LoadUint32(r.blockStatus(r.cur))&unix.TP_STATUS_USER != 0
}

// stopper tells every worker of a Capture to stop: a flag, which a
// TPACKET_V3 ring's wait sees within pollSlice, and a wake-up for each
// AF_XDP socket.
type stopper struct {
	flag  atomic.Bool
	rings []*Ring
	xdp   *xdpState // detached before the AF_XDP workers are told
}

func (s *stopper) stopped() bool { return s.flag.Load() }

func (s *stopper) signal() {
	if s.flag.Swap(true) {
		return
	}
	if s.xdp != nil {
		s.xdp.detach()
	}
	for _, r := range s.rings {
		if r.x != nil {
			r.x.Stop()
		}
	}
}
