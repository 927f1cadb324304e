package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/bench"
)

// benchOptions are the flags of `netblame bench`.
type benchOptions struct {
	file    string
	packets int
	suites  []string
	format  *string
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	benchCmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the benchmark suites: netblame and its peers on the same capture",
		Long: `Run netblame's benchmark suites, each measuring netblame and its peers
(tshark and tcpdump, when installed) on the same capture in the same run,
and print ns per packet, million packets per second and the ratio of each
peer to netblame.

The capture is --read, or generated traffic of --packets packets (many
concurrent TCP downloads with some loss, IPv6 and VLAN, at snaplen 128).

The gopacket peers are not linked into this binary (it links no benchmark
library); the same suites with them run from a source checkout under
'go test -run '^$' -bench Suites ./bench'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseFormat(*o.format)
			if err != nil {
				return err
			}
			in, cleanup, err := o.input()
			if err != nil {
				return err
			}
			defer cleanup()
			fmt.Fprintf(cmd.ErrOrStderr(), "input: %s (%d packets)\n", in.Path, in.Packets)
			fmt.Fprintln(cmd.ErrOrStderr(), "gopacket peers: not in this binary; run go test -run '^$' -bench Suites ./bench in a netblame checkout")
			return o.runSuites(cmd, in, f)
		},
	}
	fl := benchCmd.Flags()
	fl.StringVarP(&o.file, "read", "r", "", "capture file to run on (default: generated traffic)")
	fl.IntVar(&o.packets, "packets", 1_000_000, "packets of generated traffic")
	fl.StringSliceVar(&o.suites, "suite", nil, "suites to run (default: all)")
	o.format = addFormatFlag(benchCmd)
	return benchCmd
}

// input is the capture to run on: --read, or generated traffic in a
// temporary file that cleanup removes.
func (o *benchOptions) input() (in bench.Input, cleanup func(), err error) {
	if o.file != "" {
		n, err := bench.CountPackets(o.file)
		if err != nil {
			return bench.Input{}, nil, inputErr(err)
		}
		return bench.Input{Path: o.file, Packets: n}, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "netblame-bench")
	if err != nil {
		return bench.Input{}, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "traffic.pcap")
	n, err := bench.WriteTraffic(path, bench.DefaultTraffic, o.packets)
	if err != nil {
		cleanup()
		return bench.Input{}, nil, err
	}
	return bench.Input{Path: path, Packets: n}, cleanup, nil
}

// benchRow is one case's result.
type benchRow struct {
	suite, impl string
	nsPerPkt    float64
	mpps        float64
	allocs      int64
	ratio       float64 // this case's ns/pkt over netblame's
}

func (o *benchOptions) runSuites(cmd *cobra.Command, in bench.Input, f outputFormat) error {
	tw := newTableWriter(cmd.OutOrStdout(), f, []column[benchRow]{
		{"SUITE", "suite", func(r benchRow) any { return r.suite }},
		{"IMPL", "impl", func(r benchRow) any { return r.impl }},
		{"NS/PKT", "ns_per_pkt", func(r benchRow) any { return round2(r.nsPerPkt) }},
		{"MPPS", "mpps", func(r benchRow) any { return round2(r.mpps) }},
		{"ALLOCS/PASS", "allocs_per_pass", func(r benchRow) any { return r.allocs }},
		{"X NETBLAME", "times_netblame", func(r benchRow) any { return round2(r.ratio) }},
	})
	for _, s := range bench.Suites(in) {
		if len(o.suites) > 0 && !slices.Contains(o.suites, s.Name) {
			continue
		}
		var base float64
		for _, c := range s.Cases {
			// One second a case, as go test -bench's default -benchtime.
			res, err := bench.Measure(in, c, time.Second)
			if err != nil {
				return fmt.Errorf("suite %s: %w", s.Name, err)
			}
			row := benchRow{suite: s.Name, impl: c.Name, nsPerPkt: res.NsPerPkt, mpps: res.Mpps, allocs: res.AllocsPerPass}
			if base == 0 {
				base = row.nsPerPkt
			}
			row.ratio = row.nsPerPkt / base
			if err := tw.Row(row); err != nil {
				return err
			}
		}
	}
	return tw.Flush()
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
