package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/report"
	"github.com/netblame/netblame/track"
)

// reportOptions holds the flags of `netblame report`.
type reportOptions struct {
	out      string
	top      int
	flow     string
	width    int
	maxFlows int
	rows     int
}

func newReportCmd() *cobra.Command {
	o := &reportOptions{}
	reportCmd := &cobra.Command{
		Use:   "report [flags] FILE | CLIENT_SIDE SERVER_SIDE -o report.html",
		Short: "Write a self-contained HTML report with plots of the most troubled connections",
		Long: `Write one self-contained HTML file (no request to anywhere when it opens):
the totals and event counts, a flow table (sort by clicking a column,
filter with the search box) and, for the --top most troubled TCP flows
(or the --flow one), Wireshark-style stream graphs: time-sequence with the
ACK line, the receive window's right edge and SACK blocks, the receive
window each end advertised, RTT samples and throughput each way. Every
analysis event is a marked point; hovering it shows its frame number, time
and what it is.

With two files (CLIENT_SIDE near the client, SERVER_SIDE at or near the
server, as for blame) the report adds the verdict and its reason, the
clock offset and its uncertainty, both captures' time windows, and per
connection the one-way transit delay each way with every loss and
retransmission placed where it happened (frames in both files).

Each capture is read once; series are reduced to one min/max bucket a
pixel (--width) before they are embedded, markers never.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return inputErr(fmt.Errorf("report: want FILE or CLIENT_SIDE SERVER_SIDE, got %d argument(s)", len(args)))
			}
			if o.out == "" {
				return inputErr(errors.New("report: -o FILE is required"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.ErrOrStderr(), args) },
	}
	f := reportCmd.Flags()
	f.StringVarP(&o.out, "output", "o", "", "HTML file to write")
	f.IntVar(&o.top, "top", 20, "plot the N most troubled TCP flows")
	f.StringVar(&o.flow, "flow", "", "plot only this flow: ip:port-ip:port (either order) or the flow index")
	f.IntVar(&o.width, "width", 1000, "plot width in pixels (series are reduced to this many min/max buckets)")
	f.IntVar(&o.rows, "rows", 1000, "list at most N flows in the flow table, the most troubled")
	f.IntVar(&o.maxFlows, "max-flows", 1<<18, "flow table capacity (oldest idle flows are evicted beyond it)")
	return reportCmd
}

func (o *reportOptions) run(stderr io.Writer, files []string) error {
	if o.top <= 0 || o.rows <= 0 || o.width < 100 || o.maxFlows <= 0 {
		return inputErr(fmt.Errorf("report: --top, --rows and --max-flows want a positive number, --width at least 100"))
	}
	opt := report.Options{Top: o.top, Width: o.width, MaxRows: o.rows}
	if o.flow != "" {
		sel, err := flowtable.ParseSelector(o.flow)
		if err != nil {
			return inputErr(fmt.Errorf("--flow %w", err))
		}
		opt.Flow = &sel
	}
	col := report.NewCollector(opt)
	var capA *correlate.Capture
	if len(files) == 2 {
		capA = correlate.NewCapture(files[0])
	}
	readErr, err := collectFile(files[0], o.maxFlows, col, capA)
	if err != nil {
		return err
	}
	d := col.Data(files...)
	if capA != nil {
		capB, errB := correlate.ReadFiles(files[1])
		if capB == nil {
			return inputErr(fmt.Errorf("server side: %w", errB))
		}
		readErr = errors.Join(readErr, errB)
		rep := correlate.Correlate(capA, capB, correlate.Options{KeepTransit: true, MaxEvidence: 4096})
		for _, w := range rep.Warnings {
			fmt.Fprintln(stderr, "netblame: warning:", w)
		}
		report.AddBlame(d, rep, capB)
	}
	if o.flow != "" && len(d.Sections) == 0 {
		return inputErr(fmt.Errorf("no TCP packet of flow %s", o.flow))
	}
	out, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if err := report.Write(out, d); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return inputErr(readErr)
}

// collectFile runs one pass over a capture file into col and, for two
// points, the client side's correlate capture. A file damaged part-way is
// used up to the damage and its error returned as readErr.
func collectFile(name string, maxFlows int, col *report.Collector, capA *correlate.Capture) (readErr, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, inputErr(err)
	}
	defer f.Close()
	r, err := capfile.NewReader(f)
	if err != nil {
		return nil, inputErr(fmt.Errorf("%s: %w", name, err))
	}
	defer r.Close()
	cfg := flowtable.Config{Capacity: tableCapacity(maxFlows, f, r.Compression()), Seed: 1, IgnoreVLAN: true}
	col.Hook(&cfg)
	tr, err := track.New(track.Options{Flows: &cfg})
	if err != nil {
		return nil, inputErr(fmt.Errorf("--max-flows: %w", err))
	}
	err = tr.Run(r, func(p *track.Packet) error {
		col.Packet(p)
		if capA != nil {
			capA.Add(p.Capture.Frame, p.Capture.Timestamp, p.Decoded, p.Payload())
		}
		return nil
	})
	tr.Table().Flush()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err), nil
	}
	return nil, nil
}
