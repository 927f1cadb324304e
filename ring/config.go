package ring

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Defaults. The ring of one worker is DefaultNumBlocks x DefaultBlockSize
// = 4 MiB: tcpdump's default 2 MiB buffer plus as much again. Drops under
// load come from the reader being descheduled, not from its speed (it
// needs ~5% of a core at 150k packets/s), so the ring must cover the
// longest stall. On the capture benchmark (capture_bench_test.go: 4 TCP
// uploads over a veth pair, snaplen 128, a 2-core VM shared with ~20
// runnable tasks) 2 MiB overflowed in every round, 4 MiB dropped in most
// rounds far less than tcpdump with its 2 MiB, and 8 MiB did no better
// than 4 MiB under that noise; see the closing report for the figures.
// Blocks of 256 KiB (about 1,100 packets at snaplen 128) are small enough
// that the kernel always has free blocks while user space works on one.
const (
	DefaultSnaplen      = 262144 // tcpdump's default: whole packets
	DefaultBlockSize    = 256 << 10
	DefaultNumBlocks    = 16
	DefaultFrameSize    = 2048 // TPACKET_V3 packs frames; only the kernel's ring checks use it
	DefaultBlockTimeout = 10 * time.Millisecond
	DefaultPollTimeout  = 100 * time.Millisecond
)

// FanoutMode chooses how the kernel spreads packets over the workers of a
// Capture.
type FanoutMode int

const (
	// FanoutHash sends each packet to the worker chosen by the kernel's
	// symmetric flow hash: both directions of a flow go to one worker.
	FanoutHash FanoutMode = iota
	// FanoutHashRollover is FanoutHash, except that when a worker's ring is
	// full the packet goes to another worker instead of being dropped. Fewer
	// drops, but a flow may then be seen by two workers.
	FanoutHashRollover
	// FanoutRollover fills one worker's ring before moving to the next.
	FanoutRollover
	// FanoutCPU sends each packet to the worker of the CPU that received it.
	FanoutCPU
)

func (m FanoutMode) String() string {
	switch m {
	case FanoutHash:
		return "hash"
	case FanoutHashRollover:
		return "hash+rollover"
	case FanoutRollover:
		return "rollover"
	case FanoutCPU:
		return "cpu"
	}
	return fmt.Sprintf("FanoutMode(%d)", int(m))
}

// ParseFanoutMode parses the names String returns.
func ParseFanoutMode(s string) (FanoutMode, error) {
	for m := FanoutHash; m <= FanoutCPU; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("ring: unknown fanout mode %q (want hash, hash+rollover, rollover or cpu)", s)
}

func (m FanoutMode) sockopt() (int, error) {
	switch m {
	case FanoutHash:
		return unix.PACKET_FANOUT_HASH, nil
	case FanoutHashRollover:
		return unix.PACKET_FANOUT_HASH | unix.PACKET_FANOUT_FLAG_ROLLOVER, nil
	case FanoutRollover:
		return unix.PACKET_FANOUT_ROLLOVER, nil
	case FanoutCPU:
		return unix.PACKET_FANOUT_CPU, nil
	}
	return 0, fmt.Errorf("ring: invalid fanout mode %d", int(m))
}

// Config describes a Capture. The zero value of every field but Interface
// means its default.
type Config struct {
	// Interface is the name of the interface to capture on (required).
	Interface string
	// Snaplen is the most bytes kept of each packet (DefaultSnaplen). The
	// socket filter returns it, so the kernel truncates before copying.
	Snaplen uint32
	// BlockSize and NumBlocks size each worker's ring (BlockSize a multiple
	// of the page size). FrameSize only has to satisfy the kernel's checks.
	BlockSize, NumBlocks, FrameSize int
	// BlockTimeout is how long the kernel waits before handing over a block
	// that is not full: the longest a quiet packet waits to be read.
	BlockTimeout time.Duration
	// PollTimeout bounds one wait in Next; Next returns ErrTimeout after it.
	// Negative waits for ever (until Stop).
	PollTimeout time.Duration
	// Promiscuous asks the interface to deliver frames for other addresses.
	Promiscuous bool
	// Workers is the number of sockets in the fanout group (default 1: no
	// fanout). Fanout chooses how packets are spread over them.
	Workers int
	Fanout  FanoutMode
	// FanoutID names the fanout group; 0 picks one from the process id.
	FanoutID uint16
	// FanoutDefrag (PACKET_FANOUT_FLAG_DEFRAG) has the kernel reassemble
	// IPv4 fragments before it picks a worker, so a datagram and the
	// rest of its flow reach the same one; the workers then see, and
	// write, the whole datagram instead of its fragments. Only with
	// Workers > 1.
	FanoutDefrag bool

	// Filter is the classic BPF program to attach (nil keeps every packet,
	// truncated to Snaplen). It must return the snap length for packets it
	// keeps, as package filter's programs do.
	Filter []bpf.Instruction
	// EBPF, when set, is called once with Filter (preceded by the
	// instructions of Direction, when it leaves packets out) to load an
	// eBPF socket filter program equivalent to it (filter.NewEBPF). When it fails,
	// the classic program is attached instead and the failure is reported
	// in Capture.FilterNotice. The program is owned by the caller.
	EBPF func([]bpf.Instruction) (Program, error)

	// Direction chooses the packets captured by the way they cross the
	// interface (DirectionAuto: both ways, each packet once).
	Direction Direction

	// XDP captures through AF_XDP sockets, one per RX queue, fed by an
	// XDP program running Filter in the driver (XDPNative) or on the
	// socket buffer (XDPGeneric), instead of TPACKET_V3 rings; see
	// XDPMode for what that changes. XDPProgram loads the program
	// (filter.NewXDP; Filter is nil without a filter, queues the number
	// of sockets). Workers is then the number of RX queues captured, 0
	// to Workers-1 (0: every RX queue the driver reports); BlockTimeout is
	// the longest a reader that finds few packets lets more gather, as the
	// kernel holds a TPACKET_V3 block (xsk.Config.Coalesce); Fanout, the ring sizes and EBPF do not apply. XDPFrames sizes each socket's
	// UMEM and rings (xsk.DefaultFrames).
	XDP        XDPMode
	XDPProgram func(filter []bpf.Instruction, queues int) (XDPProgram, error)
	XDPFrames  int

	// KeepVLANStripped leaves a VLAN tag the kernel removed out of the frame
	// (it is still reported in Packet.VLANTCI). By default it is written back.
	KeepVLANStripped bool
}

