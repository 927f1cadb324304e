// Package xsk is an AF_XDP receive socket: a UMEM (one mmap'd area cut
// into frames), its fill ring kept full, and an RX ring read in batches.
//
// An XDP program attached to the interface hands packets to the socket
// with bpf_redirect_map on an XSKMAP (package filter builds one); this
// package neither loads nor attaches programs, and only receives (no TX
// ring). Packet.Data is a view into the UMEM, valid until the next call to
// Next: a batch's frames go back to the fill ring when the batch is used
// up, at the call after the one that returned its last packet. Next does
// not allocate.
//
// Timestamps: AF_XDP RX descriptors carry none. When the XDP program put a
// receive time in the frame's metadata area (see MetaMagic), Next returns
// it; otherwise every packet of a batch gets the one clock read taken when
// the batch was found, so packets of a batch share a timestamp.
//
// It is for capture on Linux (kernel 5.4 or later, 5.18 for the filters
// package filter translates) and needs CAP_NET_RAW and CAP_NET_ADMIN (and
// CAP_BPF for the program).
package xsk

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Defaults.
const (
	DefaultFrames    = 4096 // UMEM frames, and the size of the fill and RX rings
	DefaultFrameSize = 2048 // bytes a frame, headroom included
	DefaultBatch     = 512  // descriptors taken from the RX ring at once
)

// Metadata the XDP program may write in front of a packet
// (bpf_xdp_adjust_meta): a little-endian u64 receive time in CLOCK_TAI
// nanoseconds, then the u32 MetaMagic. MetaLen is the length the program
// reserves.
const (
	MetaLen   = 16
	MetaMagic = 0x4e425453 // "NBTS"
)

// ErrNotSupported is wrapped by Open's error when the kernel has no
// AF_XDP sockets.
var ErrNotSupported = errors.New("AF_XDP not supported by this kernel")

// Config describes one socket.
type Config struct {
	Ifindex int // interface to bind to (required)
	Queue   int // its RX queue
	// Frames is the number of UMEM frames, and the size of the fill and
	// RX rings (a power of two; DefaultFrames).
	Frames int
	// FrameSize is the size of one frame, 2048 or 4096 (DefaultFrameSize).
	// The kernel keeps 256 bytes of it as headroom (XDP_PACKET_HEADROOM):
	// longer packets are dropped and counted in Stats.RxDropped.
	FrameSize int
	// Batch is the most descriptors taken from the RX ring at once
	// (DefaultBatch).
	Batch int
	// Snaplen cuts Data (0: whole frames).
	Snaplen int
	// ZeroCopy asks for zero-copy mode (XDP_ZEROCOPY), which fails where
	// the driver lacks it; by default the kernel picks, copying when the
	// driver cannot do otherwise (veth always copies).
	ZeroCopy bool
	// PollTimeout bounds one wait in Next (negative: none).
	PollTimeout time.Duration
	// Coalesce is the longest Next lets packets gather when it finds
	// fewer than Batch in the RX ring (0: take them at once). A wake-up
	// costs far more than a packet: without it, a reader that keeps up
	// wakes for nearly every packet. The wait adapts to the rate: it
	// halves when the ring held more than a quarter of the frames after
	// it and doubles (up to Coalesce) when it held less than an eighth, so
	// that bursts (or a late wake-up) of four times the rate still fit;
	// while the waits gather many packets, Next sleeps instead of polling
	// when it empties the ring (one wake-up a wait, as for a TPACKET_V3
	// block).
	Coalesce time.Duration
}

// Packet is one received packet.
type Packet struct {
	Data      []byte // the frame, cut to Config.Snaplen; a view into the UMEM
	OrigLen   int    // the frame's length
	Timestamp int64  // ns since the epoch (see the package comment)
	// PerPacketTime reports whether Timestamp came from the XDP program
	// (true) or from the clock read of its batch.
	PerPacketTime bool
}

// Errors Next returns.
var (
	ErrTimeout = errors.New("xsk: poll timeout")
	ErrStopped = errors.New("xsk: socket stopped")
)

