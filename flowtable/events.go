package flowtable

import "time"

// Event is one kind of TCP analysis finding. The first group carries
// Wireshark's names and semantics (tcp.analysis.<name>); the rest are
// netblame's own.
type Event uint8

// Events with Wireshark's semantics. Retransmission is the plain kind only:
// Wireshark's display filter tcp.analysis.retransmission also matches fast
// and spurious retransmissions (see EventSet.MatchesFilter).
const (
	Retransmission Event = iota
	FastRetransmission
	SpuriousRetransmission
	OutOfOrder
	LostSegment
	AckLostSegment
	DuplicateAck
	ZeroWindow
	ZeroWindowProbe
	ZeroWindowProbeAck
	WindowFull
	WindowUpdate
	KeepAlive
	KeepAliveAck
	ReusedPorts

	// netblame's own events.

	// WindowShrink: the advertised window's right edge (ack + window)
	// moved left, or the window fell below half its recent maximum.
	// EventRecord.OldWindow and NewWindow hold the before and after.
	WindowShrink
	// SynRetransmission: a SYN (without ACK) repeated with the same ISN.
	SynRetransmission
	// Reset: a segment with RST.
	Reset

	// NumEvents is the number of Event kinds.
	NumEvents
)

var eventNames = [NumEvents]string{
	Retransmission:         "retransmission",
	FastRetransmission:     "fast_retransmission",
	SpuriousRetransmission: "spurious_retransmission",
	OutOfOrder:             "out_of_order",
	LostSegment:            "lost_segment",
	AckLostSegment:         "ack_lost_segment",
	DuplicateAck:           "duplicate_ack",
	ZeroWindow:             "zero_window",
	ZeroWindowProbe:        "zero_window_probe",
	ZeroWindowProbeAck:     "zero_window_probe_ack",
	WindowFull:             "window_full",
	WindowUpdate:           "window_update",
	KeepAlive:              "keep_alive",
	KeepAliveAck:           "keep_alive_ack",
	ReusedPorts:            "reused_ports",
	WindowShrink:           "window_shrink",
	SynRetransmission:      "syn_retransmission",
	Reset:                  "reset",
}

// String returns the event's name: Wireshark's field name after
// "tcp.analysis." for its events, netblame's snake_case name otherwise.
func (e Event) String() string {
	if e < NumEvents {
		return eventNames[e]
	}
	return "unknown"
}

// infoTags are the notes Wireshark puts in brackets before the Info
// column of a TCP packet, and netblame's own in the same style.
var infoTags = [NumEvents]string{
	Retransmission:         "TCP Retransmission",
	FastRetransmission:     "TCP Fast Retransmission",
	SpuriousRetransmission: "TCP Spurious Retransmission",
	OutOfOrder:             "TCP Out-Of-Order",
	LostSegment:            "TCP Previous segment not captured",
	AckLostSegment:         "TCP ACKed unseen segment",
	DuplicateAck:           "TCP Dup ACK",
	ZeroWindow:             "TCP ZeroWindow",
	ZeroWindowProbe:        "TCP ZeroWindowProbe",
	ZeroWindowProbeAck:     "TCP ZeroWindowProbeAck",
	WindowFull:             "TCP Window Full",
	WindowUpdate:           "TCP Window Update",
	KeepAlive:              "TCP Keep-Alive",
	KeepAliveAck:           "TCP Keep-Alive ACK",
	ReusedPorts:            "TCP Port numbers reused",
	WindowShrink:           "Window Shrink",
	SynRetransmission:      "SYN Retransmission",
	// Reset has none: the flags say RST.
}

// InfoTag returns the note Wireshark puts in brackets before a TCP
// packet's Info column for e ("TCP Dup ACK"), netblame's own in the same
// style for its events, or "" (Reset, whose flags say it).
func (e Event) InfoTag() string {
	if e < NumEvents {
		return infoTags[e]
	}
	return ""
}

// Wireshark reports whether e is one of Wireshark's tcp.analysis events.
func (e Event) Wireshark() bool { return e <= ReusedPorts }

// ParseEvent returns the Event named s (as String prints it).
func ParseEvent(s string) (Event, bool) {
	for i, n := range eventNames {
		if n == s {
			return Event(i), true
		}
	}
	return 0, false
}

// EventSet is a set of Events, one bit each.
type EventSet uint32

// Has reports whether e is in the set.
func (s EventSet) Has(e Event) bool { return s&(1<<e) != 0 }

// Add returns the set with e added.
func (s EventSet) Add(e Event) EventSet { return s | 1<<e }

// MatchesFilter reports whether Wireshark's display filter
// tcp.analysis.<e> would match a packet with these events: the same as Has,
// except that Retransmission also matches fast and spurious
// retransmissions, as in Wireshark.
func (s EventSet) MatchesFilter(e Event) bool {
	if e == Retransmission {
		return s&(1<<Retransmission|1<<FastRetransmission|1<<SpuriousRetransmission) != 0
	}
	return s.Has(e)
}

// EventRecord describes one event of one packet. OnEvent receives a
// pointer that is valid only during the call.
type EventRecord struct {
	Kind  Event
	Frame uint64 // 1-based frame number of the packet
	TS    int64  // packet time, ns since the epoch
	Flow  FlowID
	Dir   Direction
	// Seq and Len: the segment's sequence number relative to its
	// direction's ISN, and its payload length. Ack is relative to the
	// reverse direction's ISN.
	Seq, Ack uint32
	Len      uint32
	// Window is the packet's scaled advertised window (-1 when the scale
	// is unknown). For WindowShrink, OldWindow and NewWindow are the
	// scaled (or, scale unknown, raw) window before and after, and
	// OldRightEdge/NewRightEdge the relative right edges (ack + window).
	Window                     int64
	OldWindow, NewWindow       int64
	OldRightEdge, NewRightEdge uint32
	// Delay: for retransmissions, the time since the segment's last
	// transmission (Wireshark's RTO, from the oldest unacked segment);
	// for SynRetransmission, the time since the first SYN.
	Delay time.Duration
}

// String lists the set's event names, comma-separated.
func (s EventSet) String() string {
	var b []byte
	for e := Event(0); e < NumEvents; e++ {
		if s.Has(e) {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, e.String()...)
		}
	}
	if b == nil {
		return "none"
	}
	return string(b)
}