// Direction chooses which packets of an interface a Capture keeps by the
// way they cross it. The choice is made in the kernel, by instructions put
// in front of the socket filter (classic or eBPF): a packet it leaves out
// costs user space nothing and is not counted by PACKET_STATISTICS.
type Direction int

const (
	// DirectionAuto keeps both directions, each packet once: on a loopback
	// interface (IFF_LOOPBACK, such as every namespace's lo), where the
	// kernel shows each packet twice, as sent (PACKET_OUTGOING) and as
	// received, the sent copy is left out, as libpcap does.
	DirectionAuto Direction = iota
	// DirectionInOut keeps every copy: on loopback each packet twice.
	DirectionInOut
	// DirectionIn keeps only what the interface received (tcpdump -Q in).
	DirectionIn
	// DirectionOut keeps only what the host sent on it (tcpdump -Q out).
	DirectionOut
)

func (d Direction) String() string {
	switch d {
	case DirectionAuto:
		return "auto"
	case DirectionInOut:
		return "inout"
	case DirectionIn:
		return "in"
	case DirectionOut:
		return "out"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// ParseDirection parses the names String returns.
func ParseDirection(s string) (Direction, error) {
	for d := DirectionAuto; d <= DirectionOut; d++ {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("ring: unknown direction %q (want auto, inout, in or out)", s)
}

// Program is a loaded eBPF socket-filter program.
type Program interface {
	FD() int
}

func (c Config) withDefaults() (Config, error) {
	if c.Interface == "" {
		return c, fmt.Errorf("ring: no interface given")
	}
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks == 0 {
		c.NumBlocks = DefaultNumBlocks
	}
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.FanoutID == 0 {
		// Fanout groups are per network namespace: make the id unlikely to
		// collide with another process and distinct between Captures.
		c.FanoutID = uint16(os.Getpid()*7 + int(fanoutSeq.Add(1)))
		if c.FanoutID == 0 {
			c.FanoutID = 1
		}
	}
	page := os.Getpagesize()
	switch {
	case c.BlockSize <= 0 || c.BlockSize%page != 0:
		return c, fmt.Errorf("ring: block size %d must be a positive multiple of the page size %d", c.BlockSize, page)
	case c.FrameSize < 128 || c.FrameSize%unix.TPACKET_ALIGNMENT != 0 || c.BlockSize%c.FrameSize != 0:
		return c, fmt.Errorf("ring: frame size %d must be >= 128, a multiple of %d and divide the block size %d", c.FrameSize, unix.TPACKET_ALIGNMENT, c.BlockSize)
	case c.NumBlocks < 1:
		return c, fmt.Errorf("ring: block count %d must be >= 1", c.NumBlocks)
	case c.BlockTimeout < time.Millisecond:
		return c, fmt.Errorf("ring: block timeout %v must be at least 1ms", c.BlockTimeout)
	case c.Workers < 1 || c.Workers > 64:
		return c, fmt.Errorf("ring: %d workers: want 1 to 64", c.Workers)
	}
	if _, err := c.Fanout.sockopt(); err != nil {
		return c, err
	}
	if c.Direction < DirectionAuto || c.Direction > DirectionOut {
		return c, fmt.Errorf("ring: invalid direction %d", int(c.Direction))
	}
	return c, nil
}

var fanoutSeq atomic.Int32

// RingBytes is the ring memory of one worker.
func (c Config) RingBytes() int { return c.BlockSize * c.NumBlocks }
