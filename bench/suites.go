package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/flowtable"
)

// Case is one implementation measured in a suite.
type Case struct {
	Name string
	// Pass processes the whole capture at path once.
	Pass func(path string) error
}

// Suite is one task done by netblame and its peers on the same input.
type Suite struct {
	Name  string
	Doc   string
	Cases []Case
}

// Input describes the capture a suite runs on.
type Input struct {
	Path    string
	Packets int // packets in the file, for per-packet figures
}

// Suites returns the suites over in, netblame first in each, then the
// peers that are external programs (tcpdump, tshark), left out when they
// are not installed. The library peers (gopacket) are added by the
// internal benchpeer package, so that this package, and the netblame
// binary that imports it, link neither gopacket nor testing.
func Suites(in Input) []Suite {
	return []Suite{
		{
			Name: "read",
			Doc:  "read every packet of the file (netblame capfile vs gopacket pcapgo vs tcpdump -r)",
			Cases: withTools([]Case{
				{"netblame", readNetblame},
				{"tcpdump", command("tcpdump", "-n", "-r", in.Path, "-w", os.DevNull)},
			}),
		},
		{
			Name: "pipeline",
			Doc:  "read, decode and track every flow with TCP analysis (netblame) vs the same with gopacket and a map vs tshark -q -z conv,tcp",
			Cases: withTools([]Case{
				{"netblame", pipelineNetblame},
				{"tshark", command("tshark", "-n", "-r", in.Path, "-q", "-z", "conv,tcp")},
			}),
		},
	}
}

// withTools drops the cases whose external program is missing.
func withTools(cases []Case) []Case {
	out := cases[:0]
	for _, c := range cases {
		if c.Name == "tshark" || c.Name == "tcpdump" {
			if _, err := exec.LookPath(c.Name); err != nil {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// Result is one case's measurement.
type Result struct {
	Passes        int           // timed passes over the file
	Elapsed       time.Duration // their total time
	NsPerPkt      float64
	Mpps          float64 // million packets per second
	AllocsPerPass int64
}

// PerPacket fills the per-packet figures of r from its passes and elapsed
// time over in.
func (in Input) PerPacket(r *Result) {
	pkts := float64(r.Passes) * float64(in.Packets)
	ns := float64(r.Elapsed.Nanoseconds())
	if pkts > 0 && ns > 0 {
		r.NsPerPkt = ns / pkts
		r.Mpps = pkts / ns * 1e3
	}
}

// Measure runs c over in for at least minTime (and at least one pass)
// and reports its time per packet and allocations per pass. It does
// what `go test -bench` does for the same case, without linking the
// testing package into a program: one untimed pass first, so the file is
// in the page cache and one-time setup (a flow table's preallocation) is
// done for every case alike, then timed passes.
func Measure(in Input, c Case, minTime time.Duration) (Result, error) {
	if err := c.Pass(in.Path); err != nil {
		return Result{}, fmt.Errorf("bench: %s: %w", c.Name, err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var r Result
	start := time.Now()
	for r.Passes == 0 || time.Since(start) < minTime {
		if err := c.Pass(in.Path); err != nil {
			return Result{}, fmt.Errorf("bench: %s: %w", c.Name, err)
		}
		r.Passes++
	}
	r.Elapsed = time.Since(start)
	runtime.ReadMemStats(&after)
	r.AllocsPerPass = int64(after.Mallocs-before.Mallocs) / int64(r.Passes)
	in.PerPacket(&r)
	return r, nil
}

// command runs an external program once a pass.
func command(name string, args ...string) func(string) error {
	return func(string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
}

func readNetblame(path string) error {
	_, err := CountPackets(path)
	return err
}

// pipelineTable is reused by every netblame pass: a real run makes one
// table for a file, and its preallocation is not the packet path.
var pipelineTable *flowtable.Table

func pipelineNetblame(path string) error {
	if pipelineTable == nil {
		t, err := flowtable.New(flowtable.Config{Capacity: 1 << 18, Seed: 1})
		if err != nil {
			return err
		}
		pipelineTable = t
	}
	_, err := Pipeline(path, pipelineTable)
	return err
}

// CountPackets returns the number of packets in a capture file.
func CountPackets(path string) (int, error) {
	r, err := capfile.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var p capfile.Packet
	n := 0
	for {
		if err := r.Next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}
