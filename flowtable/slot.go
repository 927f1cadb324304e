package flowtable

// Per-flow storage. A flow is one slot index into three parallel slabs of
// its shard: hot (what every packet reads and writes, 128 bytes: two cache
// lines), links (LRU list and last-seen time) and cold (statistics read
// rarely). Nothing in them is a pointer, so the garbage collector never
// scans the slabs.

const nilSlot = ^uint32(0)

// dirState is the TCP analysis state of one direction, the fields of
// Wireshark's tcp_flow_t and tcp_analyze_seq_flow_info_t that the rules use.
type dirState struct {
	baseSeq         uint32 // ISN (or seq-1 when the SYN was not seen)
	nextSeq         uint32 // highest seq+len seen; 0 = none yet
	lastAck         uint32 // ACK field of the last segment; 0 = none yet
	maxSeqToBeAcked uint32 // highest contiguous nextSeq (ack_lost_segment)
	nextSeqTime     int64  // when nextSeq last advanced
	lastAckTime     int64  // time of the last segment of this direction
	window          uint32 // raw window of the last segment; 0xffffffff = none yet
	dupAcks         int16  // duplicate ACKs in a row (-1: ack_lost seen)
	winScale        int8   // -1 unknown, -2 not used, 0..14 shift
	dflags          uint8
}

// dirState.dflags bits.
const (
	dBaseSet       = 1 << iota // baseSeq is set
	dFirstAck                  // Wireshark's is_first_ack: SYN seen, no pure ACK yet
	dLastKeepAlive             // the last segment was a keep-alive
	dLastZWP                   // the last segment was a zero-window probe
	dSawFin                    // sent a FIN
	dSawRst                    // sent a RST
)

// flowHot is what every packet of a flow touches: 128 bytes.
type flowHot struct {
	key      flowKey     // 40 bytes
	dir      [2]dirState // by canonical side (0 = endpoint A), 80 bytes
	state    State
	class    uint8 // timeout class, the LRU list the flow is on
	clientB  bool  // the client is endpoint B
	fflags   uint8
	lastTick uint32 // packet time of the last packet, in ticks (see tickShift)
}

// flowHot.fflags bits.
const (
	fLive = 1 << iota // the slot holds a flow
	fTCP
	fSawSyn     // a pure SYN was seen (the client is settled)
	fHandshake  // the handshake-completing ACK was seen
	fSynAckSeen // a SYN-ACK was seen (cold.synAckTime is set)
	fMruSyn     // a pure SYN was seen (cold.mruSyn is set)
	fIRTT       // cold.firstRTT is set
)

// link is a flow's place in its shard's LRU list of its timeout class.
type link struct {
	prev, next uint32
	placed     uint32 // tick when it was put at the tail of its list
}

// Idle times are kept in ticks of 2^20 ns (about 1 ms) in 32 bits, so that
// the last-seen time fits the hot cache lines; differences are taken
// modulo 2^32 ticks (52 days).
const (
	tickShift = 20
	tickNs    = int64(1) << tickShift
)

func tickOf(ns int64) uint32 { return uint32(ns >> tickShift) }

// unacked is one data segment awaiting its ACK, for RTT samples.
type unacked struct {
	end     uint32 // seq + len
	retrans bool   // retransmitted since: Karn's rule forbids a sample
	t       int64
}

// ringSize is how many unacked data segments per direction are kept for
// RTT samples (the oldest first; newer ones wait when it is full).
const ringSize = 4

// tsProbe remembers a TSval sent with data until the other side echoes it.
type tsProbe struct {
	val   uint32
	armed bool
	t     int64
}

// winTrack follows a direction's advertised window for window_shrink.
// Windows are scaled (or raw when the scale is unknown): at most 65535<<14,
// which fits 32 bits.
type winTrack struct {
	ack    uint32 // last ACK
	edge   uint32 // ack + window
	win    uint32 // last window
	maxWin uint32 // recent maximum, reset at each shrink
}

// follow records a segment's ACK and window (scaled, or raw when the scale
// is unknown). It reports a shrink: the right edge moved left, or the
// window fell below half of its recent maximum; oldWin and oldEdge are the
// window and right edge before. While every window so far was zero
// (maxWin 0, as before the first segment) nothing can shrink.
func (wt *winTrack) follow(ack, w uint32) (shrunk bool, oldWin, oldEdge uint32) {
	edge := ack + w
	shrunk = wt.maxWin != 0 && seqLE(wt.ack, ack) && (seqLT(edge, wt.edge) || uint64(w)*2 < uint64(wt.maxWin))
	oldWin, oldEdge = wt.win, wt.edge
	if shrunk || w > wt.maxWin {
		wt.maxWin = w
	}
	wt.ack, wt.edge, wt.win = ack, edge, w
	return shrunk, oldWin, oldEdge
}

// flowCold holds the rest of a flow's state, by canonical side, ordered by
// how often it is touched: the first two cache lines by every packet, then
// what data and timestamp packets use, then what only the handshake, the
// events and the final record need.
type flowCold struct {
	// Every packet.
	index                   uint64
	lastFrame               uint64
	lastTS                  int64
	packets, bytes, payload [2]uint64
	gen                     uint32
	synRetrans              uint32
	win                     [2]winTrack
	ringHead, ringN         [2]uint8
	resetBy, finFirst       uint8 // bit per canonical side (1<<side)
	rstFirst                uint8 // the side of the first RST (1<<side)

	// Data segments and timestamps.
	ring    [2][ringSize]unacked
	ts      [2]tsProbe
	retrans [2]uint64

	// Rarely.
	first, firstFrame   int64
	synTime, synAckTime int64
	ackTime             int64
	mruSyn, firstRTT    int64 // Wireshark's ts_mru_syn and ts_first_rtt
	rstTime, rstFrame   int64 // the first RST
	mss                 [2]uint16
	events              [NumEvents]uint32
	sackPkts            [2]uint32
	rtt                 rttStats
}
