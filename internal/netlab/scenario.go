package netlab

import "time"

// Blame values, as in truth.json and in correlate's verdicts.
const (
	BlameNetwork = "network"
	BlameServer  = "server"
	BlameClient  = "client"
	BlameNone    = "none"
)

// Impairment is what the router does to one direction of traffic between
// the two capture points.
type Impairment struct {
	// DropPct drops this percentage of the direction's data segments
	// (TCP with payload) at random, from a generator seeded by
	// Scenario.Seed; every drop is recorded. Handshakes and pure ACKs are
	// never dropped at random, so runs stay short.
	DropPct float64 `json:"drop_pct,omitempty"`
	// DropNth drops exactly these data segments of this direction
	// (1-based ordinals over all connections, in the order the router
	// sees them).
	DropNth []int `json:"drop_nth,omitempty"`
	// DropSYNOfConns drops the first SYN of these connection indices
	// (c2s only: a SYN travels client to server).
	DropSYNOfConns []int `json:"drop_syn_of_conns,omitempty"`
	// DelayMs holds every packet of this direction for this long in the
	// router (the kernel has no netem; the NFQUEUE impairer delays).
	DelayMs int `json:"delay_ms,omitempty"`
	// RateKbit puts a TBF bottleneck on the router's egress in this
	// direction; 0 means none. Its tail drops are network loss too and
	// are recovered from the two captures.
	RateKbit int `json:"rate_kbit,omitempty"`
	// QueueMs is the TBF latency bound (queue length in time); default 20.
	QueueMs int `json:"queue_ms,omitempty"`
	// HoldNth and HoldPct hold back these data segments (ordinals as for
	// DropNth) or this percentage of them for HoldMs (default 10) beyond
	// DelayMs, so that later segments overtake them: reordering between
	// the points. Every hold is recorded.
	HoldNth []int   `json:"hold_nth,omitempty"`
	HoldPct float64 `json:"hold_pct,omitempty"`
	HoldMs  int     `json:"hold_ms,omitempty"`
	// DupNth and DupPct send a second, identical copy of these data
	// segments (or this percentage) DupGapMs (default 3) after the
	// original: duplication between the points. The gap is longer than
	// correlate's 1 ms capture-duplicate window, as a network duplicate's
	// is. IPv4 without NAT or offloads only.
	DupNth   []int   `json:"dup_nth,omitempty"`
	DupPct   float64 `json:"dup_pct,omitempty"`
	DupGapMs int     `json:"dup_gap_ms,omitempty"`
}

// queued reports whether the impairment needs the impairer (not only
// the TBF bottleneck).
func (i *Impairment) queued() bool {
	return i.DropPct > 0 || len(i.DropNth) > 0 || len(i.DropSYNOfConns) > 0 || i.DelayMs > 0 || i.holds() || i.dups()
}

// holds and dups report whether the impairment reorders or duplicates.
func (i *Impairment) holds() bool { return len(i.HoldNth) > 0 || i.HoldPct > 0 }
func (i *Impairment) dups() bool  { return len(i.DupNth) > 0 || i.DupPct > 0 }

// Conn is one TCP connection from client to server.
type Conn struct {
	// Mode: "bulk" (client downloads Bytes), "upload" (client sends
	// Bytes, server answers a 2-byte "ok"), "rr" (Rounds of ReqBytes
	// request then Bytes response).
	Mode     string `json:"mode"`
	Bytes    int    `json:"bytes,omitempty"`
	ReqBytes int    `json:"req_bytes,omitempty"`
	Rounds   int    `json:"rounds,omitempty"`
	// StartMs delays the connect after the client starts.
	StartMs int `json:"start_ms,omitempty"`
	// ServerThinkMs: the server waits this long before each response
	// (rr) or before sending (bulk).
	ServerThinkMs int `json:"server_think_ms,omitempty"`
	// ServerStallMs: the server stops reading for this long after
	// StallAfter bytes (upload); with a small server SO_RCVBUF its
	// window falls to zero.
	ServerStallMs int `json:"server_stall_ms,omitempty"`
	// ClientStallMs: the client stops reading for this long after
	// StallAfter bytes (bulk), with a small SO_RCVBUF.
	ClientStallMs int `json:"client_stall_ms,omitempty"`
	// StallAfter is where a stall starts; default a quarter of Bytes.
	StallAfter int `json:"stall_after,omitempty"`
	// ClientRST: the client aborts with RST (SO_LINGER 0) after reading
	// half of a bulk download.
	ClientRST bool `json:"client_rst,omitempty"`
	// Blame overrides the per-flow expected blame derived from the spec.
	Blame string `json:"blame,omitempty"`
}

