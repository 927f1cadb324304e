package correlate

import (
	"net/netip"
	"strconv"
	"time"
)

// The report's Go types carry typed values (addresses, durations,
// enums); json.go writes them with the unit-suffixed field names the JSON
// output documents.

// Verdict is who is to blame.
type Verdict string

// Verdicts.
const (
	Network      Verdict = "network"      // loss or queueing between or beyond the points
	Server       Verdict = "server"       // the server was slow to answer or stopped reading
	Client       Verdict = "client"       // the client stopped reading or aborted
	None         Verdict = "none"         // nothing wrong enough to blame
	Inconclusive Verdict = "inconclusive" // the captures cannot tell
)

// Report is the result of correlating two captures.
type Report struct {
	Verdict Verdict
	Reason  string
	// ClockOffset is the server capture's clock minus the client side's
	// at the client side's first packet (JSON clock_offset_s).
	ClockOffset time.Duration
	// ClockDriftPPM is how fast the server clock gains, in parts per million.
	ClockDriftPPM float64
	// ClockDriftUncertaintyPPM is the drift's standard error; a drift
	// below twice it is reported as 0.
	ClockDriftUncertaintyPPM float64
	// ClockUncertainty bounds the offset's error; negative when nothing
	// bounds it (JSON clock_uncertainty_ms, -1 then).
	ClockUncertainty time.Duration
	ClockSource      string
	// Orientation says whether the files were given in the right order.
	// ClientSide and ServerSide name the files in the order judged.
	Orientation Orientation
	// CommonWindow is when both captures were running, in the client
	// side's clock; only what happened inside it is judged.
	CommonWindow Window

	ClientSide CaptureSummary
	ServerSide CaptureSummary

	Flows []FlowReport
	// OnlyClientSide and OnlyServerSide list the connections seen at one
	// point only, as "client -> server" in that capture's addresses.
	OnlyClientSide []string
	OnlyServerSide []string
	Warnings       []string

	// Clock is the full clock estimate behind the Clock* fields; the JSON
	// output takes its sub-nanosecond offset and uncertainty from it.
	Clock Clock
}

// Orientation says how the two files were judged relative to the order
// they were given in.
type Orientation uint8

// Orientations.
const (
	// AsGiven: the first file is the client side, as given.
	AsGiven Orientation = iota
	// Swapped: the files show the second is nearer the client (packets
	// reached it first in both directions' clock estimate), and they were
	// judged that way round.
	Swapped
	// Reversed: the files look reversed, and Options.NoOrient kept the
	// order given.
	Reversed
)

var orientationNames = [...]string{"as_given", "swapped", "reversed"}

