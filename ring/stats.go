package ring

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// KernelStats are the socket's PACKET_STATISTICS counters, accumulated
// since the socket was opened (the kernel resets them on every read).
type KernelStats struct {
	// Packets the socket's filter accepted, including those then dropped.
	Packets uint64
	// Drops: accepted packets that found no room in the ring.
	Drops uint64
	// QueueFreezes: times the ring filled up and the kernel froze it until
	// user space gave a block back.
	QueueFreezes uint64

	// XDP_STATISTICS of AF_XDP sockets (Config.XDP), where Drops is
	// XDPRxDropped + XDPRxRingFull and Packets is the packets delivered
	// plus Drops. XDPRxDropped: no fill-ring frame, or too long for one;
	// XDPRxRingFull: the RX ring was full; XDPFillRingEmpty: times the
	// kernel found the fill ring empty; XDPRxInvalid: bad descriptors.
	XDPRxDropped, XDPRxRingFull, XDPFillRingEmpty, XDPRxInvalid uint64
	// XDPWaits is how often the readers slept or polled (not a kernel
	// counter): packets per wait is the batching the readers achieved.
	XDPWaits uint64
}

func (k *KernelStats) add(o KernelStats) {
	k.Packets += o.Packets
	k.Drops += o.Drops
	k.QueueFreezes += o.QueueFreezes
	k.XDPRxDropped += o.XDPRxDropped
	k.XDPRxRingFull += o.XDPRxRingFull
	k.XDPFillRingEmpty += o.XDPFillRingEmpty
	k.XDPRxInvalid += o.XDPRxInvalid
	k.XDPWaits += o.XDPWaits
}

// WorkerStats is what one worker has seen.
type WorkerStats struct {
	Worker    int
	Delivered uint64 // packets returned by Next
	Bytes     uint64 // captured bytes returned by Next
	Kernel    KernelStats
}

func (w WorkerStats) String() string {
	return fmt.Sprintf("worker %d: %d packets delivered, kernel: %d accepted, %d dropped, %d queue freezes",
		w.Worker, w.Delivered, w.Kernel.Packets, w.Kernel.Drops, w.Kernel.QueueFreezes)
}

// Stats reads the kernel's counters (a getsockopt, not free: call it
// periodically, not per packet) and returns the totals so far.
func (r *Ring) Stats() (WorkerStats, error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	if r.x != nil {
		return r.statsXDP()
	}
	if r.fd >= 0 {
		s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			return WorkerStats{}, fmt.Errorf("ring: PACKET_STATISTICS: %w", err)
		}
		// tp_packets counts the dropped packets too (the kernel adds them
		// before copying out).
		r.kstats.add(KernelStats{Packets: uint64(s.Packets), Drops: uint64(s.Drops), QueueFreezes: uint64(s.Freeze_q_cnt)})
	}
	return WorkerStats{Worker: r.id, Delivered: r.delivered.Load(), Bytes: r.dBytes.Load(), Kernel: r.kstats}, nil
}

// Stats sums the workers' statistics.
type Stats struct {
	Total   WorkerStats // Worker is -1
	Workers []WorkerStats
}
