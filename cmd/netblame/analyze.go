package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
	"github.com/netblame/netblame/dfilter"
	"github.com/netblame/netblame/filter"
	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/linktype"
	"github.com/netblame/netblame/summary"
	"github.com/netblame/netblame/track"
)

// analyzeOptions holds the flags of `netblame analyze`.
type analyzeOptions struct {
	files         []string
	format        *string
	summary       bool
	detail        bool   // -V
	count         uint64 // -c: stop after this many packets shown (0: all)
	stats         bool
	events        bool
	trace         string
	handshakeOver time.Duration
	first         bool
	resetBy       string
	sortBy        string
	top           int
	hosts         []string
	ports         []string
	captureFilter string
	displayFilter string
	// display is -Y compiled; nil without it.
	display   *dfilter.Filter
	fields    fieldsOptions
	writePath string
	// write is -w's output, opened at the first packet kept.
	write      *packetWriter
	maxFlows   int
	splitVLANs bool
	dedup      bool
	// workers is --workers: flow-table owners for the views that run on
	// several (0: one a core). The default is 1: on the 2-vCPU machine
	// the benchmarks run on, two were slower than one (docs/BENCHMARKS.md).
	workers int
	merge   bool // --merge: the files are one capture

	// csvHeader: a CSV header line was printed for an earlier file; later
	// files' tables continue below it without one.
	csvHeader bool
	// traced counts the packets --trace found, over all files.
	traced int

	fmt outputFormat
	// capture is -f, compiled for each link type met; nil without -f.
	capture *filter.LinkMatcher
	// filter is --host and --port, which narrow the views only.
	filter viewFilter
	// plot is --plot: a static plot of the --trace flow (report_plot.go).
	plot plotOptions
}