func (o Orientation) String() string {
	if int(o) < len(orientationNames) {
		return orientationNames[o]
	}
	return "orientation(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText writes the orientation's name.
func (o Orientation) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Side is one of the two capture points.
type Side uint8

// Sides; NoSide is the zero value, for a reference to no packet.
const (
	NoSide Side = iota
	ClientSide
	ServerSide
)

func (s Side) String() string {
	switch s {
	case ClientSide:
		return "client_side"
	case ServerSide:
		return "server_side"
	}
	return ""
}

// MarshalText writes "client_side", "server_side" or "".
func (s Side) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Party is one endpoint of a connection.
type Party uint8

// Parties; NoParty is the zero value.
const (
	NoParty Party = iota
	ClientParty
	ServerParty
)

func (p Party) String() string {
	switch p {
	case ClientParty:
		return "client"
	case ServerParty:
		return "server"
	}
	return ""
}

// MarshalText writes "client", "server" or "".
func (p Party) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Window is a span of time.
type Window struct {
	Start Timestamp `json:"start"`
	End   Timestamp `json:"end"`
}

// CaptureSummary describes one input.
type CaptureSummary struct {
	File string `json:"file"`
	// Files lists the files merged into this side when there were
	// several; frame numbers are those of their time-ordered merge
	// (mergecap -w merged.pcap FILES...).
	Files      []string `json:"files,omitempty"`
	Packets    uint64   `json:"packets"`
	TCPPackets uint64   `json:"tcp_packets"`
	Flows      int      `json:"flows"`
	Truncated  uint64   `json:"truncated,omitempty"`
	// Offload: the capture holds super-segments, packets longer than
	// their connection's MSS (TSO/GSO or GRO/LRO at the capturing host);
	// SuperSegments counts them. Each is matched and counted as the wire
	// segments it stands for.
	Offload       bool   `json:"offload"`
	SuperSegments uint64 `json:"super_segments"`
	// CaptureDuplicates counts packets this capture recorded twice
	// (identical copies within 1 ms, as a SPAN mirroring both ingress and
	// egress makes), left out of every count.
	CaptureDuplicates uint64 `json:"capture_duplicates"`
}

// Endpoints is a connection's client and server as one capture saw them.
type Endpoints struct {
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
}

// DirCount counts something per direction.
type DirCount struct {
	C2S int `json:"c2s"`
	S2C int `json:"s2c"`
}

// Total returns both directions' sum.
func (d DirCount) Total() int { return d.C2S + d.S2C }

// SideCount counts something per capture point.
type SideCount struct {
	ClientSide int `json:"client_side"`
	ServerSide int `json:"server_side"`
}

// Stat is the least, median and greatest of N durations (in JSON, in
// milliseconds).
type Stat struct {
	Min, Median, Max time.Duration
	N                int
}

// Transit is the one-way delay between the points, per direction.
type Transit struct {
	C2S Stat `json:"c2s"`
	S2C Stat `json:"s2c"`
}

// Handshake splits the three-way handshake's time by where it went.
type Handshake struct {
	Total      time.Duration
	C2S        time.Duration // first SYN at the client side to the SYN the server answered
	Server     time.Duration // SYN to SYN-ACK at the server
	S2C        time.Duration // SYN-ACK from server to client side
	Client     time.Duration // SYN-ACK to the client's ACK at the client side
	SYNRetrans int
}

// Retrans classifies the retransmissions seen at each sender's capture
// point (the client side for the client's, the server side for the
// server's).
type Retrans struct {
	AfterLossBetween int `json:"after_loss_between"` // the earlier copy was lost between the points
	LossBeyond       int `json:"loss_beyond_far_point"`
	Spurious         int `json:"spurious"`       // retransmitted data already acknowledged at the sender's point
	Premature        int `json:"premature_rto"`  // acknowledged at the receiver's point before the copy arrived: timer too short
	AfterAckLoss     int `json:"after_ack_loss"` // the receiver's ACK was lost between the points
	// LostBeforeClientSide: a client retransmission whose original
	// reached neither capture point, lost between the client and the
	// client-side point.
	LostBeforeClientSide int `json:"lost_before_client_side"`
	// AfterReordering: the earlier copy was reordered between the points
	// (it arrived after a later packet), and the receiver's duplicate ACKs
	// made the sender retransmit it.
	AfterReordering int `json:"after_reordering"`
	Unknown         int `json:"unknown,omitempty"` // earlier copy not in the capture
}

// FlowReport is the correlation of one connection.
type FlowReport struct {
	// Client and Server are as seen in the client-side capture.
	Client netip.AddrPort
	Server netip.AddrPort
	// ServerSideView is the pair as the server-side capture saw it, when
	// NAT changed addresses or ports.
	ServerSideView *Endpoints
	MatchedBy      string
	Verdict        Verdict
	Reason         string

	// Packets counts each side's packets, a super-segment as the wire
	// segments it stands for and capture duplicates left out
	// (CaptureDuplicates counts those).
	Packets           SideCount
	CaptureDuplicates SideCount
	MatchedPackets    int
	LostBetween       DirCount
	// LostPct is lost-between packets as a percentage of those that
	// passed the upstream point, per direction.
	LostPct      DirPct
	CaptureDrops int
	// OutsideCommonWindow counts packets seen at one point only because
	// the other capture had not started or had stopped: neither lost nor
	// missed, and left out of the verdict.
	OutsideCommonWindow int
	CaptureDropAt       SideCount
	// ReorderedBetween counts segments (pure ACKs aside) that reached the
	// downstream point after a packet that left the upstream point later; DuplicatedBetween
	// second copies at the downstream point of a packet that passed the
	// upstream point once (more than 1 ms apart; closer copies are capture
	// duplicates). Both are the network's doing.
	ReorderedBetween  DirCount
	DuplicatedBetween DirCount

	Retransmissions     int
	RetransmissionKinds Retrans

	// ZeroWindow is how long either end advertised a zero window,
	// ZeroWindowBy per end.
	ZeroWindow    time.Duration
	ZeroWindowBy  PartyDurations
	ZeroWindows   PartyCount
	WindowShrinks PartyCount
	ResetBy       Party // who aborted the connection, if anyone did

	Transit Transit
	// Think is the median server think time (request's last byte at the
	// server to the response's first byte leaving it); ThinkMax the
	// largest; Exchanges how many request/response turns were seen.
	Think     time.Duration
	ThinkMax  time.Duration
	Exchanges int
	// ClientWait is the median time from a response at the client side
	// to the next request.
	ClientWait time.Duration
	Handshake  *Handshake

	Evidence []Evidence

	// Blame is how much time each party cost, the basis of the verdict.
	Blame Blame

	// TransitSamples holds, with Options.KeepTransit, every matched
	// packet's one-way delay in frame order of the client side; nil
	// otherwise. It is not part of the JSON.
	TransitSamples []TransitSample
}

// Blame is time attributed to each party (in JSON, in seconds).
type Blame struct {
	Network time.Duration
	Server  time.Duration
	Client  time.Duration
}

// Evidence is one packet that supports a finding, by frame number in each
// capture (0, null in JSON, when the packet is not in that capture).
type Evidence struct {
	Kind        EvidenceKind
	SpanFrame   Frame
	ServerFrame Frame
	Time        Timestamp // in the client side's clock
	// RefFrame is a related packet (the retransmission that followed, the
	// ACK that proved delivery, the request answered) in the capture RefIn
	// names.
	RefFrame Frame
	RefIn    Side
	// Delay is the time the finding cost, when it has one (the wait for a
	// retransmission, a think time).
	Delay  time.Duration
	Detail string
}

// EvidenceKind is what a piece of evidence shows; its String is the
// JSON "kind".
type EvidenceKind uint8

const (
	LostC2S EvidenceKind = iota
	LostS2C
	LostSYN
	LostSYNACK
	CaptureDrop
	SpuriousRetransmission
	RetransmissionAfterAckLoss
	PrematureRetransmission
	LossBeyondFarPoint
	LostBeforeClientSide
	ReorderedBetween
	DuplicatedBetween
	RetransmissionAfterReordering
	ZeroWindowClient
	ZeroWindowServer
	ServerThink
	SlowSYNACK
	ResetByClient
	ResetByServer
	numEvKinds
)

var evidenceNames = [numEvKinds]string{
	"lost_c2s", "lost_s2c", "lost_syn", "lost_synack", "capture_drop",
	"spurious_retransmission", "retransmission_after_ack_loss", "premature_retransmission", "loss_beyond_far_point",
	"lost_before_client_side", "reordered_between", "duplicated_between", "retransmission_after_reordering", "zero_window_client", "zero_window_server", "server_think", "slow_synack", "reset_by_client", "reset_by_server",
}

func (k EvidenceKind) String() string {
	if k < numEvKinds {
		return evidenceNames[k]
	}
	return "evidence(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText writes the kind's name.
func (k EvidenceKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Frame is a 1-based frame number; 0 means none and is written as null.
type Frame uint32

// MarshalJSON writes the number, or null for none.
func (f Frame) MarshalJSON() ([]byte, error) {
	if f == 0 {
		return []byte("null"), nil
	}
	return strconv.AppendUint(nil, uint64(f), 10), nil
}

// Timestamp is a time in ns since the epoch; it is written in JSON and
// text as RFC 3339 UTC with nanoseconds.
type Timestamp int64

func (t Timestamp) String() string {
	return time.Unix(0, int64(t)).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// MarshalJSON writes the time as a string.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// DirPct is a percentage per direction.
type DirPct struct {
	C2S float64 `json:"c2s"`
	S2C float64 `json:"s2c"`
}

// PartyDurations is a duration per endpoint (in JSON, in seconds).
type PartyDurations struct {
	Client time.Duration
	Server time.Duration
}

// PartyCount counts something per endpoint.
type PartyCount struct {
	Client int `json:"client"`
	Server int `json:"server"`
}

// Filter narrows which connections are reported (all are still used to
// estimate the clock). Zero fields match anything.
type Filter struct {
	Host netip.Addr // either endpoint, in either capture
	Port uint16     // either endpoint's port, in either capture
	// Flow: both endpoints, in either order, in either capture; an
	// invalid second endpoint means only the first must match.
	Flow [2]netip.AddrPort
}

// Options tune Correlate.
type Options struct {
	// Offset is a known clock offset (server minus client side), used
	// instead of estimating one when OffsetKnown is set.
	Offset      time.Duration
	OffsetKnown bool
	Filter      Filter
	// MaxEvidence bounds the evidence listed per flow (default 12).
	MaxEvidence int
	// NoOrient judges the captures in the order given even when they
	// show that it is reversed.
	NoOrient bool
	// KeepTransit fills FlowReport.TransitSamples with the one-way delay
	// of every matched packet (for plots; 32 bytes a matched packet). It
	// changes nothing else in the report.
	KeepTransit bool
}

// TransitSample is the one-way delay between the points of one matched
// packet: when it passed the upstream point (in the client side's
// clock), which way it went, and its frame in each capture.
type TransitSample struct {
	Time        Timestamp
	Delay       time.Duration // downstream time minus upstream time, clocks corrected
	ToServer    bool          // client to server (upstream is the client side)
	SpanFrame   Frame
	ServerFrame Frame
}