// ring is one mmap'd single-producer single-consumer ring.
type ring struct {
	mem   []byte
	prod  *uint32
	cons  *uint32
	flags *uint32
	desc  unsafe.Pointer
	mask  uint32
}

func mapRing(fd int, pgoff int64, off unix.XDPRingOffset, n, descSize int) (ring, error) {
	size := int(off.Desc) + n*descSize
	mem, err := unix.Mmap(fd, pgoff, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return ring{}, err
	}
	return ring{
		mem:   mem,
		prod:  (*uint32)(unsafe.Pointer(&mem[off.Producer])),
		cons:  (*uint32)(unsafe.Pointer(&mem[off.Consumer])),
		flags: (*uint32)(unsafe.Pointer(&mem[off.Flags])),
		desc:  unsafe.Pointer(&mem[off.Desc]),
		mask:  uint32(n - 1),
	}, nil
}

func (r *ring) unmap() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
}

// Socket is one AF_XDP socket bound to one RX queue. Next must be called
// from one goroutine at a time; Stats and Stop from any.
type Socket struct {
	fd      int
	wake    int // eventfd Stop writes to, in Next's poll
	umem    []byte
	fill    ring
	rx      ring
	cq      ring
	frame   uint64 // frame size
	snaplen int
	batch   uint32
	timeout time.Duration
	coal    time.Duration // Config.Coalesce
	gather  time.Duration // the current wait, adapted to the rate
	// waited: the packets in the RX ring were given gather to gather
	// (reset when the ring is found empty); measured: gather was adapted
	// to what they were; busy: they were many, so the next wait sleeps
	// rather than polls.
	waited, measured, busy bool
	frames                 uint32
	copy                   bool // the kernel copies into the UMEM (not zero-copy)
	taiOff                 int64

	// The batch being returned: descriptors [head, head+n) of the RX ring,
	// next is the one Next returns next.
	head, n, next uint32
	batchTS       int64

	stopped atomic.Bool
	drainT  time.Time

	nPkts, nBytes, nWaits    uint64
	delivered, dBytes, waits atomic.Uint64
}

// Open creates the socket, registers and fills the UMEM, maps the rings
// and binds to cfg.Ifindex and cfg.Queue. Packets arrive once an XDP
// program redirects them to FD through an XSKMAP.
func Open(cfg Config) (*Socket, error) {
	if cfg.Ifindex <= 0 {
		return nil, errors.New("xsk: no interface index")
	}
	if cfg.Queue < 0 {
		return nil, fmt.Errorf("xsk: queue %d", cfg.Queue)
	}
	if cfg.Frames == 0 {
		cfg.Frames = DefaultFrames
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = DefaultFrameSize
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Frames < 64 || cfg.Frames&(cfg.Frames-1) != 0 || cfg.Frames > 1<<20 {
		return nil, fmt.Errorf("xsk: %d frames: want a power of two from 64 to 2^20", cfg.Frames)
	}
	if cfg.FrameSize != 2048 && cfg.FrameSize != 4096 {
		return nil, fmt.Errorf("xsk: frame size %d: want 2048 or 4096", cfg.FrameSize)
	}
	cfg.Batch = min(cfg.Batch, cfg.Frames)
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.EAFNOSUPPORT) {
			return nil, fmt.Errorf("xsk: %w", ErrNotSupported)
		}
		return nil, fmt.Errorf("xsk: socket: %w", err)
	}
	s := &Socket{fd: fd, wake: -1, frame: uint64(cfg.FrameSize), snaplen: cfg.Snaplen, batch: uint32(cfg.Batch), timeout: cfg.PollTimeout, coal: cfg.Coalesce,
		gather: min(cfg.Coalesce, time.Millisecond), frames: uint32(cfg.Frames)}
	if err := s.setup(cfg); err != nil {
		s.Close()
		return nil, err
	}
	if s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		s.Close()
		return nil, fmt.Errorf("xsk: eventfd: %w", err)
	}
	s.taiOff = taiOffset()
	return s, nil
}

