package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netblame/netblame/capfile"
	"github.com/netblame/netblame/decode"
)

// analyzeOptions holds the flags of `netblame analyze`.
type analyzeOptions struct {
	files   []string
	format  *string
	summary bool
	stats   bool
	hosts   []string
	ports   []string

	fmt    outputFormat
	filter packetFilter
}

var analyzeOpts = &analyzeOptions{}

var analyzeCmd = &cobra.Command{
	Use:   "analyze [flags] FILE...",
	Short: "Analyse capture files: packets, flows and TCP events",
	Long: `Analyse pcap and pcapng files (plain, gzip or zstd; detected from content).

Views (one at a time):
  --summary   one line a packet, like tshark's default output
  --stats     totals: packets (with --format json one object a file)

Several files are analysed one after the other, each on its own: frame
numbers, relative times and flows start afresh in every file, as if netblame
had been run once per file. In text output each file's part is headed by a
"# FILE" line; in JSON and CSV every row carries a "file" field when more
than one file is given.

A file that turns out to be corrupt is analysed up to the bad record: the
output covers what was read, the error (with its byte offset) goes to
stderr, the remaining files are still analysed, and the exit status is 1.

Filters: --host ADDR|PREFIX and --port N (repeatable; several values of one
flag match any of them, --host and --port together must both match) keep
only packets between matching endpoints.`,
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

func init() {
	f := analyzeCmd.Flags()
	f.StringArrayVarP(&analyzeOpts.files, "read", "r", nil, "capture file to read (repeatable; positional FILEs also work)")
	analyzeOpts.format = addFormatFlag(analyzeCmd)
	f.BoolVar(&analyzeOpts.summary, "summary", false, "one line a packet, like tshark's default output")
	f.BoolVar(&analyzeOpts.stats, "stats", false, "totals of each file")
	f.StringArrayVar(&analyzeOpts.hosts, "host", nil, "keep only packets to or from this address or prefix (repeatable)")
	f.StringArrayVar(&analyzeOpts.ports, "port", nil, "keep only packets to or from this TCP/UDP port (repeatable)")
	rootCmd.AddCommand(analyzeCmd)
}

// view is what analyze prints for one file: it sees every packet read,
// then is told the file ended (cleanly or not).
type view interface {
	packet(pk *packetCtx) error
	finish(fc *fileCtx) error
}

// fileCtx is the state of the file being analysed, shared with the view.
type fileCtx struct {
	name    string
	multi   bool // several files given: label rows with the file name
	first   int64
	started bool // first is valid
	packets uint64
	readErr error // the error that ended the file early, nil at clean EOF
}

// packetCtx is one packet as the views see it.
type packetCtx struct {
	cap *capfile.Packet
	dec *decode.Packet
	err error // decode error, nil when every header was well formed
	rel int64 // ns since the file's first packet
}

func (o *analyzeOptions) run(stdout, stderr io.Writer, files []string) error {
	var err error
	if o.fmt, err = parseFormat(*o.format); err != nil {
		return err
	}
	if err := o.filter.parse(o.hosts, o.ports); err != nil {
		return err
	}
	nviews := 0
	for _, b := range []bool{o.summary, o.stats} {
		if b {
			nviews++
		}
	}
	if nviews > 1 {
		return inputErr(errors.New("analyze: choose one of --summary, --stats"))
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
	return errors.Join(errs...)
}

// newView builds the view the flags ask for.
func (o *analyzeOptions) newView(w io.Writer, fc *fileCtx) view {
	switch {
	case o.stats:
		return newStatsView(w, o, fc)
	default:
		return newSummaryView(w, o, fc)
	}
}

// analyzeFile reads one file through the selected view. Errors in the input
// are returned as inputErr after the view has printed what was read.
func (o *analyzeOptions) analyzeFile(stdout, stderr io.Writer, fc *fileCtx) error {
	f, err := os.Open(fc.name)
	if err != nil {
		return inputErr(err)
	}
	defer f.Close()
	src := &countingReader{r: f}
	prog := startProgress(stderr, f, src)
	defer prog.stop()

	r, err := capfile.NewReader(src)
	if err != nil {
		return inputErr(fmt.Errorf("%s: %w", fc.name, err))
	}
	defer r.Close()

	v := o.newView(stdout, fc)
	var (
		cp capfile.Packet
		dp decode.Packet
		pk = packetCtx{cap: &cp, dec: &dp}
	)
	for {
		err := r.Next(&cp)
		if err == io.EOF {
			break
		}
		if err != nil {
			fc.readErr = fmt.Errorf("%s: %w", fc.name, err)
			break
		}
		if !fc.started {
			fc.first, fc.started = cp.Timestamp, true
		}
		fc.packets++
		pk.err = dp.Decode(cp.Data, cp.Link)
		pk.rel = cp.Timestamp - fc.first
		if !o.filter.match(&dp) {
			continue
		}
		if err := v.packet(&pk); err != nil {
			return err
		}
	}
	prog.stop()
	if err := v.finish(fc); err != nil {
		return err
	}
	return inputErr(fc.readErr)
}

// packetFilter is --host and --port: a packet matches when one of its
// endpoints is a listed host (if any are listed) and one of its ports is a
// listed port (if any are listed).
type packetFilter struct {
	hosts []netip.Prefix
	ports []uint16
}

func (f *packetFilter) parse(hosts, ports []string) error {
	f.hosts, f.ports = nil, nil
	for _, h := range hosts {
		p, err := parseHost(h)
		if err != nil {
			return inputErr(fmt.Errorf("--host %q: %w", h, err))
		}
		f.hosts = append(f.hosts, p)
	}
	for _, s := range ports {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return inputErr(fmt.Errorf("--port %q: want a number from 0 to 65535", s))
		}
		f.ports = append(f.ports, uint16(n))
	}
	return nil
}

// parseHost accepts an address or a CIDR prefix.
func parseHost(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (f *packetFilter) active() bool { return len(f.hosts) > 0 || len(f.ports) > 0 }

func (f *packetFilter) match(p *decode.Packet) bool {
	if !f.active() {
		return true
	}
	return f.matchEndpoints(p.Src, p.Dst, p.SrcPort, p.DstPort, hasPorts(p))
}

// matchEndpoints applies the filter to two endpoints (of a packet or flow).
func (f *packetFilter) matchEndpoints(a, b netip.Addr, pa, pb uint16, ports bool) bool {
	if len(f.hosts) > 0 {
		ok := false
		for _, h := range f.hosts {
			if (a.IsValid() && h.Contains(a.Unmap())) || (b.IsValid() && h.Contains(b.Unmap())) ||
				(a.IsValid() && h.Contains(a)) || (b.IsValid() && h.Contains(b)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(f.ports) > 0 {
		if !ports {
			return false
		}
		ok := false
		for _, p := range f.ports {
			if p == pa || p == pb {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// hasPorts reports whether the packet has TCP or UDP ports.
func hasPorts(p *decode.Packet) bool {
	return p.Layer == decode.LayerTransport && (p.Proto == decode.ProtoTCP || p.Proto == decode.ProtoUDP)
}

// decimalSeconds formats ns nanoseconds as seconds with nine fractional
// digits ("1700000000.123456789", "-0.000001000"), exactly.
func decimalSeconds(ns int64) string {
	return string(appendDecimalSeconds(nil, ns, 9))
}

// appendDecimalSeconds appends ns as seconds with digits (1..9) fractional
// digits, truncating.
func appendDecimalSeconds(b []byte, ns int64, digits int) []byte {
	u := uint64(ns)
	if ns < 0 {
		b = append(b, '-')
		u = uint64(-ns)
	}
	b = strconv.AppendUint(b, u/1e9, 10)
	b = append(b, '.')
	frac := u % 1e9
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(b, d[:digits]...)
}
