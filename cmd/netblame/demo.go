package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/samples"
)

func newDemoCmd() *cobra.Command {
	var demoFormat string
	demoCmd := &cobra.Command{
		Use:   "demo [PAIR]",
		Short: "Run blame on the sample two-point captures shipped with netblame",
		Long: `Run blame on each two-point capture pair shipped with netblame (real
Linux TCP through a router, captured near the client and on the server; see
samples/twopoint/README.md) and print each verdict beside the one its ground
truth expects. With a PAIR name, print that pair's full blame report.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseFormat(demoFormat)
			if err != nil {
				return err
			}
			names := samples.Names()
			if len(args) == 1 {
				if !slices.Contains(names, args[0]) {
					return inputErr(fmt.Errorf("demo: no pair %q (have %v)", args[0], names))
				}
				d, err := runDemo(args[0])
				if err != nil {
					return err
				}
				return writeBlame(cmd.OutOrStdout(), f, d.rep)
			}
			var rows []demoResult
			for _, name := range names {
				d, err := runDemo(name)
				if err != nil {
					return err
				}
				rows = append(rows, d)
			}
			return writeDemo(cmd.OutOrStdout(), f, rows)
		},
	}
	demoCmd.Flags().StringVar(&demoFormat, "format", string(formatText), "output format: text, json (JSON lines) or csv")
	return demoCmd
}

// demoResult is one sample pair's verdict and the one its truth expects.
type demoResult struct {
	name, expected string
	rep            *correlate.Report
}

// runDemo correlates the embedded pair name.
func runDemo(name string) (demoResult, error) {
	fsys := samples.TwoPoint()
	d := demoResult{name: name}
	if b, err := fs.ReadFile(fsys, path.Join(name, "truth.json")); err == nil {
		var t struct {
			ExpectedBlame string `json:"expected_blame"`
		}
		if json.Unmarshal(b, &t) == nil {
			d.expected = t.ExpectedBlame
		}
	}
	var caps [2]*correlate.Capture
	for i, file := range []string{"span.pcap", "server.pcap"} {
		f, err := fsys.Open(path.Join(name, file))
		if err != nil {
			return d, err
		}
		c, err := correlate.Read(path.Join("samples/twopoint", name, file), f)
		f.Close()
		if err != nil {
			return d, fmt.Errorf("demo %s: %w", name, err)
		}
		caps[i] = c
	}
	d.rep = correlate.Correlate(caps[0], caps[1], correlate.Options{})
	return d, nil
}

func writeDemo(w io.Writer, f outputFormat, rows []demoResult) error {
	tw := newTableWriter(w, f, []column[demoResult]{
		{"PAIR", "pair", func(r demoResult) any { return r.name }},
		{"VERDICT", "verdict", func(r demoResult) any { return string(r.rep.Verdict) }},
		{"EXPECTED", "expected", func(r demoResult) any { return r.expected }},
		{"CLOCK_OFFSET_S", "clock_offset_s", func(r demoResult) any { return fmt.Sprintf("%.6f", r.rep.ClockOffset.Seconds()) }},
		{"REASON", "reason", func(r demoResult) any { return r.rep.Reason }},
	})
	for _, r := range rows {
		if err := tw.Row(r); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if f == formatText {
		fmt.Fprintln(w, "\nnetblame demo PAIR shows one pair's full report; netblame blame CLIENT_SIDE SERVER_SIDE runs on your own captures.")
	}
	return nil
}
