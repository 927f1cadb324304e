package ring

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/netblame/netblame/linktype"
)

// rejectAll is the filter a socket carries from creation until the real
// one is attached: no packet enters the ring before the filter does.
var rejectAll = []bpf.RawInstruction{{Op: unix.BPF_RET | unix.BPF_K, K: 0}}

// ErrPermission is wrapped by errors for a missing capability.
var ErrPermission = errors.New("permission denied")

// permissionError explains which capabilities capture needs.
func permissionError(what string, err error) error {
	return fmt.Errorf("ring: %s: %w (live capture needs CAP_NET_RAW, and CAP_BPF for the eBPF prefilter: run as root or `setcap cap_net_raw,cap_bpf+ep` the binary): %v", what, ErrPermission, err)
}

func isPerm(err error) bool { return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) }

// linkInfo finds the interface index, its link type (from the ARPHRD
// hardware type) and whether it is a loopback interface, using the packet
// socket fd.
func linkInfo(fd int, name string) (index int, link linktype.Type, loopback bool, err error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, 0, false, fmt.Errorf("ring: interface %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, 0, false, fmt.Errorf("ring: interface %q: %w", name, err)
	}
	index = int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return 0, 0, false, fmt.Errorf("ring: interface %q: flags: %w", name, err)
	}
	loopback = ifr.Uint16()&unix.IFF_LOOPBACK != 0
	ifr, _ = unix.NewIfreq(name)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, 0, false, fmt.Errorf("ring: interface %q: hardware type: %w", name, err)
	}
	switch hw := ifr.Uint16(); hw { // sa_family of ifr_hwaddr is the ARPHRD type
	case unix.ARPHRD_LOOPBACK:
		return index, linktype.Ethernet, true, nil
	case unix.ARPHRD_ETHER:
		return index, linktype.Ethernet, loopback, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT:
		return index, linktype.Raw, loopback, nil
	default:
		return 0, 0, false, fmt.Errorf("ring: interface %q: hardware type %d is not supported (Ethernet and raw IP are)", name, hw)
	}
}

// openRing creates worker id's socket and ring in the order that keeps the
// filter's promise: socket with protocol 0 (receives nothing), reject-all
// filter, ring, bind (starts receiving, but the filter rejects), fanout.
// The caller attaches the real filter once every worker has joined.
func openRing(cfg *Config, id int, st *stopper) (r *Ring, link linktype.Type, loopback bool, err error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		if isPerm(err) {
			return nil, 0, false, permissionError("opening an AF_PACKET socket", err)
		}
		return nil, 0, false, fmt.Errorf("ring: AF_PACKET socket: %w", err)
	}
	ring := &Ring{id: id, fd: fd, stop: st, snaplen: int(cfg.Snaplen), keepTag: cfg.KeepVLANStripped,
		blkSize: cfg.BlockSize, nBlocks: cfg.NumBlocks, drain: cfg.BlockTimeout + 50*1e6}
	r = ring
	defer func() {
		if err != nil {
			ring.close()
		}
	}()
	r.pollTimeout = cfg.PollTimeout
	index, link, loopback, err := linkInfo(fd, cfg.Interface)
	if err != nil {
		return nil, 0, false, err
	}
	r.ether = link == linktype.Ethernet
	if err := attachClassicRaw(fd, rejectAll); err != nil {
		return nil, 0, false, fmt.Errorf("ring: attaching the reject-all filter: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, 0, false, fmt.Errorf("ring: TPACKET_V3 not available: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     uint32(cfg.FrameSize),
		Frame_nr:       uint32(cfg.BlockSize / cfg.FrameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(cfg.BlockTimeout.Milliseconds()),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, 0, false, fmt.Errorf("ring: PACKET_RX_RING (%d blocks of %d bytes): %w", cfg.NumBlocks, cfg.BlockSize, err)
	}
	r.mem, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED)
	if err != nil {
		// MAP_LOCKED fails under a low RLIMIT_MEMLOCK; the ring works unlocked.
		r.mem, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return nil, 0, false, fmt.Errorf("ring: mmap of the ring: %w", err)
		}
	}
	sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index}
	if err := unix.Bind(fd, &sa); err != nil {
		return nil, 0, false, fmt.Errorf("ring: bind to %q: %w", cfg.Interface, err)
	}
	if cfg.Workers > 1 {
		mode, _ := cfg.Fanout.sockopt()
		if cfg.FanoutDefrag {
			mode |= unix.PACKET_FANOUT_FLAG_DEFRAG
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(cfg.FanoutID)|mode<<16); err != nil {
			return nil, 0, false, fmt.Errorf("ring: joining fanout group %d (%s): %w", cfg.FanoutID, cfg.Fanout, err)
		}
	}
	if cfg.Promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, 0, false, fmt.Errorf("ring: promiscuous mode on %q: %w", cfg.Interface, err)
		}
	}
	// From here the File owns the descriptor.
	r.file = os.NewFile(uintptr(fd), fmt.Sprintf("packet:%s:%d", cfg.Interface, id))
	if r.raw, err = r.file.SyscallConn(); err != nil {
		return nil, 0, false, fmt.Errorf("ring: %w", err)
	}
	r.pollFn = r.poll
	return r, link, loopback, nil
}

// htons converts to network byte order, as sockaddr_ll's protocol wants.
func htons(v uint16) uint16 {
	var b [2]byte
	b[0], b[1] = byte(v>>8), byte(v)
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

func attachClassicRaw(fd int, prog []bpf.RawInstruction) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp)
}

func attachEBPF(fd, progFD int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, progFD)
}

// close releases the ring memory and the socket.
func (r *Ring) close() {
	if r.x != nil {
		r.x.Close()
		r.fd = -1
		return
	}
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.file != nil {
		r.file.Close() // waits for a poll in progress (raw.Control)
		r.fd = -1
	} else if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
