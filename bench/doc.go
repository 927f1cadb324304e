// Package bench holds netblame's benchmark suites (decode, read,
// flowtable, pipeline, filter, correlate, capture), the traffic and
// two-point generators they run on, and the measurement: a warm-up run,
// then timed runs whose median is reported, with allocations from
// runtime.MemStats and the ratio of every case to netblame's case of the
// same suite and input. `netblame bench` and `netblame-bench` are thin
// commands over Run; the JSON schema of their output is ValidateJSON's.
//
// The package links neither gopacket nor testing, so the netblame binary
// can run the suites: its own peers are programs (tcpdump, tshark,
// tcptrace) and a Go map. The gopacket peers come through the Peers
// interface from internal/benchpeer, which cmd/netblame-bench links.
//
// It is not a test suite: correctness lives beside each package (the
// correlate suite does check its verdicts against the generator's truth).
package bench
