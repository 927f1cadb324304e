package bench

import (
	"github.com/netblame/netblame/flowtable"
)

// PipelineInputs are the pipeline suite's files: the generated many-flow
// traffic (DefaultTraffic: 1,024 concurrent connections interleaved at
// random; ManyFlowsTraffic: 100,000) and the user's file.
func (e *Env) PipelineInputs() ([]NamedFile, error) {
	path, n, err := e.Generated(".pcap")
	if err != nil {
		return nil, err
	}
	out := []NamedFile{{Case: "generated", Path: path, Packets: n}}
	if path, n, err = e.GeneratedWith("traffic-100k", ManyFlowsTraffic, ".pcap"); err != nil {
		return nil, err
	}
	out = append(out, NamedFile{Case: "generated-100k", Path: path, Packets: n})
	if e.File != "" {
		n, err := CountPackets(e.File)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedFile{Case: "file", Path: e.File, Packets: n})
	}
	return out, nil
}

func pipelineSuite() Suite {
	return Suite{
		Name:     "pipeline",
		Doc:      "read, decode, reassemble and track every flow with TCP analysis, the work of netblame analyze before output (vs gopacket DLP and a map, tshark -q -z conv,tcp, tcptrace -n -l)",
		LibPeers: []string{"gopacket-map"},
		Cases: func(e *Env) ([]Case, error) {
			files, err := e.PipelineInputs()
			if err != nil {
				return nil, err
			}
			var cases []Case
			for _, f := range files {
				var table *flowtable.Table
				cases = append(cases, Case{
					Impl: "netblame", Case: f.Case, Packets: f.Packets,
					Note: "one core, the table's sole owner, as netblame analyze",
					Setup: func() (int, error) {
						var err error
						// A real run makes one table for a file: its
						// preallocation is not the packet path.
						table, err = flowtable.New(flowtable.Config{Capacity: 1 << 18, Seed: 1})
						return 0, err
					},
					Run: func() error {
						_, err := Pipeline(f.Path, table)
						return err
					},
					Close: func() { table = nil },
				})
			}
			for _, f := range files {
				c := ProgramCase("tshark", f.Case, f.Packets, "tshark", "-n", "-r", f.Path, "-q", "-z", "conv,tcp")
				c.Note = "whole process; conversations only, no TCP analysis output"
				cases = append(cases, c)
			}
			for _, f := range files {
				c := ProgramCase("tcptrace", f.Case, f.Packets, "tcptrace", "-n", "-l", f.Path)
				c.Note = "whole process; long output per connection"
				cases = append(cases, c)
			}
			return cases, nil
		},
	}
}