// Scenario is one run of the lab: topology options, impairments, traffic
// and post-processing of the captures.
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// ExpectedBlame is the overall verdict a correct correlator gives.
	ExpectedBlame string `json:"expected_blame"`
	Seed          int64  `json:"seed"`
	IPv6          bool   `json:"ipv6,omitempty"`
	// NAT: the client connects to the router's client-side address on
	// port 80; the router DNATs to the server and SNATs the source to its
	// server-side address and a port in 20000-29999, so both addresses
	// and ports differ between the capture points. IPv4 only.
	NAT bool `json:"nat,omitempty"`

	C2S Impairment `json:"c2s"`
	S2C Impairment `json:"s2c"`

	Conns []Conn `json:"conns"`

	// ServerRcvBuf / ClientRcvBuf set SO_RCVBUF (bytes) on the server's
	// listener / the client's sockets; 0 = kernel default, except that a
	// stall implies 16 KiB so the window really closes.
	ServerRcvBuf int `json:"server_rcvbuf,omitempty"`
	ClientRcvBuf int `json:"client_rcvbuf,omitempty"`

	// ClockOffset and DriftPPM shift server.pcap's timestamps after the
	// capture: t' = t + offset + drift_ppm*1e-6*(t - t0), t0 its first packet.
	ClockOffset time.Duration `json:"clock_offset_ns,omitempty"`
	DriftPPM    float64       `json:"drift_ppm,omitempty"`
	// Snaplen of both captures; 0 = full packets.
	Snaplen int `json:"snaplen,omitempty"`
	// SpanDropPct removes this percentage of the data segments that
	// reached both points from span.pcap after capture (a SPAN port that
	// drops under load). Recorded with Where "span-capture".
	SpanDropPct float64 `json:"span_drop_pct,omitempty"`

	// ServerOffloads leaves TSO, GSO, GRO and checksum offload on at the
	// server's interface, as on every real server: server.pcap then
	// holds super-segments (what the stack hands the driver and what GRO
	// hands the stack) while the router and the span see wire-sized
	// segments. ClientOffloads does the same at the client's interface.
	ServerOffloads bool `json:"server_offloads,omitempty"`
	ClientOffloads bool `json:"client_offloads,omitempty"`
	// SpanDuplicates writes every frame of span.pcap twice, the copy
	// 20 µs after the original, as a SPAN session mirroring both
	// ingress and egress records each packet.
	SpanDuplicates bool `json:"span_duplicates,omitempty"`
}

