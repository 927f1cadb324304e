package netlab

import (
	"encoding/json"
	"fmt"
	"os"
)

// Drop is one packet that did not make it: lost between the capture
// points (Where "between": decided by the impairer or tail-dropped by the
// TBF bottleneck) or removed from span.pcap after capture (Where
// "span-capture").
type Drop struct {
	Conn   int    `json:"conn"`   // connection index, -1 when unknown
	Dir    string `json:"dir"`    // "c2s" or "s2c"
	Where  string `json:"where"`  // "between" or "span-capture"
	Reason string `json:"reason"` // "loss", "nth", "syn", "tbf", "span-capture"
	Time   int64  `json:"time_ns"`
	// Src and Dst as seen where the packet was last captured (the span
	// point for c2s, the server for s2c; for span-capture drops the
	// server's view).
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	IPID   uint32 `json:"ip_id"` // 0 for IPv6
	Seq    uint32 `json:"seq"`
	RelSeq uint32 `json:"rel_seq"` // seq minus the sender's ISN
	Ack    uint32 `json:"ack"`
	Len    int    `json:"len"` // TCP payload bytes
	Flags  uint16 `json:"tcp_flags"`
	// FlagNames is Flags as letters (S, F, R, P, A), like the shared truth files.
	FlagNames string `json:"flags"`
	TSVal     uint32 `json:"tsval,omitempty"`
	// SpanFrame / ServerFrame: 1-based frame of this packet in the final
	// span.pcap / server.pcap, 0 when that file lacks it.
	SpanFrame   int `json:"span_frame"`
	ServerFrame int `json:"server_frame"`
}

// NATMapping is one connection's addresses at both points.
type NATMapping struct {
	Conn         int    `json:"conn"`
	SpanClient   string `json:"span_client"`   // client ip:port in span.pcap
	SpanServer   string `json:"span_server"`   // server ip:port in span.pcap
	ServerClient string `json:"server_client"` // the client as the server sees it
	ServerServer string `json:"server_server"` // the server's own ip:port
}

