package flowtable

import (
	"net/netip"
	"time"

	"github.com/netblame/netblame/decode"
)

// Direction is the direction of a packet within its flow.
type Direction uint8

const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "c2s"
	}
	return "s2c"
}

// Side names an endpoint of a flow, for "who reset" and "who closed".
type Side uint8

const (
	SideNone   Side = 0
	SideClient Side = 1
	SideServer Side = 2
	SideBoth   Side = 3 // both sent it (ResetBy only)
)

func (s Side) String() string {
	switch s {
	case SideClient:
		return "client"
	case SideServer:
		return "server"
	case SideBoth:
		return "both"
	}
	return ""
}

func sideOf(d Direction) Side { return Side(d) + 1 }

// State is the connection state of a flow as seen on the wire.
type State uint8

const (
	StateNone        State = iota // UDP, or TCP before any SYN/ACK logic applies
	StateSynSent                  // a SYN seen, no SYN-ACK
	StateSynReceived              // SYN-ACK seen, handshake not completed
	StateEstablished              // handshake done, or joined mid-stream
	StateFinWait                  // one side sent FIN
	StateClosed                   // both sides sent FIN
	StateReset                    // a RST was seen
)

var stateNames = [...]string{"none", "syn_sent", "syn_received", "established", "fin_wait", "closed", "reset"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// EndReason says why a flow left the table.
type EndReason uint8

const (
	EndNone      EndReason = iota // still live (a snapshot from Table.Flow)
	EndIdle                       // idle timeout expired
	EndEvicted                    // evicted to make room for a new flow
	EndFlushed                    // handed out by Flush
	EndPortReuse                  // a new SYN with another ISN took the key
)

var endNames = [...]string{"live", "idle", "evicted", "flushed", "port_reuse"}

func (e EndReason) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "unknown"
}

// FlowID is a handle of a live flow: its shard, slot and a generation that
// makes a stale handle miss once the slot is reused.
type FlowID uint64

// genMask: a FlowID keeps the low 24 bits of the slot's generation.
const genMask = 1<<24 - 1

func makeFlowID(shard, slot, gen uint32) FlowID {
	return FlowID(uint64(gen&genMask)<<40 | uint64(shard)<<24 | uint64(slot))
}

func (id FlowID) parts() (shard, slot, gen uint32) {
	return uint32(id>>24) & 0xffff, uint32(id) & 0xffffff, uint32(id >> 40)
}

// FlowRecord is the summary of one flow: a snapshot from Table.Flow, or
// the final record handed to OnExpire.
type FlowRecord struct {
	ID    FlowID
	Index uint64 // creation order in the table, 0-based (like tcp.stream)
	End   EndReason

	Client, Server netip.AddrPort
	Proto          decode.IPProto
	VLAN           uint16
	State          State

	First, Last           int64 // packet times, ns since the epoch
	FirstFrame, LastFrame uint64

	// Per Direction (ClientToServer, ServerToClient).
	Packets      [2]uint64
	Bytes        [2]uint64 // IP bytes (IP header and payload)
	Payload      [2]uint64 // transport payload bytes
	RetransBytes [2]uint64 // payload bytes of Wireshark retransmissions
	SACKPackets  [2]uint32 // packets carrying SACK blocks (the receiver saw loss or reordering)
	MSS          [2]uint16 // from the SYN and SYN-ACK, 0 if not seen
	WindowScale  [2]int8   // shift; -1 unknown (handshake not seen), -2 not used

	// Handshake. SynTime, SynAckTime and AckTime are the times of the
	// first SYN, first SYN-ACK and the ACK completing the handshake (0 when
	// not seen); the durations are 0 when not measurable. IRTT is
	// Wireshark's tcp.analysis.initial_rtt: from the most recent SYN to the
	// first ACK without SYN.
	SynTime, SynAckTime, AckTime int64
	SynToSynAck, SynAckToAck     time.Duration
	IRTT                         time.Duration
	SynRetransmissions           uint32

	// RTT samples from data to the ACK covering it (Karn's rule: never
	// from retransmitted data) and from TCP timestamp echoes. The median is
	// estimated from a log-scale histogram (within about 10%).
	RTTSamples                uint32
	RTTMin, RTTMedian, RTTMax time.Duration

	ResetBy    Side // who sent RST
	FinFirstBy Side // who sent the first FIN
	// The first RST: who sent it, when, in which frame (SideNone, 0, 0
	// without one).
	FirstResetBy    Side
	FirstResetTS    int64
	FirstResetFrame uint64

	// Events counts the packets that raised each event (the plain kind:
	// see EventSet.MatchesFilter for Wireshark's retransmission filter).
	Events [NumEvents]uint32
}