// Scenarios returns the named scenarios the lab's tests run, each a few
// seconds long, in a stable order.
func Scenarios() []Scenario {
	d := Impairment{DelayMs: 5}
	bulk := func(n int) Conn { return Conn{Mode: "bulk", Bytes: n} }
	rr := func(req, resp, rounds, start int) Conn {
		return Conn{Mode: "rr", ReqBytes: req, Bytes: resp, Rounds: rounds, StartMs: start}
	}
	with := func(i Impairment, f func(*Impairment)) Impairment { f(&i); return i }
	return []Scenario{
		{Name: "clean", ExpectedBlame: BlameNone, Seed: 1, C2S: d, S2C: d,
			Description: "a download and request/response rounds, no impairment",
			Conns:       []Conn{bulk(256 << 10), rr(200, 4096, 3, 50)}},
		{Name: "loss-c2s", ExpectedBlame: BlameNetwork, Seed: 2, S2C: d,
			C2S:         with(d, func(i *Impairment) { i.DropPct = 3 }),
			Description: "uploads with 3% random loss client to server between the points",
			Conns:       []Conn{{Mode: "upload", Bytes: 256 << 10}, {Mode: "upload", Bytes: 256 << 10, StartMs: 20}}},
		{Name: "loss-s2c", ExpectedBlame: BlameNetwork, Seed: 3, C2S: d,
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "downloads with 2% random loss server to client between the points",
			Conns:       []Conn{bulk(384 << 10), {Mode: "bulk", Bytes: 384 << 10, StartMs: 20}}},
		{Name: "syn-loss", ExpectedBlame: BlameNetwork, Seed: 4, S2C: d,
			C2S:         with(d, func(i *Impairment) { i.DropSYNOfConns = []int{0} }),
			Description: "the first SYN of conn 0 is dropped: its handshake waits ~1 s for the SYN retransmission",
			Conns:       []Conn{rr(200, 2048, 2, 0), rr(200, 2048, 2, 50)}},
		{Name: "congestion", ExpectedBlame: BlameNetwork, Seed: 5, C2S: d,
			S2C:         with(d, func(i *Impairment) { i.RateKbit = 8000; i.QueueMs = 10 }),
			Description: "two parallel downloads through an 8 Mbit/s TBF bottleneck with a short queue: tail drops",
			Conns:       []Conn{bulk(512 << 10), {Mode: "bulk", Bytes: 512 << 10}}},
		{Name: "server-think", ExpectedBlame: BlameServer, Seed: 6, C2S: d, S2C: d,
			Description: "request/response rounds; the server waits 300 ms before each response",
			Conns: []Conn{{Mode: "rr", ReqBytes: 300, Bytes: 8192, Rounds: 3, ServerThinkMs: 300},
				{Mode: "rr", ReqBytes: 300, Bytes: 8192, Rounds: 3, ServerThinkMs: 300, StartMs: 100}}},
		{Name: "server-recv-stall", ExpectedBlame: BlameServer, Seed: 7, C2S: d, S2C: d,
			Description: "an upload; the server (SO_RCVBUF 16 KiB) stops reading for 1 s after 64 KiB: zero window",
			Conns:       []Conn{{Mode: "upload", Bytes: 256 << 10, ServerStallMs: 1000, StallAfter: 64 << 10}}},
		{Name: "client-recv-stall", ExpectedBlame: BlameClient, Seed: 8, C2S: d, S2C: d,
			Description: "a download; the client (SO_RCVBUF 16 KiB) stops reading for 1 s after 64 KiB: zero window",
			Conns:       []Conn{{Mode: "bulk", Bytes: 256 << 10, ClientStallMs: 1000, StallAfter: 64 << 10}}},
		{Name: "client-reset", ExpectedBlame: BlameClient, Seed: 9, C2S: d, S2C: d,
			Description: "the client aborts a download half way with RST (SO_LINGER 0)",
			Conns:       []Conn{{Mode: "bulk", Bytes: 1 << 20, ClientRST: true}}},
		{Name: "nat", ExpectedBlame: BlameNetwork, Seed: 10, NAT: true, C2S: d,
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "SNAT+DNAT in the router (addresses and ports differ between the points) and 2% loss server to client",
			Conns:       []Conn{bulk(256 << 10), rr(200, 4096, 3, 30)}},
		{Name: "ipv6", ExpectedBlame: BlameNetwork, Seed: 11, IPv6: true, C2S: d,
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "IPv6 (ULA) downloads with 2% loss server to client",
			Conns:       []Conn{bulk(256 << 10), bulk(256 << 10)}},
		{Name: "clock-offset-3s-20ppm", ExpectedBlame: BlameNone, Seed: 12, C2S: d, S2C: d,
			ClockOffset: 3 * time.Second, DriftPPM: 20,
			Description: "clean traffic; server.pcap's clock runs 3 s ahead and drifts +20 ppm",
			Conns:       []Conn{bulk(256 << 10), rr(200, 4096, 3, 50)}},
		{Name: "snaplen-96", ExpectedBlame: BlameNetwork, Seed: 13, Snaplen: 96, C2S: d,
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "both captures cut at 96 bytes; 2% loss server to client",
			Conns:       []Conn{bulk(256 << 10)}},
		{Name: "span-capture-drops", ExpectedBlame: BlameNone, Seed: 14, C2S: d, S2C: d, SpanDropPct: 2,
			Description: "no network loss, but the span capture misses 2% of the data segments (a capture drop, not the network)",
			Conns:       []Conn{bulk(256 << 10), {Mode: "upload", Bytes: 128 << 10, StartMs: 20}}},
		{Name: "offload-server", ExpectedBlame: BlameNone, Seed: 16, C2S: d, S2C: d, ServerOffloads: true,
			Description: "TSO, GSO and GRO on at the server: server.pcap holds super-segments, the span wire packets; no impairment",
			Conns:       []Conn{bulk(512 << 10), {Mode: "upload", Bytes: 256 << 10, StartMs: 20}, rr(200, 4096, 3, 50)}},
		{Name: "offload-server-loss", ExpectedBlame: BlameNetwork, Seed: 17, ServerOffloads: true,
			C2S:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "offloads on at the server and 2% loss each way between the points, counted in wire segments",
			Conns:       []Conn{bulk(384 << 10), {Mode: "upload", Bytes: 256 << 10, StartMs: 20}}},
		{Name: "offload-both", ExpectedBlame: BlameNone, Seed: 18, C2S: d, S2C: d, ServerOffloads: true, ClientOffloads: true,
			Description: "offloads on at the server and at the client (the client's GRO sends fewer ACKs); no impairment",
			Conns:       []Conn{bulk(256 << 10), rr(200, 4096, 3, 50)}},
		{Name: "span-duplicates", ExpectedBlame: BlameNone, Seed: 19, C2S: d, S2C: d, SpanDuplicates: true,
			Description: "the span capture records every packet twice (a SPAN of ingress and egress); no impairment",
			Conns:       []Conn{bulk(256 << 10), {Mode: "upload", Bytes: 128 << 10, StartMs: 20}}},
		{Name: "span-duplicates-loss", ExpectedBlame: BlameNetwork, Seed: 20, C2S: d, SpanDuplicates: true,
			S2C:         with(d, func(i *Impairment) { i.DropPct = 2 }),
			Description: "a doubled span capture and 2% loss server to client between the points",
			Conns:       []Conn{bulk(256 << 10)}},
		{Name: "reorder", ExpectedBlame: BlameNetwork, Seed: 21,
			C2S:         with(d, func(i *Impairment) { i.HoldPct = 2; i.HoldMs = 20 }),
			S2C:         with(d, func(i *Impairment) { i.HoldPct = 2; i.HoldMs = 20 }),
			Description: "the router holds 2% of the data segments each way 20 ms longer, so later ones overtake them: reordering between the points, which makes the senders retransmit needlessly",
			Conns:       []Conn{bulk(384 << 10), {Mode: "upload", Bytes: 256 << 10, StartMs: 20}}},
		{Name: "duplicate", ExpectedBlame: BlameNone, Seed: 22,
			C2S:         with(d, func(i *Impairment) { i.DupPct = 2 }),
			S2C:         with(d, func(i *Impairment) { i.DupPct = 2 }),
			Description: "the router sends 2% of the data segments each way twice, 3 ms apart: duplication between the points, harmless",
			Conns:       []Conn{bulk(256 << 10), {Mode: "upload", Bytes: 128 << 10, StartMs: 20}, rr(200, 4096, 3, 50)}},
		{Name: "many-connections", ExpectedBlame: BlameNetwork, Seed: 23,
			// No added delay: holding 20,000 connections' packets in user
			// space would queue them behind each other.
			S2C:         Impairment{DropNth: []int{5000, 12000, 19000}},
			Description: "20,000 short request/response connections opened over 7 s; three responses lost between the points",
			Conns:       manyConns(20000)},
		{Name: "delay", ExpectedBlame: BlameNetwork, Seed: 15,
			C2S:         Impairment{DelayMs: 60},
			S2C:         Impairment{DelayMs: 60},
			Description: "the path between the points adds 60 ms each way; request/response rounds, server answers at once",
			Conns:       []Conn{{Mode: "rr", ReqBytes: 200, Bytes: 2048, Rounds: 4, Blame: BlameNetwork}}},
	}
}