func (s *Socket) setup(cfg Config) error {
	n := cfg.Frames
	var err error
	s.umem, err = unix.Mmap(-1, 0, n*cfg.FrameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("xsk: UMEM of %d bytes: %w", n*cfg.FrameSize, err)
	}
	// MetaLen bytes of headroom put the metadata in the cache line of the
	// packet's first 48 bytes: one cache miss a packet for both.
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))), Len: uint64(len(s.umem)), Size: uint32(cfg.FrameSize), Headroom: MetaLen}
	if err := setsockopt(s.fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return fmt.Errorf("xsk: XDP_UMEM_REG: %w", err)
	}
	cqSize := uint32(64)
	for _, o := range []struct {
		opt  int
		size uint32
	}{{unix.XDP_UMEM_FILL_RING, uint32(n)}, {unix.XDP_UMEM_COMPLETION_RING, cqSize}, {unix.XDP_RX_RING, uint32(n)}} {
		if err := setsockopt(s.fd, o.opt, unsafe.Pointer(&o.size), 4); err != nil {
			return fmt.Errorf("xsk: ring size option %d: %w", o.opt, err)
		}
	}
	var off unix.XDPMmapOffsets
	ol := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&ol)), 0); e != 0 {
		return fmt.Errorf("xsk: XDP_MMAP_OFFSETS: %w", e)
	}
	if s.fill, err = mapRing(s.fd, unix.XDP_UMEM_PGOFF_FILL_RING, off.Fr, n, 8); err != nil {
		return fmt.Errorf("xsk: mapping the fill ring: %w", err)
	}
	if s.cq, err = mapRing(s.fd, unix.XDP_UMEM_PGOFF_COMPLETION_RING, off.Cr, int(cqSize), 8); err != nil {
		return fmt.Errorf("xsk: mapping the completion ring: %w", err)
	}
	if s.rx, err = mapRing(s.fd, unix.XDP_PGOFF_RX_RING, off.Rx, n, int(unsafe.Sizeof(unix.XDPDesc{}))); err != nil {
		return fmt.Errorf("xsk: mapping the RX ring: %w", err)
	}
	// Every frame starts in the fill ring; they come back to it as they
	// are used, so it never holds fewer than the frames not in flight.
	for i := 0; i < n; i++ {
		*s.fillAddr(uint32(i)) = uint64(i) * s.frame
	}
	atomic.StoreUint32(s.fill.prod, uint32(n))

	flags := uint16(unix.XDP_USE_NEED_WAKEUP)
	if cfg.ZeroCopy {
		flags |= unix.XDP_ZEROCOPY
	}
	sa := &unix.SockaddrXDP{Flags: flags, Ifindex: uint32(cfg.Ifindex), QueueID: uint32(cfg.Queue)}
	if err := unix.Bind(s.fd, sa); err != nil {
		return fmt.Errorf("xsk: binding to interface %d queue %d: %w", cfg.Ifindex, cfg.Queue, err)
	}
	var opts struct{ Flags uint32 }
	ol = 4
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_OPTIONS,
		uintptr(unsafe.Pointer(&opts)), uintptr(unsafe.Pointer(&ol)), 0); e == 0 {
		s.copy = opts.Flags&unix.XDP_OPTIONS_ZEROCOPY == 0
	}
	return nil
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

// taiOffset is CLOCK_REALTIME minus CLOCK_TAI, to turn the program's
// bpf_ktime_get_tai_ns into time since the epoch.
func taiOffset() int64 {
	var rt, tai unix.Timespec
	if unix.ClockGettime(unix.CLOCK_REALTIME, &rt) != nil || unix.ClockGettime(unix.CLOCK_TAI, &tai) != nil {
		return 0
	}
	d := rt.Nano() - tai.Nano()
	// Round to whole seconds: the two clocks differ by leap seconds.
	return (d - 5e8) / 1e9 * 1e9
}

// FD is the socket's descriptor, for the XSKMAP.
func (s *Socket) FD() int { return s.fd }

// Copy reports whether the kernel copies packets into the UMEM (copy mode)
// rather than receiving into it (zero-copy).
func (s *Socket) Copy() bool { return s.copy }

func (s *Socket) fillAddr(i uint32) *uint64 {
	return (*uint64)(unsafe.Add(s.fill.desc, uintptr(i&s.fill.mask)*8))
}

