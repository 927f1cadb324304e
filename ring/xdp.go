package ring

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/ring/xsk"
)

// XDPMode chooses the capture path: AF_PACKET TPACKET_V3 rings (XDPOff)
// or AF_XDP sockets fed by an XDP program, run in the driver (XDPNative)
// or, for drivers without XDP, on the socket buffer (XDPGeneric).
//
// With XDP the filter runs at the driver, before the kernel builds a socket
// buffer, and what it accepts is redirected to the AF_XDP socket of its RX
// queue: those packets are taken from the host, which no longer sees them
// (the rest gets XDP_PASS and reaches the host stack untouched). XDP
// capture therefore suits a port that only watches traffic (a SPAN or
// mirror port, a tap), not an interface whose own connections the filter
// matches. It sees received packets only, never what the host sends.
type XDPMode int

const (
	XDPOff XDPMode = iota
	XDPNative
	XDPGeneric
)

func (m XDPMode) String() string {
	switch m {
	case XDPOff:
		return "off"
	case XDPNative:
		return "native"
	case XDPGeneric:
		return "skb"
	}
	return fmt.Sprintf("XDPMode(%d)", int(m))
}

// ParseXDPMode parses "off", "native" (or "drv") and "skb" (or "generic").
func ParseXDPMode(s string) (XDPMode, error) {
	switch strings.ToLower(s) {
	case "off", "":
		return XDPOff, nil
	case "native", "drv", "driver":
		return XDPNative, nil
	case "skb", "generic":
		return XDPGeneric, nil
	}
	return 0, fmt.Errorf("ring: unknown XDP mode %q (want native or skb)", s)
}

// XDPProgram is a loaded XDP capture program with a socket map (package
// filter's *XDP).
type XDPProgram interface {
	// Bind puts the AF_XDP socket fd in the map slot of RX queue q.
	Bind(q, fd int) error
	// Attach attaches the program to the interface; closing the result
	// detaches it.
	Attach(ifindex int, native bool) (io.Closer, error)
}

// ErrXDPUnavailable is wrapped by Open's error when the kernel or the
// driver cannot do the XDP capture asked for (no AF_XDP, no XDP in the
// driver for native mode, the queue cannot take a socket).
var ErrXDPUnavailable = errors.New("XDP capture unavailable")

// xdpState is what a Capture keeps for XDP.
type xdpState struct {
	detachOnce sync.Once
	link       io.Closer
	copyMode   bool
}

// detach takes the program off the interface (once): the host gets its
// traffic back, and the sockets receive nothing more.
func (x *xdpState) detach() {
	x.detachOnce.Do(func() {
		if x.link != nil {
			x.link.Close()
		}
	})
}

// openXDP opens one AF_XDP socket per RX queue, puts them in the program's
// map and attaches the program last, so its filter holds from the first
// packet.
func openXDP(cfg Config) (*Capture, error) {
	if cfg.XDPProgram == nil {
		return nil, errors.New("ring: XDP capture needs Config.XDPProgram (filter.NewXDP)")
	}
	switch {
	case cfg.Direction == DirectionOut || cfg.Direction == DirectionInOut:
		return nil, fmt.Errorf("ring: XDP sees received packets only: direction %s is not possible (use in)", cfg.Direction)
	case cfg.Promiscuous:
		return nil, errors.New("ring: promiscuous mode is not supported with XDP (set it with `ip link set IFACE promisc on`)")
	case cfg.KeepVLANStripped:
		return nil, errors.New("ring: KeepVLANStripped does not apply to XDP (tags stay in the frame)")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring: %w", err)
	}
	index, link, loopback, err := linkInfo(fd, cfg.Interface)
	queues, mtu := rxQueues(fd, cfg.Interface), ifMTU(fd, cfg.Interface)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	if link != linktype.Ethernet || loopback {
		return nil, fmt.Errorf("ring: XDP capture on %q: only Ethernet interfaces (not loopback)", cfg.Interface)
	}
	if cfg.Workers > 0 {
		queues = cfg.Workers
	}
	frameSize := xsk.DefaultFrameSize
	if mtu+14+4 > frameSize-unix.XDP_PACKET_HEADROOM {
		frameSize = 4096
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Workers = queues
	prog, err := cfg.XDPProgram(cfg.Filter, queues)
	if err != nil {
		if isPerm(err) {
			return nil, permissionError("loading the XDP program", err)
		}
		return nil, fmt.Errorf("ring: XDP program: %w", err)
	}
	st := &stopper{}
	c := &Capture{cfg: cfg, link: linktype.Ethernet, stop: st, filter: "xdp", keep: DirectionIn, xdp: &xdpState{}}
	st.xdp = c.xdp
	if cfg.Filter == nil {
		c.filter = "xdp (no filter)"
	}
	for q := 0; q < queues; q++ {
		s, err := xsk.Open(xsk.Config{Ifindex: index, Queue: q, FrameSize: frameSize, Frames: cfg.XDPFrames,
			Snaplen: int(cfg.Snaplen), PollTimeout: cfg.PollTimeout, Coalesce: cfg.BlockTimeout})
		if err != nil {
			c.Close()
			if errors.Is(err, xsk.ErrNotSupported) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil, fmt.Errorf("ring: %w on %q queue %d: %v", ErrXDPUnavailable, cfg.Interface, q, err)
			}
			if isPerm(err) {
				return nil, permissionError("opening an AF_XDP socket", err)
			}
			return nil, fmt.Errorf("ring: %w", err)
		}
		r := &Ring{id: q, fd: s.FD(), x: s, ifindex: index, stop: st}
		c.rings = append(c.rings, r)
		st.rings = append(st.rings, r)
		c.xdp.copyMode = s.Copy()
		if err := prog.Bind(q, s.FD()); err != nil {
			c.Close()
			return nil, fmt.Errorf("ring: %w", err)
		}
	}
	l, err := prog.Attach(index, cfg.XDP == XDPNative)
	if err != nil {
		c.Close()
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("ring: %w: attaching in %s mode to %q: %v", ErrXDPUnavailable, cfg.XDP, cfg.Interface, err)
		}
		return nil, fmt.Errorf("ring: %w", err)
	}
	c.xdp.link = l
	return c, nil
}