// DelayStats summarises the one-way delay between the points in one
// direction, measured from packets matched across the raw captures.
type DelayStats struct {
	Packets int     `json:"packets"`
	Min     float64 `json:"min"`
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// DirCount is a per-direction count.
type DirCount struct {
	C2S int `json:"c2s"`
	S2C int `json:"s2c"`
}

// FlowTruth is the ground truth of one connection.
type FlowTruth struct {
	Conn             int      `json:"conn"`
	Spec             Conn     `json:"spec"`
	Client           string   `json:"client"` // ip:port in span.pcap
	Server           string   `json:"server"` // ip:port in span.pcap
	ServerSeesClient string   `json:"server_sees_client"`
	ServerSeesServer string   `json:"server_sees_server"`
	ExpectedBlame    string   `json:"expected_blame"`
	Reason           string   `json:"reason"`
	ImpairerDrops    DirCount `json:"impairer_drops"`
	LostBetween      DirCount `json:"lost_between"`
	CaptureDrops     int      `json:"capture_drops"`
	// ReorderedBetween counts data segments that reached the downstream
	// point after one that left the upstream point later;
	// RetransAfterReordering the retransmissions of those segments (each
	// needless: the original was delivered); DuplicatedBetween the second
	// copies downstream of a packet that passed the upstream point once.
	ReorderedBetween       DirCount `json:"reordered_between"`
	RetransAfterReordering DirCount `json:"retransmissions_after_reordering"`
	DuplicatedBetween      DirCount `json:"duplicated_between"`
	// SpanDuplicates counts the copies span.pcap holds of this
	// connection's packets (Scenario.SpanDuplicates).
	SpanDuplicates int        `json:"span_duplicates"`
	SpanPackets    int        `json:"span_packets"`
	ServerPackets  int        `json:"server_packets"`
	ClientResult   *EndResult `json:"client_result,omitempty"`
	ServerResult   *EndResult `json:"server_result,omitempty"`
}

// EndResult is what one endpoint program reports about a connection.
type EndResult struct {
	ID        int     `json:"id"`
	Local     string  `json:"local,omitempty"`
	Remote    string  `json:"remote,omitempty"`
	BytesIn   int64   `json:"bytes_in"`
	BytesOut  int64   `json:"bytes_out"`
	ConnectMs float64 `json:"connect_ms,omitempty"`
	StartNs   int64   `json:"start_ns"`
	EndNs     int64   `json:"end_ns"`
	Err       string  `json:"error,omitempty"`
}

// CaptureInfo describes one capture file.
type CaptureInfo struct {
	File        string `json:"file"`
	Namespace   string `json:"namespace_role"`
	Interface   string `json:"interface"`
	Where       string `json:"where"`
	Packets     int    `json:"packets"`
	KernelDrops int    `json:"kernel_drops"`
	Snaplen     int    `json:"snaplen"`
}

// ClockTruth is how server.pcap's timestamps were shifted.
type ClockTruth struct {
	OffsetNs int64   `json:"server_offset_ns"`
	DriftPPM float64 `json:"drift_ppm"`
	T0Ns     int64   `json:"t0_ns"` // original time of server.pcap's first packet
	Meaning  string  `json:"meaning"`
}

// Check is one self-consistency assertion evaluated on the run.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Topology records names and addresses of the run.
type Topology struct {
	Namespaces       []string `json:"namespaces"`
	Client           string   `json:"client"`
	Server           string   `json:"server"`
	ServerPort       int      `json:"server_port"`
	Target           string   `json:"target"` // ip:port the client connects to
	RouterClientSide string   `json:"router_client_side"`
	RouterServerSide string   `json:"router_server_side"`
	ClientPorts      string   `json:"client_ports"`
	Path             string   `json:"path"`
}

// Truth is the ground truth of one run, written as truth.json in the shape
// of ../shared/twopoint/*/truth.json (same key names where they overlap).
type Truth struct {
	Scenario      string                 `json:"scenario"`
	Description   string                 `json:"description"`
	Generator     string                 `json:"generator"`
	Created       string                 `json:"created"`
	Seed          int64                  `json:"seed"`
	ExpectedBlame string                 `json:"expected_blame"`
	PerFlowBlame  map[string]string      `json:"per_flow_blame"` // key: client ip:port in span.pcap
	Connections   int                    `json:"connections"`
	Parameters    Scenario               `json:"parameters"`
	Topology      Topology               `json:"topology"`
	Captures      map[string]CaptureInfo `json:"captures"` // "span", "server"
	Clock         ClockTruth             `json:"clock"`
	ClockOffsetS  float64                `json:"clock_offset_s"` // server clock minus span clock at t0
	DriftPPM      float64                `json:"drift_ppm"`
	NAT           []NATMapping           `json:"nat"`
	Flows         []FlowTruth            `json:"flows"`
	// Drops lists every packet lost between the points and every packet
	// removed from span.pcap, in time order.
	Drops []Drop `json:"drops"`
	// ImpairerDrops is the subset of Drops the impairer decided (shared
	// files' key).
	ImpairerDrops []Drop `json:"impairer_drops"`
	NetLostC2S    int    `json:"net_lost_c2s"`
	NetLostS2C    int    `json:"net_lost_s2c"`
	CaptureDrops  int    `json:"capture_drops"`
	// CaptureDuplicates counts each file's copies of packets it holds
	// twice; Offload says whether it holds super-segments (server.pcap
	// with Scenario.ServerOffloads).
	CaptureDuplicates map[string]int  `json:"capture_duplicates"`
	Offload           map[string]bool `json:"offload"`
	TBFDrops          int             `json:"tbf_drops"` // tc's own drop counter on the bottleneck(s)
	// OneWayDelayMs is the median one-way delay between the points over
	// both directions; MeasuredDelay has the per-direction detail.
	OneWayDelayMs float64                `json:"one_way_delay_ms"`
	MeasuredDelay map[string]DelayStats  `json:"measured_one_way_delay_ms"`
	ImpairerStats map[string]ImpairerDir `json:"impairer_stats"`
	NFQueue       []string               `json:"nfnetlink_queue"`
	Client        string                 `json:"client"`
	Server        string                 `json:"server"`
	Checks        []Check                `json:"checks"`
	Warnings      []string               `json:"warnings"`
	WallSeconds   float64                `json:"wall_seconds"`
}

// ImpairerDir counts what the impairer saw in one direction.
type ImpairerDir struct {
	Packets int   `json:"packets"`
	Bytes   int64 `json:"bytes"`
	Dropped int   `json:"dropped"`
	// Held and Duplicated count the data segments held back (reordering
	// them) and sent twice.
	Held       int `json:"held,omitempty"`
	Duplicated int `json:"duplicated,omitempty"`
}

// FailedChecks returns the names and details of checks that did not hold.
func (t *Truth) FailedChecks() []string {
	var out []string
	for _, c := range t.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

// WriteFile writes t as indented JSON.
func (t *Truth) WriteFile(path string) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadTruth reads a truth.json written by WriteFile.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &t, nil
}