func (s *Socket) rxDesc(i uint32) *unix.XDPDesc {
	return (*unix.XDPDesc)(unsafe.Add(s.rx.desc, uintptr(i&s.rx.mask)*unsafe.Sizeof(unix.XDPDesc{})))
}

// available is the number of descriptors in the RX ring not yet taken.
func (s *Socket) available() uint32 {
	return atomic.LoadUint32(s.rx.prod) - atomic.LoadUint32(s.rx.cons)
}

// Next fills p with the next packet. p.Data stays valid until the next
// call. It returns ErrTimeout after Config.PollTimeout without packets and
// ErrStopped once Stop was called and the RX ring is drained.
func (s *Socket) Next(p *Packet) error {
	for {
		if s.next < s.n {
			s.read(p, s.rxDesc(s.head+s.next))
			s.next++
			return nil
		}
		s.release()
		n := s.available()
		stopped := s.stopped.Load()
		switch {
		case n == 0 && s.busy && !stopped:
			// Under load: let the next packets gather without a poll.
			s.busy, s.waited, s.measured = false, true, false
			s.nWaits++
			time.Sleep(s.gather)
			continue
		case n == 0:
			s.waited = false
			if err := s.wait(); err != nil {
				s.publish()
				return err
			}
			continue
		case n < s.batch && s.coal > 0 && !s.waited && !stopped:
			s.waited, s.measured = true, false
			s.nWaits++
			time.Sleep(s.gather)
			continue
		}
		if s.waited && !s.measured {
			// The first look after a wait sees what gathered in it.
			s.measured = true
			switch {
			case n > s.frames/4:
				s.gather = max(s.gather/2, 10*time.Microsecond)
			case n < s.frames/8:
				s.gather = min(s.gather*2, s.coal)
			}
			s.busy = n >= s.frames/16
		}
		s.n = min(n, s.batch)
		s.batchTS = time.Now().UnixNano()
	}
}

// read fills p from descriptor d.
func (s *Socket) read(p *Packet, d *unix.XDPDesc) {
	addr, n := d.Addr, uint64(d.Len)
	if addr+n > uint64(len(s.umem)) || addr < MetaLen { // never from a sane kernel
		addr, n = 0, 0
	}
	p.OrigLen = int(n)
	if s.snaplen > 0 && n > uint64(s.snaplen) {
		n = uint64(s.snaplen)
	}
	p.Data = s.umem[addr : addr+n : addr+n]
	meta := s.umem[addr-MetaLen : addr]
	if *(*uint32)(unsafe.Pointer(&meta[8])) == MetaMagic {
		p.Timestamp = int64(*(*uint64)(unsafe.Pointer(&meta[0]))) + s.taiOff
		p.PerPacketTime = true
		// Clear the mark: a frame's next packet may come without metadata.
		*(*uint32)(unsafe.Pointer(&meta[8])) = 0
	} else {
		p.Timestamp = s.batchTS
		p.PerPacketTime = false
	}
	s.nPkts++
	s.nBytes += n
}

// release gives the frames of the finished batch back to the fill ring
// and frees their RX descriptors.
func (s *Socket) release() {
	if s.n == 0 {
		return
	}
	prod := atomic.LoadUint32(s.fill.prod)
	for i := uint32(0); i < s.n; i++ {
		*s.fillAddr(prod + i) = s.rxDesc(s.head+i).Addr &^ (s.frame - 1)
	}
	atomic.StoreUint32(s.fill.prod, prod+s.n)
	s.head += s.n
	atomic.StoreUint32(s.rx.cons, s.head)
	s.n, s.next = 0, 0
	s.publish()
	if atomic.LoadUint32(s.fill.flags)&unix.XDP_RING_NEED_WAKEUP != 0 {
		unix.Recvfrom(s.fd, nil, unix.MSG_DONTWAIT)
	}
}

func (s *Socket) publish() {
	s.delivered.Store(s.nPkts)
	s.dBytes.Store(s.nBytes)
	s.waits.Store(s.nWaits)
}

