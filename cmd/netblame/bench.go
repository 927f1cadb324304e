package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/bench"
)

// benchHelp is the long help of `netblame bench`, shared in spirit with
// cmd/netblame-bench (the same suites with the gopacket peers linked).
const benchHelp = `Run netblame's benchmark suites, each measuring netblame and its peers on
the same input in the same run: decode, read, flowtable, pipeline, filter,
correlate, capture (root: a veth pair in namespaces of its own). Every case runs once untimed (warm-up), then --runs timed runs;
the median is reported with ns per packet, million packets per second,
allocations per packet, bytes per flow or per packet, drops and the ratio
to netblame's case of the same suite and input.

The peers that are programs (tcpdump, tshark, tcptrace) run when installed
and are reported as skipped otherwise. The gopacket peers are not linked
into this binary (it ships no benchmark library); 'netblame-bench' (go
install ./cmd/netblame-bench) runs the same suites with them.

--quick runs every suite on smaller inputs in under 3 minutes on 2 cores.
--format json writes a header object, then one object a measurement (csv
is not offered here). The output's keys are described in docs/CLI.md.`

func newBenchCmd() *cobra.Command {
	var (
		cfg    bench.Config
		format *string
	)
	benchCmd := &cobra.Command{
		Use:   "bench",
		Short: "Run the benchmark suites: netblame and its peers on the same input",
		Long:  benchHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseFormat(*format)
			if err != nil {
				return err
			}
			if f == formatCSV {
				return inputErr(errors.New("bench: --format csv is not supported: use text or json"))
			}
			if isTerminalWriter(cmd.ErrOrStderr()) {
				cfg.Log = cmd.ErrOrStderr()
			}
			return benchRun(cfg, bench.NewWriter(cmd.OutOrStdout(), f == formatJSON))
		},
	}
	addBenchFlags(benchCmd, &cfg)
	format = addFormatFlag(benchCmd)
	return benchCmd
}

// addBenchFlags registers the suites' flags on cmd.
func addBenchFlags(cmd *cobra.Command, cfg *bench.Config) {
	fl := cmd.Flags()
	fl.StringVarP(&cfg.File, "read", "r", "", "also run the file suites on this capture")
	fl.IntVar(&cfg.Packets, "packets", 0, "packets of generated traffic (default 1M, 200k with --quick)")
	fl.StringSliceVar(&cfg.Suites, "suite", nil, "suites to run, comma-separated (default all: decode, read, flowtable, pipeline, filter, correlate, capture)")
	fl.BoolVar(&cfg.Quick, "quick", false, "smaller inputs and 3 runs a case: every suite in under 3 minutes on 2 cores")
	fl.IntVar(&cfg.Runs, "runs", 0, "timed runs a case, after one warm-up run (default 5, 3 with --quick)")
}

// benchRun runs the suites; a bad suite name or unreadable -r file is bad
// input (exit 1).
func benchRun(cfg bench.Config, w *bench.Writer) error {
	err := bench.Run(cfg, w)
	if errors.Is(err, bench.ErrConfig) {
		return inputErr(err)
	}
	return err
}