// Duration is Last - First.
func (r *FlowRecord) Duration() time.Duration { return time.Duration(r.Last - r.First) }

// FilterCount returns how many packets of the flow Wireshark's display
// filter tcp.analysis.<e> would match.
func (r *FlowRecord) FilterCount(e Event) uint32 {
	if e == Retransmission {
		return r.Events[Retransmission] + r.Events[FastRetransmission] + r.Events[SpuriousRetransmission]
	}
	return r.Events[e]
}

// PacketResult is what Update reports about one packet.
type PacketResult struct {
	Tracked bool // false: not TCP/UDP (or no ports); nothing else is set
	Flow    FlowID
	Index   uint64 // the flow's FlowRecord.Index
	Dir     Direction
	NewFlow bool
	// Analyzed: the TCP analysis ran (false for UDP and for fragmented
	// or truncated TCP segments).
	Analyzed bool
	Events   EventSet
	// RelSeq is relative to this direction's ISN, RelAck to the reverse
	// direction's (as Wireshark's relative numbers; the SYN has seq 0).
	RelSeq, RelAck uint32
	Len            uint32 // TCP/UDP payload length
	// Window is the scaled advertised window, -1 when the scale is unknown
	// (the handshake was not seen); SYNs are never scaled.
	Window int64
	// WinScale is the sender's window scale shift as Wireshark applies
	// it: -1 unknown (no handshake seen), -2 no scaling (an end did not
	// offer it), else the shift.
	WinScale int8
}

// TableStats are the table's counters.
type TableStats struct {
	Packets   uint64 // packets given to Update
	Untracked uint64 // packets without a TCP or UDP header
	Misrouted uint64 // packets given to an Owner that does not own their shard
	Created   uint64 // flows created
	TCPFlows  uint64 // of which TCP
	UDPFlows  uint64 // of which UDP
	Live      uint64 // flows in the table now
	Expired   uint64 // ended by idle timeout
	Evicted   uint64 // ended to make room
	Flushed   uint64 // ended by Flush
	PortReuse uint64 // ended by a new SYN on the same key
	// EmergencyEntries counts how often a shard entered emergency mode
	// (nearly full of half-open flows); Emergency is how many shards are
	// in it now.
	EmergencyEntries uint64
	Emergency        int
	Capacity         int
	Shards           int
	// MemoryBytes is the preallocated storage of the table.
	MemoryBytes int64
	// Events counts packets per event kind (the plain kinds).
	Events [NumEvents]uint64
}

// FilterCount returns how many packets Wireshark's display filter
// tcp.analysis.<e> would match.
func (s *TableStats) FilterCount(e Event) uint64 {
	if e == Retransmission {
		return s.Events[Retransmission] + s.Events[FastRetransmission] + s.Events[SpuriousRetransmission]
	}
	return s.Events[e]
}

// Add adds o's counters to s: the totals of several tables, such as one
// per capture worker. Capacity, Shards and MemoryBytes add up too.
func (s *TableStats) Add(o *TableStats) {
	s.Packets += o.Packets
	s.Untracked += o.Untracked
	s.Misrouted += o.Misrouted
	s.Created += o.Created
	s.TCPFlows += o.TCPFlows
	s.UDPFlows += o.UDPFlows
	s.Live += o.Live
	s.Expired += o.Expired
	s.Evicted += o.Evicted
	s.Flushed += o.Flushed
	s.PortReuse += o.PortReuse
	s.EmergencyEntries += o.EmergencyEntries
	s.Emergency += o.Emergency
	s.Capacity += o.Capacity
	s.Shards += o.Shards
	s.MemoryBytes += o.MemoryBytes
	for e, n := range o.Events {
		s.Events[e] += n
	}
}
