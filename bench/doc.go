// Package bench holds netblame's benchmark suites and the traffic
// generators they run on. Each suite measures netblame and its peers
// (gopacket, tshark, tcpdump) on the same input in the same run, so the
// ratio between them is what the numbers mean; the machine and the command
// that produced every figure are recorded in docs/BENCHMARKS.md.
//
// It is not a test suite: correctness lives beside each package.
package bench
