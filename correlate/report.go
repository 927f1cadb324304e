package correlate

import (
	"net/netip"
	"strconv"
	"time"
)

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
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// ClockOffsetS is the server capture's clock minus the client side's,
	// in seconds, at the client side's first packet.
	ClockOffsetS float64 `json:"clock_offset_s"`
	// ClockDriftPPM is how fast the server clock gains, in parts per million.
	ClockDriftPPM float64 `json:"clock_drift_ppm"`
	// ClockDriftUncertaintyPPM is the drift's standard error; a drift
	// below twice it is reported as 0.
	ClockDriftUncertaintyPPM float64 `json:"clock_drift_uncertainty_ppm"`
	// ClockUncertaintyMS bounds the offset's error (-1 when unbounded).
	ClockUncertaintyMS float64 `json:"clock_uncertainty_ms"`
	ClockSource        string  `json:"clock_source"`
	// Orientation says whether the files were given in the right order:
	// "as_given"; "swapped" when they show the second file is nearer the
	// client (packets reached it first in both directions' clock
	// estimate) and were judged that way round; "reversed" when
	// Options.NoOrient kept a reversed order. ClientSide and ServerSide
	// name the files in the order judged.
	Orientation string `json:"orientation"`
	// CommonWindow is when both captures were running, in the client
	// side's clock; only what happened inside it is judged.
	CommonWindow Window `json:"common_window"`

	ClientSide CaptureSummary `json:"client_side"`
	ServerSide CaptureSummary `json:"server_side"`

	Flows []FlowReport `json:"flows"`
	// OnlyClientSide and OnlyServerSide list the connections seen at one
	// point only, as "client -> server" in that capture's addresses.
	OnlyClientSide []string `json:"only_client_side,omitempty"`
	OnlyServerSide []string `json:"only_server_side,omitempty"`
	Warnings       []string `json:"warnings,omitempty"`

	// Clock is the full clock estimate behind the Clock* fields.
	Clock Clock `json:"-"`
}

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
	Client string `json:"client"`
	Server string `json:"server"`
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

// Stat is a median and maximum in milliseconds.
type Stat struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Transit is the one-way delay between the points, per direction.
type Transit struct {
	C2S Stat `json:"c2s"`
	S2C Stat `json:"s2c"`
}

// Handshake splits the three-way handshake's time (ms) by where it went.
type Handshake struct {
	TotalMS    float64 `json:"total_ms"`
	C2SMS      float64 `json:"network_c2s_ms"` // first SYN at the client side to the SYN the server answered
	ServerMS   float64 `json:"server_ms"`      // SYN to SYN-ACK at the server
	S2CMS      float64 `json:"network_s2c_ms"` // SYN-ACK from server to client side
	ClientMS   float64 `json:"client_ms"`      // SYN-ACK to the client's ACK at the client side
	SYNRetrans int     `json:"syn_retransmissions"`
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
	Client string `json:"client"`
	Server string `json:"server"`
	// ServerSideView is the pair as the server-side capture saw it, when
	// NAT changed addresses or ports.
	ServerSideView *Endpoints `json:"server_side,omitempty"`
	MatchedBy      string     `json:"matched_by"`
	Verdict        Verdict    `json:"verdict"`
	Reason         string     `json:"reason"`

	// Packets counts each side's packets, a super-segment as the wire
	// segments it stands for and capture duplicates left out
	// (CaptureDuplicates counts those).
	Packets           SideCount `json:"packets"`
	CaptureDuplicates SideCount `json:"capture_duplicates"`
	MatchedPackets    int       `json:"matched_packets"`
	LostBetween       DirCount  `json:"lost_between"`
	// LostPct is lost-between packets as a percentage of those that
	// passed the upstream point, per direction.
	LostPct      DirPct `json:"lost_between_pct"`
	CaptureDrops int    `json:"capture_drops"`
	// OutsideCommonWindow counts packets seen at one point only because
	// the other capture had not started or had stopped: neither lost nor
	// missed, and left out of the verdict.
	OutsideCommonWindow int       `json:"outside_common_window"`
	CaptureDropAt       SideCount `json:"capture_drops_at"`
	// ReorderedBetween counts segments (pure ACKs aside) that reached the
	// downstream point after a packet that left the upstream point later; DuplicatedBetween
	// second copies at the downstream point of a packet that passed the
	// upstream point once (more than 1 ms apart; closer copies are capture
	// duplicates). Both are the network's doing.
	ReorderedBetween  DirCount `json:"reordered_between"`
	DuplicatedBetween DirCount `json:"duplicated_between"`

	Retransmissions     int     `json:"retransmissions"`
	RetransmissionKinds Retrans `json:"retransmission_kinds"`

	ZeroWindowS   float64      `json:"zero_window_s"`
	ZeroWindowBy  PartySeconds `json:"zero_window_s_by"`
	ZeroWindows   PartyCount   `json:"zero_windows"`
	WindowShrinks PartyCount   `json:"window_shrinks"`
	ResetBy       string       `json:"reset_by,omitempty"`

	TransitMS Transit `json:"transit_ms"`
	// ThinkMS is the median server think time (request's last byte at the
	// server to the response's first byte leaving it); ThinkMaxMS the
	// largest; Exchanges how many request/response turns were seen.
	ThinkMS    float64    `json:"think_ms"`
	ThinkMaxMS float64    `json:"think_max_ms"`
	Exchanges  int        `json:"exchanges"`
	ClientMS   float64    `json:"client_ms"` // median: response at the client side to the next request
	Handshake  *Handshake `json:"handshake,omitempty"`

	Evidence []Evidence `json:"evidence"`

	// Blame is how much time each party cost, the basis of the verdict.
	Blame Blame `json:"blame_s"`
}

// Blame is time attributed to each party, in seconds.
type Blame struct {
	Network float64 `json:"network"`
	Server  float64 `json:"server"`
	Client  float64 `json:"client"`
}

// Evidence is one packet that supports a finding, by frame number in each
// capture (0, null in JSON, when the packet is not in that capture).
type Evidence struct {
	Kind        string    `json:"kind"`
	SpanFrame   Frame     `json:"span_frame"`
	ServerFrame Frame     `json:"server_frame"`
	Time        Timestamp `json:"time"` // in the client side's clock
	// RefFrame is a related packet (the retransmission that followed, the
	// ACK that proved delivery, the request answered) in the capture RefIn
	// names ("client_side" or "server_side").
	RefFrame Frame  `json:"ref_frame,omitempty"`
	RefIn    string `json:"ref_in,omitempty"`
	// DelayMS is the time the finding cost, when it has one (the wait for
	// a retransmission, a think time).
	DelayMS float64 `json:"delay_ms,omitempty"`
	Detail  string  `json:"detail"`
}

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

// PartySeconds is a duration in seconds per endpoint.
type PartySeconds struct {
	Client float64 `json:"client"`
	Server float64 `json:"server"`
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
}
