// Package bench holds netblame's benchmark suites and the traffic
// generators they run on. Each suite measures netblame and its peers on
// the same input in the same run, so the ratio between them is what the
// numbers mean; the machine and the command that produced every figure
// are recorded in docs/BENCHMARKS.md.
//
// The package links neither gopacket nor testing, so the netblame binary
// can run the suites (`netblame bench`): its peers here are external
// programs (tcpdump, tshark), and Measure times a case without the
// testing package. The gopacket peers live in internal/benchpeer and run
// under `go test -bench Suites ./bench`.
//
// It is not a test suite: correctness lives beside each package.
package bench