func newAnalyzeCmd() *cobra.Command {
	analyzeOpts := &analyzeOptions{}
	analyzeCmd := &cobra.Command{
		Use:   "analyze [flags] FILE...",
		Short: "Analyse capture files: packets, flows and TCP events",
		Long: `Analyse pcap and pcapng files (plain, gzip or zstd; detected from content).

Views (one at a time; the default is the conversation table):
  (default)              one row a flow: endpoints (client first), start,
                         duration, packets and bytes each way, handshake
                         time, RTT min/median/max, retransmissions,
                         out-of-order, duplicate ACKs, zero windows, window
                         shrinks, who reset and who closed first
  --summary              one line a packet, like tshark's default output
  --stats                totals of each file: packets, flows, and one count
                         a TCP event (Wireshark's tcp.analysis.<name>
                         semantics: retransmission includes fast and
                         spurious ones; netblame's own events by their names)
  --events               one row a TCP event: frame, time, flow, direction,
                         kind, details
  --trace FLOW           one connection packet by packet (--> client to
                         server, <-- server to client) with relative seq/ack;
                         FLOW is ip:port-ip:port in either order ([v6]:port
                         for IPv6) or the flow's index (IDX in the table)
  --handshake-over D     flows whose SYN-ACK came more than D (e.g. 300ms)
                         after the first SYN, in order of their SYN; with
                         --first only the earliest
  --reset-by SIDE        flows whose first RST came from SIDE (client or
                         server), each with the number of the client's other
                         TCP connections in progress at the instant of the
                         reset (first packet at or before it, last at or
                         after it)

--sort FIELD orders table rows by a JSON field name (numbers largest first,
except index and start_s; names and addresses A to Z; prefix + or - to force
ascending or descending) and --top N keeps the first N. The fields of every
view are described in docs/CLI.md.

Several files are analysed one after the other, each on its own: frame
numbers, relative times and flows start afresh in every file, as if netblame
had been run once per file. In text output each file's part is headed by a
"# FILE" line; in JSON and CSV every row carries a "file" field when more
than one file is given.

A file that turns out to be corrupt is analysed up to the bad record: the
output covers what was read, the error (with its byte offset) goes to
stderr, the remaining files are still analysed, and the exit status is 1.

Filters: -f EXPR (--capture-filter) is a capture filter in tcpdump syntax,
run on every packet as read, before anything else, as "tcpdump -r FILE EXPR"
would: packets it refuses do not exist for the analysis (flows, events and
totals are those of the packets it keeps; frame numbers stay the file's).
--host ADDR|PREFIX and --port N (repeatable; several values of one flag match
any of them, --host and --port together must both match) narrow only what
the views print to packets and flows between matching endpoints: the flow
table still sees every packet -f keeps, so the analysis is unchanged. They
are compiled as "(host A or net P ...) and (tcp or udp) and (port N or ...)".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args)+len(analyzeOpts.files) == 0 {
				return inputErr(errors.New("analyze: no capture file given"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o := analyzeOpts
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr(), append(append([]string(nil), o.files...), args...))
		},
	}
	f := analyzeCmd.Flags()
	f.StringArrayVarP(&analyzeOpts.files, "read", "r", nil, "capture file to read (repeatable; positional FILEs also work)")
	analyzeOpts.format = addFormatFlag(analyzeCmd)
	f.BoolVar(&analyzeOpts.summary, "summary", false, "one line a packet, like tshark's default output")
	f.BoolVarP(&analyzeOpts.detail, "verbose", "V", false, "print each packet shown as a tree of its layers and fields (as tshark -V), names as in -Y and -e")
	f.Uint64VarP(&analyzeOpts.count, "count", "c", 0, "stop after this many packets shown, after -f, -Y, --host and --port (0: all), in each file")
	f.BoolVar(&analyzeOpts.stats, "stats", false, "totals of each file")
	f.BoolVar(&analyzeOpts.events, "events", false, "one row a TCP event")
	f.StringVar(&analyzeOpts.trace, "trace", "", "one flow packet by packet: ip:port-ip:port (either order) or the flow index")
	f.DurationVar(&analyzeOpts.handshakeOver, "handshake-over", 0, "flows whose SYN-ACK came more than this after the first SYN (e.g. 300ms)")
	f.BoolVar(&analyzeOpts.first, "first", false, "with --handshake-over: only the earliest such flow")
	f.StringVar(&analyzeOpts.resetBy, "reset-by", "", "flows reset by client or server, with the client's other connections in progress then")
	f.StringVar(&analyzeOpts.sortBy, "sort", "", "sort table rows by this field (see docs/CLI.md); +FIELD ascending, -FIELD descending")
	f.IntVar(&analyzeOpts.top, "top", 0, "print only the first N rows of a table (0: all)")
	f.IntVar(&analyzeOpts.maxFlows, "max-flows", 1<<18, "flow table capacity (oldest idle flows are evicted beyond it)")
	f.BoolVar(&analyzeOpts.dedup, "dedup", false, "leave out capture duplicates (a packet identical to one less than 1 ms before, as a SPAN mirroring ingress and egress records); off, counts match tshark's")
	f.BoolVar(&analyzeOpts.merge, "merge", false, "analyse the files as one capture in time order (rotated files, as mergecap merges them); frames shown as FILE:FRAME")
	f.BoolVar(&analyzeOpts.splitVLANs, "split-vlans", false, "tell flows apart by VLAN ID too (Wireshark, and by default netblame, do not)")
	f.StringVarP(&analyzeOpts.captureFilter, "capture-filter", "f", "", "capture filter, tcpdump syntax: packets it refuses are left out of the analysis entirely")
	f.StringVarP(&analyzeOpts.displayFilter, "filter", "Y", "", "display filter, Wireshark syntax (tcp.analysis.retransmission, dns.qry.name contains \"x\"): shows only the packets it keeps, and the flows with one; the analysis still sees every packet")
	f.StringVarP(&analyzeOpts.writePath, "write", "w", "", "write the packets shown (after -f, -Y, --host, --port) to this file, bytes as read: .pcap, .pcapng, with .zst or .gz to compress")
	f.StringVarP(&analyzeOpts.fields.outputType, "output-type", "T", "", "with -e: fields (tshark's -T fields lines, the default) or json (one object a packet)")
	f.StringArrayVarP(&analyzeOpts.fields.names, "field", "e", nil, "print this field of every packet shown, as tshark -T fields -e does (repeatable; names as in -Y)")
	f.StringArrayVarP(&analyzeOpts.fields.settings, "field-option", "E", nil, "with -e: header=y|n, separator=/t|/s|C, quote=d|s|n, occurrence=f|l|a, aggregator=,|/s|C (as tshark's -E)")
	f.StringArrayVar(&analyzeOpts.hosts, "host", nil, "show only packets and flows to or from this address or prefix (repeatable; the analysis still sees every packet)")
	f.StringArrayVar(&analyzeOpts.ports, "port", nil, "show only packets and flows to or from this TCP/UDP port (repeatable; the analysis still sees every packet)")
	f.IntVar(&analyzeOpts.workers, "workers", 1, "cores for the flow table and its analysis, 0 for all (GOMAXPROCS); --stats and the flow tables use them, the per-packet views one (see docs/CLI.md)")
	addPlotFlags(f, &analyzeOpts.plot)
	return analyzeCmd
}

// view is what analyze prints for one file: it sees every packet read
// (that passes the filters), then is told the file ended (cleanly or not).
type view interface {
	packet(pk *packetCtx) error
	finish(fc *fileCtx) error
}

// flowSink is a view that wants the record of every flow once it leaves the
// flow table (idle, evicted, or at the end of the file). Records are handed
// over unfiltered; the pointer is valid only during the call.
type flowSink interface {
	flow(r *flowtable.FlowRecord)
}

// fileCtx is the state of the file being analysed, shared with the view.
type fileCtx struct {
	name  string
	shown uint64 // packets shown, for -c
	// stopFrame is the frame of the packet that reached -c (0: not
	// reached).
	stopFrame uint64
	multi     bool // several files given: label rows with the file name
	first     int64
	started   bool // first is valid
	packets   uint64
	// frames is the reader's frame count: packets plus the pcapng blocks
	// Wireshark numbers as frames without a packet in them.
	frames  uint64
	readErr error // the error that ended the file early, nil at clean EOF

	// merged is the source with --merge: the files read as one, whose
	// Locate labels a frame with its file and number in it.
	merged *capfile.Merged

	table   *flowtable.Table
	pending []flowtable.EventRecord // events of the packet being analysed
	// displayed holds, with -Y, the flows (by index) with a packet the
	// display filter kept.
	displayed map[uint64]bool
}

// showFlow reports whether a flow passes --host/--port and, with -Y, had a
// packet the display filter kept.
func (o *analyzeOptions) showFlow(fc *fileCtx, r *flowtable.FlowRecord) bool {
	return o.filter.matchFlow(r) && (fc.displayed == nil || fc.displayed[r.Index])
}

// packetCtx is one packet as the views see it.
type packetCtx struct {
	cap *capfile.Packet
	dec *decode.Packet
	// payload is the bytes after the transport header (of the datagram,
	// once whole).
	payload []byte
	err     error // decode error, nil when every header was well formed
	rel     int64 // ns since the file's first packet
	// res is what the flow table made of the packet, events its events in
	// the order the analysis raised them.
	res    *flowtable.PacketResult
	events []flowtable.EventRecord
	// dp is the packet as -Y and -e see it, filled only with one of them.
	dp *dfilter.Packet
}

func (o *analyzeOptions) run(stdout, stderr io.Writer, files []string) (err error) {
	if o.fmt, err = parseFormat(*o.format); err != nil {
		return err
	}
	if !isTerminalWriter(stdout) {
		// To a file or a pipe, a write(2) per row would dominate: the
		// events of a busy capture took 2.2 s instead of 0.3 s.
		bw := bufio.NewWriterSize(stdout, 64<<10)
		defer func() {
			if ferr := bw.Flush(); err == nil && ferr != nil {
				err = ferr
			}
		}()
		stdout = bw
	}
	if err := o.filter.parse(o.hosts, o.ports); err != nil {
		return err
	}
	o.capture = nil
	if o.captureFilter != "" {
		if o.capture, err = filter.NewLinkMatcher(o.captureFilter, 0); err != nil {
			return inputErr(fmt.Errorf("-f: %w", err))
		}
	}
	o.display = nil
	if o.displayFilter != "" {
		if o.display, err = dfilter.Compile(o.displayFilter); err != nil {
			return inputErr(fmt.Errorf("-Y: %w", err))
		}
	}
	if err := o.fields.parse(o.fmt); err != nil {
		return err
	}
	if err := o.checkViews(); err != nil {
		return err
	}
	if err := o.plot.check(o.trace, len(files)); err != nil {
		return err
	} else if o.plot.kind != "" {
		stdout = io.Discard // the plot replaces --trace's lines
	}
	o.csvHeader, o.traced = false, 0
	o.write = nil
	if o.writePath != "" {
		o.write = &packetWriter{path: o.writePath}
		defer func() {
			if cerr := o.write.close(); err == nil && cerr != nil {
				err = cerr
			}
		}()
	}
	if o.merge {
		return o.analyzeMerged(stdout, stderr, files)
	}
	var errs []error
	for _, name := range files {
		fc := &fileCtx{name: name, multi: len(files) > 1}
		if fc.multi && o.fmt == formatText {
			fmt.Fprintf(stdout, "# %s\n", name)
		}
		if err := o.analyzeFile(stdout, stderr, fc); err != nil {
			var ue usageError
			if !errors.As(err, &ue) {
				return err // a runtime failure (e.g. writing output): stop
			}
			errs = append(errs, err)
		}
	}
	if o.trace != "" && o.traced == 0 && len(errs) == 0 {
		spec, _ := parseFlowSpec(o.trace)
		return inputErr(fmt.Errorf("no packet of flow %s", describeFlow(spec)))
	}
	return errors.Join(errs...)
}

// streams reports whether the view prints while the file is read.
func (o *analyzeOptions) streams() bool {
	return o.summary || o.detail || o.events || o.trace != "" || o.fields.columns != nil
}

// checkViews rejects contradictory view flags.
func (o *analyzeOptions) checkViews() error {
	var views []string
	for _, v := range []struct {
		on   bool
		name string
	}{
		{o.summary, "--summary"}, {o.detail, "-V"}, {o.fields.columns != nil, "-e"}, {o.stats, "--stats"}, {o.events, "--events"},
		{o.trace != "", "--trace"}, {o.handshakeOver > 0, "--handshake-over"}, {o.resetBy != "", "--reset-by"},
	} {
		if v.on {
			views = append(views, v.name)
		}
	}
	if len(views) > 1 {
		return inputErr(fmt.Errorf("analyze: %s cannot be combined", strings.Join(views, " and ")))
	}
	if o.handshakeOver < 0 {
		return inputErr(errors.New("--handshake-over: want a positive duration such as 300ms"))
	}
	if o.first && o.handshakeOver == 0 {
		return inputErr(errors.New("--first goes with --handshake-over"))
	}
	if o.resetBy != "" && o.resetBy != "client" && o.resetBy != "server" {
		return inputErr(fmt.Errorf("--reset-by %q: want client or server", o.resetBy))
	}
	if o.top < 0 {
		return inputErr(fmt.Errorf("--top %d: want 0 (all) or more", o.top))
	}
	if o.workers < 0 {
		return inputErr(fmt.Errorf("--workers %d: want 0 (one a core) or more", o.workers))
	}
	if o.maxFlows <= 0 {
		return inputErr(fmt.Errorf("--max-flows %d: want a positive number", o.maxFlows))
	}
	if o.trace != "" {
		if _, err := parseFlowSpec(o.trace); err != nil {
			return err
		}
	}
	if o.sortBy != "" || o.top > 0 {
		if o.summary || o.detail || o.stats || o.trace != "" || o.events || o.fields.columns != nil {
			return inputErr(errors.New("--sort and --top apply to flow tables (the default view, --handshake-over, --reset-by)"))
		}
		if o.sortBy != "" {
			if _, _, err := parseSort(o.sortBy, flowSortKeys()); err != nil {
				return err
			}
		}
	}
	return nil
}

// newView builds the view the flags ask for.
func (o *analyzeOptions) newView(w io.Writer, fc *fileCtx) view {
	switch {
	case o.summary:
		return newSummaryView(w, o, fc)
	case o.detail:
		return newDetailView(w)
	case o.fields.columns != nil:
		return newFieldsView(w, o, fc)
	case o.stats:
		return newStatsView(w, o, fc)
	case o.events:
		return newEventsView(w, o, fc)
	case o.trace != "":
		spec, _ := parseFlowSpec(o.trace)
		return newTraceView(w, o, fc, spec)
	case o.handshakeOver > 0:
		return newFlowsView(w, o, fc, queryHandshake)
	case o.resetBy != "":
		return newFlowsView(w, o, fc, queryReset)
	default:
		return newFlowsView(w, o, fc, queryNone)
	}
}

// analyzeFile reads one file through the selected view. Errors in the input
// are returned as inputErr after the view has printed what was read.
func (o *analyzeOptions) analyzeFile(stdout, stderr io.Writer, fc *fileCtx) error {
	f := os.Stdin // -r - reads a capture from a pipe (tcpdump -w -, zstdcat)
	if fc.name != "-" {
		var err error
		if f, err = os.Open(fc.name); err != nil {
			return inputErr(err)
		}
		defer f.Close()
	}
	src := &countingReader{r: f}
	var prog *progress
	if o.streams() && isTerminalWriter(stdout) {
		// Lines printed as they are read would mix with the bar.
		prog = startProgress(nil, f, src)
	} else {
		prog = startProgress(stderr, f, src)
	}
	defer prog.stop()

	r, err := capfile.NewReader(src)
	if err != nil {
		return inputErr(fmt.Errorf("%s: %w", fc.name, err))
	}
	defer r.Close()
	if o.capture != nil && r.Format() == capfile.FormatPCAP {
		// One link type: say now if the expression cannot filter it.
		if _, err := o.capture.For(r.LinkType()); err != nil {
			return inputErr(fmt.Errorf("%s: -f for link type %v: %w", fc.name, r.LinkType(), err))
		}
	}
	return o.analyzeSource(stdout, stderr, fc, r, tableCapacity(o.maxFlows, f, r.Compression()), prog)
}

// analyzeMerged reads the files as one capture in time order (--merge):
// one table, one view; frames are labelled with their file and their
// number in it.
func (o *analyzeOptions) analyzeMerged(stdout, stderr io.Writer, files []string) error {
	m, err := capfile.OpenMerged(files...)
	if err != nil {
		return inputErr(fmt.Errorf("--merge: %w", err))
	}
	defer m.Close()
	m.RecordOrigins()
	fc := &fileCtx{name: strings.Join(files, "+"), merged: m}
	var size int64
	for _, name := range m.Files() {
		st, err := os.Stat(name)
		if err != nil {
			return inputErr(err)
		}
		size += st.Size() * 16 // compressed or not: a bound, as tableCapacity assumes for compressed files
	}
	prog := startProgress(nil, nil, nil)
	return o.analyzeSource(stdout, stderr, fc, m, capacityFor(o.maxFlows, size), prog)
}

// frameSource is what analyze reads: a file's reader or merged files.
type frameSource interface {
	capfile.Source
	Frames() uint64
}

// analyzeSource runs the view over one source.
func (o *analyzeOptions) analyzeSource(stdout, stderr io.Writer, fc *fileCtx, r frameSource, capacity int, prog *progress) error {
	var err error
	v := o.newView(stdout, fc)
	cfg := flowtable.Config{
		Capacity: capacity,
		Seed:     1, // a fixed seed: the same file gives the same eviction choices
		// Like Wireshark's tcp.stream, one connection seen on two VLANs
		// (a SPAN of both sides of a router) is one flow.
		IgnoreVLAN: !o.splitVLANs,
	}
	if fs, ok := v.(flowSink); ok {
		cfg.OnExpire = fs.flow
		if o.fileWorkers(v) > 1 {
			cfg.OnExpire = lockedFlows(fs)
		}
	}
	o.plot.hook(&cfg, o.trace)
	topts := track.Options{Flows: &cfg, Dedup: o.dedup}
	var linkErr error // -f cannot filter a link type of this file
	if lm := o.capture; lm != nil {
		topts.CaptureFilter = func(p *capfile.Packet) bool {
			m, err := lm.For(p.Link)
			if err != nil {
				if linkErr == nil {
					linkErr = fmt.Errorf("link type %v: %w", p.Link, err)
				}
				return false
			}
			return m.Match(p.Data, uint32(p.OrigLen))
		}
	}
	tr, err := track.New(topts)
	if err != nil {
		return inputErr(fmt.Errorf("--max-flows: %w", err))
	}
	fc.table = tr.Table()
	pk := packetCtx{}
	if o.display != nil {
		fc.displayed = map[uint64]bool{}
	}
	// -Y and -e look at packets through dfilter; conversations numbers
	// tcp.stream and udp.stream as tshark does.
	needDP := o.display != nil || o.fields.columns != nil || o.detail
	var dp dfilter.Packet
	var conversations *dfilter.Conversations
	if o.needsConversations() {
		conversations = new(dfilter.Conversations)
	}
	var prevTS int64
	if n := o.fileWorkers(v); n > 1 {
		err = o.runWorkers(tr, r, v, fc, n)
	} else {
		err = tr.Run(r, func(p *track.Packet) error {
			return o.onePacket(p, v, fc, &pk, &dp, conversations, &prevTS, needDP)
		})
	}
	if err == errCountReached {
		err = nil
	}
	fc.packets = tr.Stats().Packets - tr.Stats().CaptureFiltered
	if ve, ok := err.(viewError); ok {
		return ve.err
	}
	if err != nil {
		fc.readErr = fmt.Errorf("%s: %w", fc.name, err) // the packets before it stand
	} else if linkErr != nil {
		// A pcapng interface of a link type the expression cannot
		// filter (tcpdump refuses such a file): its packets were left out.
		fc.readErr = fmt.Errorf("%s: -f left out the packets of %w", fc.name, linkErr)
	}
	prog.stop()
	if o.dedup {
		fmt.Fprintf(stderr, "netblame: %s: --dedup left out %d capture duplicate(s)\n", fc.name, tr.Stats().Duplicates)
	}
	fc.frames = r.Frames()
	if fc.stopFrame != 0 {
		// -c stopped the run: the reader may have read on into its batch.
		fc.frames = fc.stopFrame
	}
	fc.table.Flush()
	if err := v.finish(fc); err != nil {
		return err
	}
	if err := o.plot.write(fc.name); err != nil {
		return err
	}
	return inputErr(fc.readErr)
}

// packetWriter is -w: the packets the filters kept, from every file given,
// into one capture file of the first packet's link type.
type packetWriter struct {
	path    string
	w       *capfile.Writer
	link    linktype.Type
	skipped uint64 // packets of another link type than the file's
}

func (pw *packetWriter) packet(p *capfile.Packet) error {
	if pw.w == nil {
		w, err := capfile.Create(pw.path, p.Link, 0)
		if err != nil {
			return fmt.Errorf("-w: %w", err)
		}
		pw.w, pw.link = w, p.Link
	}
	if p.Link != pw.link {
		pw.skipped++
		return nil
	}
	return pw.w.WritePacket(p.Timestamp, p.Data, p.OrigLen)
}

func (pw *packetWriter) close() error {
	if pw.w == nil {
		// Nothing was kept: an empty capture still says so to the
		// colleague who opens it.
		w, err := capfile.Create(pw.path, linktype.Ethernet, 0)
		if err != nil {
			return fmt.Errorf("-w: %w", err)
		}
		pw.w = w
	}
	if err := pw.w.Close(); err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	if pw.skipped > 0 {
		return inputErr(fmt.Errorf("-w %s: %d packet(s) of a link type other than %v left out (one file holds one link type)", pw.path, pw.skipped, pw.link))
	}
	return nil
}

// newViewTable makes a view's table writer. With several files, CSV
// output has a single header line: later files' tables skip it.
func newViewTable[R any](o *analyzeOptions, w io.Writer, cols []column[R]) *tableWriter[R] {
	tw := newTableWriter(w, o.fmt, cols)
	if o.fmt == formatCSV && o.csvHeader {
		tw.header = true
	}
	return tw
}

// finishViewTable flushes a view's table and notes whether it printed the
// CSV header.
func finishViewTable[R any](o *analyzeOptions, tw *tableWriter[R]) error {
	if o.fmt == formatCSV && tw.header {
		o.csvHeader = true
	}
	return tw.Flush()
}

// needsConversations reports whether a field shown or filtered on needs
// tcp.stream numbering or a flow's times (-V shows them): numbering is a
// random access a packet into a table of every flow, spared otherwise.
func (o *analyzeOptions) needsConversations() bool {
	return o.detail || o.display != nil && o.display.NeedsConversations() ||
		o.fields.columns != nil && o.fields.columns.NeedsConversations()
}

// tableCapacity sizes the flow table for a file: a file cannot hold more
// flows than packets, so small files get a small table (allocating and
// zeroing the full --max-flows table, 700 bytes a flow, would dominate
// their run time). Every packet record takes at least 40 bytes of a plain
// file; compressed files are assumed to shrink at most 16 times.
func tableCapacity(maxFlows int, f *os.File, comp capfile.Compression) int {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return maxFlows
	}
	size := st.Size()
	if comp != capfile.CompressNone {
		size *= 16
	}
	return capacityFor(maxFlows, size)
}

// capacityFor is tableCapacity for size bytes of plain capture.
func capacityFor(maxFlows int, size int64) int {
	const minFlows = 4096
	n := int64(minFlows)
	for n < size/40 && n < int64(maxFlows) {
		n *= 2
	}
	return int(min(n, int64(maxFlows)))
}

// viewFilter is --host and --port, compiled by the filter compiler and
// applied to endpoints (a decoded packet's, a datagram's once whole, a
// flow's) rather than to raw frames, so a reassembled datagram and its
// flow match by their ports although the last fragment carries none.
type viewFilter struct {
	expr string
	m    *filter.Matcher // nil: no --host or --port
}

func (f *viewFilter) parse(hosts, ports []string) error {
	f.expr, f.m = "", nil
	expr, err := hostPortExpr(hosts, ports)
	if err != nil || expr == "" {
		return err
	}
	m, err := filter.NewMatcher(expr, linktype.Raw, 0)
	if err != nil {
		return inputErr(fmt.Errorf("--host/--port: %w", err))
	}
	f.expr, f.m = expr, m
	return nil
}

// hostPortExpr turns --host and --port values into one filter expression
// (filter.EndpointsExpr).
func hostPortExpr(hosts, ports []string) (string, error) {
	var hp []netip.Prefix
	for _, h := range hosts {
		p, err := filter.ParseHost(h)
		if err != nil {
			return "", inputErr(fmt.Errorf("--host %q: %w", h, err))
		}
		hp = append(hp, p)
	}
	var pp []uint16
	for _, s := range ports {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return "", inputErr(fmt.Errorf("--port %q: want a number from 0 to 65535", s))
		}
		pp = append(pp, uint16(n))
	}
	return filter.EndpointsExpr(hp, pp), nil
}

func (f *viewFilter) active() bool { return f.m != nil }

func (f *viewFilter) match(p *decode.Packet) bool {
	if f.m == nil {
		return true
	}
	proto := uint8(p.Proto)
	if !summary.HasPorts(p) && (proto == 6 || proto == 17) {
		proto = 0 // no ports to test: as before, --port does not match
	}
	return f.m.MatchEndpoints(p.Src(), p.Dst(), proto, p.SrcPort, p.DstPort)
}

// matchFlow applies the filter to a flow's two endpoints.
func (f *viewFilter) matchFlow(r *flowtable.FlowRecord) bool {
	if f.m == nil {
		return true
	}
	return f.m.MatchEndpoints(r.Client.Addr(), r.Server.Addr(), uint8(r.Proto), r.Client.Port(), r.Server.Port())
}

// decimalSeconds formats ns nanoseconds as seconds with nine fractional
// digits ("1700000000.123456789", "-0.000001000"), exactly.
func decimalSeconds(ns int64) string {
	return string(summary.AppendSeconds(nil, ns, 9))
}

// viewError carries a view's error out of track.Run, apart from the
// reader's.
type viewError struct{ err error }

func (e viewError) Error() string { return e.err.Error() }

// frameLabel is how a view shows a frame: its number, or with --merge
// "FILE:FRAME", the file it came from and its number there.
func (fc *fileCtx) frameLabel(frame uint64) any {
	if fc.merged == nil {
		return frame
	}
	file, n, ok := fc.merged.Locate(frame)
	if !ok {
		return frame
	}
	return fc.merged.Files()[file] + ":" + strconv.FormatUint(n, 10)
}

// fileOf returns, with --merge, the file frame came from and its number
// there; otherwise "" and frame.
func (fc *fileCtx) fileOf(frame uint64) (string, uint64) {
	if fc.merged != nil {
		if file, n, ok := fc.merged.Locate(frame); ok {
			return fc.merged.Files()[file], n
		}
	}
	return "", frame
}