// XDPCopyMode reports whether an XDP capture's sockets are in copy mode
// (the kernel copies each packet into the UMEM; always so on veth) rather
// than zero-copy.
func (c *Capture) XDPCopyMode() bool { return c.xdp != nil && c.xdp.copyMode }

// XDP reports whether the capture uses AF_XDP sockets.
func (c *Capture) XDP() bool { return c.xdp != nil }

// nextXDP is Next for an AF_XDP worker.
func (r *Ring) nextXDP(p *Packet) error {
	switch err := r.x.Next(&r.xp); err {
	case nil:
	case xsk.ErrTimeout:
		return ErrTimeout
	case xsk.ErrStopped:
		return ErrStopped
	default:
		return err
	}
	p.Data, p.OrigLen, p.Timestamp = r.xp.Data, r.xp.OrigLen, r.xp.Timestamp
	p.Ifindex, p.PktType = r.ifindex, PacketHost
	p.HasVLAN, p.VLANTCI, p.VLANTPID = false, 0, 0
	return nil
}

// statsXDP reads an AF_XDP worker's counters.
func (r *Ring) statsXDP() (WorkerStats, error) {
	if r.fd >= 0 {
		s, err := r.x.Stats()
		if err != nil {
			return WorkerStats{}, fmt.Errorf("ring: %w", err)
		}
		r.xstats = s
	}
	s := r.xstats
	k := KernelStats{Drops: s.RxDropped + s.RxRingFull, XDPRxDropped: s.RxDropped, XDPRxRingFull: s.RxRingFull,
		XDPFillRingEmpty: s.FillRingEmpty, XDPRxInvalid: s.RxInvalid, XDPWaits: s.Waits}
	k.Packets = s.Delivered + k.Drops
	return WorkerStats{Worker: r.id, Delivered: s.Delivered, Bytes: s.Bytes, Kernel: k}, nil
}

// rxQueues is the number of RX queues of the interface (ETHTOOL_GCHANNELS:
// dedicated RX plus combined channels), 1 when the driver does not say.
func rxQueues(fd int, name string) int {
	// On the heap, which does not move: the kernel gets its address
	// inside the ifreq.
	ch := new(struct {
		cmd                                         uint32
		maxRx, maxTx, maxOther, maxCombined         uint32
		rxCount, txCount, otherCount, combinedCount uint32
	})
	ch.cmd = 0x3c // ETHTOOL_GCHANNELS
	if len(name) >= unix.IFNAMSIZ {
		return 1
	}
	// struct ifreq: the name, then ifr_data pointing at ch.
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], name)
	ifr.data = uintptr(unsafe.Pointer(ch))
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(ch)
	if e != 0 {
		return 1
	}
	n := int(ch.rxCount + ch.combinedCount)
	if ch.rxCount > 0 && ch.combinedCount > 0 && ch.rxCount == ch.combinedCount {
		n = int(ch.rxCount) // veth reports its queues as both
	}
	return max(n, 1)
}

// ifMTU is the interface's MTU (1500 when it cannot be read).
func ifMTU(fd int, name string) int {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 1500
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFMTU, ifr); err != nil {
		return 1500
	}
	return int(ifr.Uint32())
}
