package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/netblame/netblame/flowtable"
	"github.com/netblame/netblame/report"
	"github.com/netblame/netblame/track"
)

// plotFile is the --plot, -o and --size flags a command shares: which
// plot, the image file and its size.
type plotFile struct {
	kind string
	out  string
	size string

	width, height int
}

// validate checks the flags: a kind among kinds, an .svg or .png file, a
// size in range.
func (o *plotFile) validate(kinds ...string) error {
	if o.kind == "" {
		if o.out != "" {
			return inputErr(errors.New("-o goes with --plot"))
		}
		return nil
	}
	if !slices.Contains(kinds, o.kind) {
		return inputErr(fmt.Errorf("--plot %q: want %s", o.kind, orList(kinds)))
	}
	if ext := strings.ToLower(filepath.Ext(o.out)); ext != ".svg" && ext != ".png" {
		return inputErr(fmt.Errorf("--plot: -o %q: want a .svg or .png file", o.out))
	}
	w, h, ok := strings.Cut(o.size, "x")
	var err1, err2 error
	o.width, err1 = strconv.Atoi(w)
	o.height, err2 = strconv.Atoi(h)
	if !ok || err1 != nil || err2 != nil || o.width < 100 || o.height < 100 || o.width > 10000 || o.height > 10000 {
		return inputErr(fmt.Errorf("--size %q: want WxH in pixels, from 100x100 to 10000x10000", o.size))
	}
	return nil
}

// orList spells kinds as "a, b or c".
func orList(kinds []string) string {
	if len(kinds) == 1 {
		return kinds[0]
	}
	return strings.Join(kinds[:len(kinds)-1], ", ") + " or " + kinds[len(kinds)-1]
}

// write draws p into the -o file, in the format its extension names.
func (o *plotFile) write(p *report.Plot) error {
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(o.out)), ".")
	if err := report.WritePlot(f, p, format, o.width, o.height); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plotOptions are analyze's --plot flags: one static plot of the --trace
// flow, drawn by package report from the same pass.
type plotOptions struct {
	plotFile
	col *report.Collector // nil without --plot
}

func addPlotFlags(f *pflag.FlagSet, o *plotOptions) {
	f.StringVar(&o.kind, "plot", "", "with --trace: write one plot of the flow instead of its packets: window, tseq, rtt or throughput (to -o)")
	f.StringVarP(&o.out, "output", "o", "", "with --plot: the image file, .svg or .png")
	f.StringVar(&o.size, "size", "1200x600", "with --plot: image size in pixels, WxH")
}

// check validates the --plot flags against the rest of the command line.
func (o *plotOptions) check(trace string, files int) error {
	if err := o.validate("window", "tseq", "rtt", "throughput"); err != nil || o.kind == "" {
		return err
	}
	if trace == "" {
		return inputErr(errors.New("--plot needs --trace FLOW"))
	}
	if files != 1 {
		return inputErr(errors.New("--plot draws a flow of one file"))
	}
	return nil
}

// hook starts collecting the traced flow's series when --plot is given.
func (o *plotOptions) hook(cfg *flowtable.Config, trace string) {
	o.col = nil
	if o.kind == "" {
		return
	}
	sel, _ := parseFlowSpec(trace)
	o.col = report.NewCollector(report.Options{Flow: &sel, Top: 1, Width: o.width})
	o.col.Hook(cfg)
}

// packet feeds the collector (nothing without --plot).
func (o *plotOptions) packet(p *track.Packet) {
	if o.col != nil {
		o.col.Packet(p)
	}
}

// write draws the plot once the file was read and the table flushed.
func (o *plotOptions) write(name string) error {
	if o.col == nil {
		return nil
	}
	p := report.FindPlot(o.col.Data(name), o.kind)
	if p == nil {
		return inputErr(fmt.Errorf("--plot %s: the traced flow has no such series (not TCP, or no sample)", o.kind))
	}
	return o.plotFile.write(p)
}
