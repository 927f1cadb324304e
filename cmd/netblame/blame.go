package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/correlate"
	"github.com/netblame/netblame/report"
)

// blameOptions holds the flags of `netblame blame`.
type blameOptions struct {
	format string
	flow   string
	host   string
	port   uint16
	offset string
	// noOrient keeps the order given even when the captures show it is
	// reversed.
	noOrient bool
	// clientFiles and serverFiles: each side as several files (rotated
	// captures), instead of the two arguments.
	clientFiles, serverFiles []string
	plot                     plotFile
}

func newBlameCmd() *cobra.Command {
	blameOpts := &blameOptions{}
	blameCmd := &cobra.Command{
		Use:   "blame [flags] CLIENT_SIDE SERVER_SIDE | -r FILE... --server-side FILE...",
		Short: "Correlate a client-side and a server-side capture: is it the network?",
		Long: `Correlate two captures of the same traffic: CLIENT_SIDE taken near the
client (a SPAN port on its switch, say), SERVER_SIDE at or near the server.
Connections are matched (through NAT too), packets are matched, the clocks'
offset and drift are estimated, and every loss, retransmission, zero window
and delay is placed where it happened. The verdict is network, server,
client, none or inconclusive, with its reason and the frame numbers in both
files that prove it.

Either side may be a directory of capture files, or several files given
with -r (client side) and --server-side, each flag once per file: rotated
captures (tcpdump -C/-G, dumpcap -b) are merged in time order, and frame
numbers are those of the merge (mergecap -w merged.pcap FILES...).

Text output gives the verdict first, then one row per connection, then the
evidence. --format json prints one object (verdict, reason, clock_offset_s,
clock_drift_ppm, flows with lost_between, capture_drops, retransmissions,
zero_window_s, transit_ms, think_ms and evidence); --format csv prints the
connection table.

--plot transit -o FILE.svg|.png also draws one connection's one-way
transit delay each way over time, with every loss, retransmission and
delay marked where it happened (the plot of netblame report's section):
the --flow one, or else the one the verdict rests on.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(blameOpts.clientFiles)+len(blameOpts.serverFiles) > 0 {
				if len(args) != 0 || len(blameOpts.clientFiles) == 0 || len(blameOpts.serverFiles) == 0 {
					return inputErr(errors.New("blame: with -r, give every client-side file with -r and every server-side file with --server-side, and no other argument"))
				}
				return nil
			}
			if len(args) != 2 {
				return inputErr(fmt.Errorf("blame: want CLIENT_SIDE and SERVER_SIDE capture files, got %d argument(s)", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, server := blameOpts.clientFiles, blameOpts.serverFiles
			if len(args) == 2 {
				client, server = args[:1], args[1:]
			}
			return blameOpts.run(cmd.OutOrStdout(), cmd.ErrOrStderr(), client, server)
		},
	}
	f := blameCmd.Flags()
	f.StringVar(&blameOpts.format, "format", string(formatText), "output format: text, json (one object) or csv (the connection table)")
	f.StringVar(&blameOpts.flow, "flow", "", "only this connection: ip:port-ip:port in either order ([v6]:port for IPv6), or one ip:port endpoint")
	f.StringVar(&blameOpts.host, "host", "", "only connections to or from this address (in either capture)")
	f.Uint16Var(&blameOpts.port, "port", 0, "only connections to or from this port (in either capture)")
	f.StringVar(&blameOpts.offset, "offset", "", "known clock offset, server capture minus client side (e.g. 3s, -1.5ms, or seconds as a number); estimated when not given")
	f.StringArrayVarP(&blameOpts.clientFiles, "read", "r", nil, "a client-side capture file or directory (repeat for rotated files)")
	f.StringArrayVar(&blameOpts.serverFiles, "server-side", nil, "a server-side capture file or directory (repeat for rotated files)")
	f.BoolVar(&blameOpts.noOrient, "no-orient", false, "judge the files in the order given even when the captures show the second is nearer the client")
	f.StringVar(&blameOpts.plot.kind, "plot", "", "also write one connection's plot to -o: transit (one-way delay each way, losses placed); the --flow one, or the one the verdict rests on")
	f.StringVarP(&blameOpts.plot.out, "output", "o", "", "with --plot: the image file, .svg or .png")
	f.StringVar(&blameOpts.plot.size, "size", "1200x600", "with --plot: image size in pixels, WxH")
	return blameCmd
}

// options turns the flags into correlate options.
func (o *blameOptions) options() (correlate.Options, outputFormat, error) {
	var opt correlate.Options
	f, err := parseFormat(o.format)
	if err != nil {
		return opt, "", err
	}
	if o.host != "" {
		a, err := netip.ParseAddr(o.host)
		if err != nil {
			return opt, "", inputErr(fmt.Errorf("--host %q: %w", o.host, err))
		}
		opt.Filter.Host = a
	}
	opt.Filter.Port = o.port
	if o.flow != "" {
		fl, err := parseFlowFilter(o.flow)
		if err != nil {
			return opt, "", inputErr(err)
		}
		opt.Filter.Flow = fl
	}
	if o.offset != "" {
		d, err := parseOffset(o.offset)
		if err != nil {
			return opt, "", inputErr(err)
		}
		opt.Offset, opt.OffsetKnown = d, true
	}
	opt.NoOrient = o.noOrient
	if err := o.plot.validate("transit"); err != nil {
		return opt, "", err
	}
	opt.KeepTransit = o.plot.kind != ""
	return opt, f, nil
}

// parseFlowFilter reads "ip:port-ip:port" or a single "ip:port".
func parseFlowFilter(s string) ([2]netip.AddrPort, error) {
	var fl [2]netip.AddrPort
	first, second, two := strings.Cut(s, "-")
	var err error
	if fl[0], err = netip.ParseAddrPort(first); err != nil {
		return fl, fmt.Errorf("--flow %q: %w", s, err)
	}
	if two {
		if fl[1], err = netip.ParseAddrPort(second); err != nil {
			return fl, fmt.Errorf("--flow %q: %w", s, err)
		}
	}
	return fl, nil
}

// parseOffset reads a Go duration or a number of seconds.
func parseOffset(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	sec, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("--offset %q: want a duration (3s, -1.5ms) or seconds", s)
	}
	return time.Duration(sec * 1e9), nil
}

func (o *blameOptions) run(stdout, stderr io.Writer, clientSide, serverSide []string) error {
	opt, f, err := o.options()
	if err != nil {
		return err
	}
	rep, t0, readErr, err := blameFiles(clientSide, serverSide, opt)
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stderr, "netblame: warning:", w)
	}
	if err := writeBlame(stdout, f, rep); err != nil {
		return err
	}
	if o.plot.kind != "" {
		if err := o.writeTransitPlot(stderr, rep, t0); err != nil {
			return err
		}
	}
	// A damaged file was used up to the damage; say so in the exit status.
	if readErr != nil {
		return readErr
	}
	switch {
	case rep.Orientation != correlate.AsGiven:
		return warningError{"captures in reverse order"}
	case rep.Verdict == correlate.Inconclusive && o.host == "" && o.port == 0 && o.flow == "":
		return warningError{"no connection could be followed through both captures"}
	}
	return nil
}

// blameFiles reads and correlates two captures, and returns with the
// report the time of the first packet of the side judged the client's. A
// file that cannot be opened is an error; one damaged part-way is used up
// to the damage and reported as readErr.
func blameFiles(clientSide, serverSide []string, opt correlate.Options) (rep *correlate.Report, t0 int64, readErr, err error) {
	a, errA := correlate.ReadFiles(clientSide...)
	if a == nil {
		return nil, 0, nil, inputErr(fmt.Errorf("client side: %w", errA))
	}
	b, errB := correlate.ReadFiles(serverSide...)
	if b == nil {
		return nil, 0, nil, inputErr(fmt.Errorf("server side: %w", errB))
	}
	if e := errors.Join(errA, errB); e != nil {
		readErr = inputErr(e)
	}
	rep = correlate.Correlate(a, b, opt)
	t0 = a.First
	if rep.Orientation == correlate.Swapped {
		t0 = b.First
	}
	return rep, t0, readErr, nil
}

// writeTransitPlot draws the --plot transit image of one connection: the
// only one followed, or else the one the overall verdict rests on (the
// most evidence among those with that verdict), named on stderr.
func (o *blameOptions) writeTransitPlot(stderr io.Writer, rep *correlate.Report, t0 int64) error {
	if len(rep.Flows) == 0 {
		return inputErr(errors.New("--plot transit: no connection was followed through both captures"))
	}
	pick := 0
	if len(rep.Flows) > 1 {
		best := -1
		for i := range rep.Flows {
			fr := &rep.Flows[i]
			score := len(fr.Evidence)
			if fr.Verdict == rep.Verdict {
				score += 1 << 30
			}
			if score > best {
				pick, best = i, score
			}
		}
		fr := &rep.Flows[pick]
		fmt.Fprintf(stderr, "netblame: plotting %s-%s, one of %d connections (choose with --flow)\n", fr.Client, fr.Server, len(rep.Flows))
	}
	fr := &rep.Flows[pick]
	if len(fr.TransitSamples) == 0 && len(fr.Evidence) == 0 {
		return inputErr(fmt.Errorf("--plot transit: %s-%s has no packet matched in both captures", fr.Client, fr.Server))
	}
	return o.plot.write(report.TransitPlot(fr, t0, o.plot.width))
}

// writeBlame prints a report: the verdict, the connection table, the
// evidence (text); the whole report (json); the table (csv).
func writeBlame(w io.Writer, f outputFormat, rep *correlate.Report) error {
	switch f {
	case formatJSON:
		return writeJSONObject(w, rep)
	case formatCSV:
		return writeFlowTable(w, f, rep)
	}
	unc := "unbounded"
	if rep.ClockUncertainty >= 0 {
		unc = fmt.Sprintf("±%.3f ms", ms(rep.ClockUncertainty))
	}
	fmt.Fprintf(w, "verdict: %s\nreason:  %s\n", rep.Verdict, rep.Reason)
	drift := "not measurable (capture too short or too noisy)"
	if rep.ClockDriftPPM != 0 {
		drift = fmt.Sprintf("%.1f ppm (±%.1f)", rep.ClockDriftPPM, rep.ClockDriftUncertaintyPPM)
	} else if rep.ClockDriftUncertaintyPPM > 0 {
		drift = fmt.Sprintf("none found (±%.1f ppm)", rep.ClockDriftUncertaintyPPM)
	}
	fmt.Fprintf(w, "clock:   server side = client side %+.6f s (%s, %s), drift %s\n",
		rep.ClockOffset.Seconds(), unc, rep.ClockSource, drift)
	for _, c := range []struct {
		name string
		s    correlate.CaptureSummary
	}{{"client side", rep.ClientSide}, {"server side", rep.ServerSide}} {
		fmt.Fprintf(w, "%s: %s: %d packets, %d TCP, %d connections", c.name, c.s.File, c.s.Packets, c.s.TCPPackets, c.s.Flows)
		if c.s.Truncated > 0 {
			fmt.Fprintf(w, ", %d cut by snaplen", c.s.Truncated)
		}
		if c.s.Offload {
			fmt.Fprintf(w, ", offload: %d super-segments (TSO/GRO) matched as wire segments", c.s.SuperSegments)
		}
		if c.s.CaptureDuplicates > 0 {
			fmt.Fprintf(w, ", %d capture duplicates left out", c.s.CaptureDuplicates)
		}
		fmt.Fprintln(w)
	}
	if len(rep.Flows) > 0 {
		fmt.Fprintln(w)
		if err := writeFlowTable(w, f, rep); err != nil {
			return err
		}
	}
	type evRow struct {
		flow string
		ev   correlate.Evidence
	}
	var rows []evRow
	for i := range rep.Flows {
		fr := &rep.Flows[i]
		for _, e := range fr.Evidence {
			rows = append(rows, evRow{fr.Client.String() + "-" + fr.Server.String(), e})
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nevidence (frame numbers in each file; - = not in that file):")
		frame := func(n correlate.Frame) any {
			if n == 0 {
				return nil
			}
			return n
		}
		tw := newTableWriter(w, f, []column[evRow]{
			{"FLOW", "flow", func(r evRow) any { return r.flow }},
			{"KIND", "kind", func(r evRow) any { return r.ev.Kind }},
			{"SPAN_FRAME", "span_frame", func(r evRow) any { return frame(r.ev.SpanFrame) }},
			{"SERVER_FRAME", "server_frame", func(r evRow) any { return frame(r.ev.ServerFrame) }},
			{"TIME", "time", func(r evRow) any { return r.ev.Time }},
			{"REF", "ref", func(r evRow) any {
				if r.ev.RefFrame == 0 {
					return nil
				}
				return fmt.Sprintf("%s:%d", strings.TrimSuffix(r.ev.RefIn.String(), "_side"), uint32(r.ev.RefFrame))
			}},
			{"DELAY_MS", "delay_ms", func(r evRow) any {
				if r.ev.Delay == 0 {
					return nil
				}
				return fmt.Sprintf("%.1f", ms(r.ev.Delay))
			}},
			{"DETAIL", "detail", func(r evRow) any { return r.ev.Detail }},
		})
		for _, r := range rows {
			if err := tw.Row(r); err != nil {
				return err
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"client side", rep.OnlyClientSide}, {"server side", rep.OnlyServerSide}} {
		if len(l.list) > 0 {
			fmt.Fprintf(w, "\nonly in the %s capture (%d): %s\n", l.name, len(l.list), strings.Join(l.list, ", "))
		}
	}
	return nil
}

// writeFlowTable prints one row per correlated connection.
func writeFlowTable(w io.Writer, f outputFormat, rep *correlate.Report) error {
	type row = *correlate.FlowReport
	tw := newTableWriter(w, f, []column[row]{
		{"CLIENT", "client", func(r row) any { return r.Client }},
		{"SERVER", "server", func(r row) any { return r.Server }},
		{"VERDICT", "verdict", func(r row) any { return string(r.Verdict) }},
		{"LOST_C2S", "lost_c2s", func(r row) any { return r.LostBetween.C2S }},
		{"LOST_S2C", "lost_s2c", func(r row) any { return r.LostBetween.S2C }},
		{"CAP_DROPS", "capture_drops", func(r row) any { return r.CaptureDrops }},
		{"RETRANS", "retransmissions", func(r row) any { return r.Retransmissions }},
		{"ZERO_WIN_S", "zero_window_s", func(r row) any { return fmt.Sprintf("%.3f", r.ZeroWindow.Seconds()) }},
		{"TRANSIT_C2S_MS", "transit_c2s_ms", func(r row) any { return fmt.Sprintf("%.1f", ms(r.Transit.C2S.Median)) }},
		{"TRANSIT_S2C_MS", "transit_s2c_ms", func(r row) any { return fmt.Sprintf("%.1f", ms(r.Transit.S2C.Median)) }},
		{"THINK_MS", "think_ms", func(r row) any { return fmt.Sprintf("%.1f", ms(r.Think)) }},
		{"REASON", "reason", func(r row) any { return r.Reason }},
	})
	for i := range rep.Flows {
		if err := tw.Row(&rep.Flows[i]); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// ms is d in milliseconds, for tables.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