// manyConns returns n short request/response connections, started three
// a millisecond: the router's impairer, one goroutine in user space,
// keeps up with that on two busy cores.
func manyConns(n int) []Conn {
	cs := make([]Conn, n)
	for i := range cs {
		cs[i] = Conn{Mode: "rr", ReqBytes: 100, Bytes: 1000, Rounds: 1, StartMs: i / 3}
	}
	return cs
}

// ScenarioByName returns the named scenario from Scenarios.
func ScenarioByName(name string) (Scenario, bool) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// SampleScenarios are the small pairs shipped in the repository's
// samples/twopoint (every file under 150 KB), for `netblame demo` and for
// tests that run without root. DropNth keeps their loss deterministic.
func SampleScenarios() []Scenario {
	d := Impairment{DelayMs: 5}
	return []Scenario{
		{Name: "clean", ExpectedBlame: BlameNone, Seed: 101, C2S: d, S2C: d,
			Description: "a 64 KB download and three request/response rounds; nothing goes wrong",
			Conns:       []Conn{{Mode: "bulk", Bytes: 64 << 10}, {Mode: "rr", ReqBytes: 200, Bytes: 4096, Rounds: 3, StartMs: 30}}},
		{Name: "loss-s2c", ExpectedBlame: BlameNetwork, Seed: 102, C2S: d,
			S2C:         Impairment{DelayMs: 5, DropNth: []int{10, 25, 40}},
			Description: "an 80 KB download; the router drops the 10th, 25th and 40th data segment server to client",
			Conns:       []Conn{{Mode: "bulk", Bytes: 80 << 10}}},
		{Name: "server-think", ExpectedBlame: BlameServer, Seed: 103, C2S: d, S2C: d,
			Description: "request/response rounds; the server waits 250 ms before each 4 KB response",
			Conns: []Conn{{Mode: "rr", ReqBytes: 300, Bytes: 4096, Rounds: 3, ServerThinkMs: 250},
				{Mode: "rr", ReqBytes: 300, Bytes: 4096, Rounds: 3, ServerThinkMs: 250, StartMs: 100}}},
		{Name: "nat-clock-offset", ExpectedBlame: BlameNetwork, Seed: 104, NAT: true, C2S: d,
			S2C:         Impairment{DelayMs: 5, DropNth: []int{12, 30}},
			ClockOffset: 3 * time.Second, DriftPPM: 20,
			Description: "SNAT+DNAT between the points, server clock 3 s ahead drifting +20 ppm, two data segments dropped server to client",
			Conns:       []Conn{{Mode: "bulk", Bytes: 64 << 10}, {Mode: "rr", ReqBytes: 200, Bytes: 2048, Rounds: 2, StartMs: 30}}},
		{Name: "offload", ExpectedBlame: BlameNetwork, Seed: 105, ServerOffloads: true, C2S: d,
			S2C:         Impairment{DelayMs: 5, DropNth: []int{10}},
			Description: "TSO/GSO/GRO on at the server (server.pcap holds super-segments, span.pcap wire packets), a 64 KB download whose 10th wire segment the router drops, and request/response rounds",
			Conns:       []Conn{{Mode: "bulk", Bytes: 64 << 10}, {Mode: "rr", ReqBytes: 200, Bytes: 4096, Rounds: 2, StartMs: 30}}},
		{Name: "span-duplicates", ExpectedBlame: BlameNone, Seed: 106, C2S: d, S2C: d, SpanDuplicates: true,
			Description: "span.pcap records every packet twice, 20 µs apart (a SPAN of ingress and egress); a 48 KB download and request/response rounds, nothing goes wrong",
			Conns:       []Conn{{Mode: "bulk", Bytes: 48 << 10}, {Mode: "rr", ReqBytes: 200, Bytes: 2048, Rounds: 2, StartMs: 30}}},
	}
}

// heavy reports whether s loads the machine enough to run alone: its
// connections' packets pass the user-space impairer at thousands a second.
func (s *Scenario) heavy() bool { return len(s.Conns) > 1000 }
