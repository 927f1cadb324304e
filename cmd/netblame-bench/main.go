// Command netblame-bench runs netblame's benchmark suites with every peer,
// the gopacket ones included: the same suites, flags and output as
// `netblame bench`, which does not link gopacket. Build it from a
// checkout:
//
//	go run ./cmd/netblame-bench --quick --format json
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/netblame/netblame/bench"
	"github.com/netblame/netblame/internal/benchpeer"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg bench.Config
	fl := pflag.NewFlagSet("netblame-bench", pflag.ContinueOnError)
	fl.StringVarP(&cfg.File, "read", "r", "", "also run the file suites on this capture")
	fl.IntVar(&cfg.Packets, "packets", 0, "packets of generated traffic (default 1M, 200k with --quick)")
	fl.StringSliceVar(&cfg.Suites, "suite", nil, "suites to run, comma-separated (default all)")
	fl.BoolVar(&cfg.Quick, "quick", false, "smaller inputs and 3 runs a case: every suite in under 3 minutes on 2 cores")
	fl.IntVar(&cfg.Runs, "runs", 0, "timed runs a case, after one warm-up run (default 5, 3 with --quick)")
	format := fl.String("format", "text", "output format: text or json (JSON lines)")
	quiet := fl.Bool("quiet", false, "no progress on stderr")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "netblame-bench: unexpected argument %q\n", fl.Arg(0))
		return 1
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(os.Stderr, "netblame-bench: --format %q: want text or json\n", *format)
		return 1
	}
	if !*quiet {
		cfg.Log = os.Stderr
	}
	cfg.Peers = benchpeer.Peers{}
	if err := bench.Run(cfg, bench.NewWriter(os.Stdout, *format == "json")); err != nil {
		fmt.Fprintln(os.Stderr, "netblame-bench:", err)
		if errors.Is(err, bench.ErrConfig) {
			return 1
		}
		return 2
	}
	return 0
}