// drainFor is how long a stopped socket keeps reading after its RX ring
// was found empty: packets the XDP program redirected before it was
// detached become visible at the end of the driver's poll.
const drainFor = 20 * time.Millisecond

// wait blocks in poll(2) until the RX ring has descriptors, the poll
// timeout passes or the socket is stopped (Stop writes to an eventfd in
// the same poll). After a stop it waits at most until drainFor after the
// stop was first seen.
//
// The socket is deliberately not in Go's netpoller: the kernel signals an
// AF_XDP socket's readers on every flush of the driver's poll, nearly
// once a packet at moderate rates, and an edge-triggered epoll set wakes
// the runtime's poller thread for each one whether or not anybody waits
// (measured: 4.5 us of CPU a packet at 110k packets/s, against 0.2 us
// for TPACKET_V3, whose kernel signals once a block). poll(2) listens
// only while Next waits.
func (s *Socket) wait() error {
	stopped := s.stopped.Load()
	timeout := -1
	switch {
	case stopped:
		if s.drainT.IsZero() {
			s.drainT = time.Now().Add(drainFor)
		}
		d := time.Until(s.drainT)
		if d <= 0 {
			return ErrStopped
		}
		timeout = int(d/time.Millisecond) + 1
	case s.timeout >= 0:
		timeout = int((s.timeout + time.Millisecond - 1) / time.Millisecond)
	}
	fds := [2]unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	if stopped {
		fds[1].Fd = -1 // the stop was seen; its eventfd stays readable
	}
	s.nWaits++
	n, err := unix.Poll(fds[:], timeout)
	switch {
	case err == unix.EINTR:
		return nil
	case err != nil:
		return fmt.Errorf("xsk: waiting for packets: %w", err)
	case n == 0 && !stopped && !s.stopped.Load():
		return ErrTimeout
	}
	return nil // packets, a stop, or the drain timeout: Next looks again
}

// Stop makes Next return ErrStopped once the RX ring is drained. Detach
// the XDP program first, so nothing more arrives.
func (s *Socket) Stop() {
	if s.stopped.Swap(true) {
		return
	}
	one := [8]byte{1}
	unix.Write(s.wake, one[:])
}

// Stats are the socket's counters.
type Stats struct {
	Delivered uint64 // packets Next returned
	Bytes     uint64 // bytes of Data Next returned
	Waits     uint64 // times Next slept or polled: its wake-ups
	// XDP_STATISTICS: packets dropped for want of a fill-ring frame or
	// for not fitting one (RxDropped), for a full RX ring (RxRingFull);
	// times the kernel found the fill ring empty (FillRingEmpty), and
	// invalid descriptors in the RX ring (RxInvalid).
	RxDropped, RxRingFull, FillRingEmpty, RxInvalid uint64
}

// Stats reads XDP_STATISTICS (a system call: call it periodically, not per
// packet).
func (s *Socket) Stats() (Stats, error) {
	st := Stats{Delivered: s.delivered.Load(), Bytes: s.dBytes.Load(), Waits: s.waits.Load()}
	var x unix.XDPStatistics
	ol := uint32(unsafe.Sizeof(x))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&x)), uintptr(unsafe.Pointer(&ol)), 0); e != 0 {
		return st, fmt.Errorf("xsk: XDP_STATISTICS: %w", e)
	}
	st.RxDropped, st.RxRingFull, st.FillRingEmpty, st.RxInvalid = x.Rx_dropped, x.Rx_ring_full, x.Rx_fill_ring_empty_descs, x.Rx_invalid_descs
	return st, nil
}

// Close unmaps the rings and the UMEM and closes the socket. Call it after
// Next has returned for the last time: the views die with the UMEM.
func (s *Socket) Close() error {
	var err error
	if s.fd >= 0 {
		err = unix.Close(s.fd)
	}
	if s.wake >= 0 {
		unix.Close(s.wake)
	}
	s.fd, s.wake = -1, -1
	s.rx.unmap()
	s.fill.unmap()
	s.cq.unmap()
	if s.umem != nil {
		unix.Munmap(s.umem)
		s.umem = nil
	}
	return err
}
