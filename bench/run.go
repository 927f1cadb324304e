package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Suite is one task done by netblame and its peers on the same inputs.
type Suite struct {
	Name string
	Doc  string
	// LibPeers names the cases the library peers (gopacket) add to the
	// suite; without Config.Peers they are reported as skipped.
	LibPeers []string
	// Cases builds the suite's cases for env: netblame's first, then
	// the peers. Heavy setup belongs in each Case's Setup, so that only
	// one case's memory is held at a time.
	Cases func(env *Env) ([]Case, error)
}

// Peers adds the cases of peers that are Go libraries. Package bench
// links none (so the netblame binary does not); internal/benchpeer
// implements it with gopacket for cmd/netblame-bench and go test.
type Peers interface {
	// Cases returns the peers' cases for the named suite.
	Cases(suite string, env *Env) ([]Case, error)
}

// Config is one run of the suites.
type Config struct {
	Suites  []string // names to run; empty: all
	Quick   bool     // smaller inputs and fewer runs: every suite in under 3 minutes on 2 cores
	File    string   // a capture to run the file suites on as well (-r)
	Packets int      // packets of generated traffic; 0: 200k quick, 1M otherwise
	Runs    int      // timed runs a case; 0: 3 quick, 5 otherwise
	Peers   Peers    // library peers; nil: reported as skipped
	Log     io.Writer
}

// Env is what a suite's cases run on: generated files, made once a run
// and shared by the suites, and the user's file.
type Env struct {
	Quick   bool
	File    string // -r FILE, or ""
	Packets int    // packets of generated traffic
	Dir     string // scratch directory, removed at the end of the run
	Log     io.Writer

	generated map[string]generatedFile
	frames    [][]byte
	lab       *CaptureLab
	labErr    error
	cleanup   []func()
}

type generatedFile struct {
	path    string
	packets int
}

// Generated returns a file of the run's generated traffic (DefaultTraffic,
// env.Packets packets then the closing ones) in the format of ext
// (".pcap", ".pcapng", ".pcap.gz", ".pcap.zst"), writing it the first
// time it is asked for.
func (e *Env) Generated(ext string) (string, int, error) {
	return e.GeneratedWith("traffic", DefaultTraffic, ext)
}

// GeneratedWith is Generated for traffic shaped by cfg, written once a run
// to a file called name+ext.
func (e *Env) GeneratedWith(name string, cfg TrafficConfig, ext string) (string, int, error) {
	if g, ok := e.generated[name+ext]; ok {
		return g.path, g.packets, nil
	}
	path := filepath.Join(e.Dir, name+ext)
	n, err := WriteTraffic(path, cfg, e.Packets)
	if err != nil {
		return "", 0, err
	}
	if e.generated == nil {
		e.generated = map[string]generatedFile{}
	}
	e.generated[name+ext] = generatedFile{path, n}
	return path, n, nil
}

// MinRun is the least time of one timed run: 100 ms quick, 300 ms
// otherwise.
func (e *Env) MinRun() time.Duration {
	if e.Quick {
		return 100 * time.Millisecond
	}
	return 300 * time.Millisecond
}

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// AllSuites lists every suite in the order they run.
func AllSuites() []Suite {
	return []Suite{
		decodeSuite(),
		readSuite(),
		flowtableSuite(),
		pipelineSuite(),
		filterSuite(),
		correlateSuite(),
		captureSuite(),
	}
}

// SuiteNames lists the names of AllSuites.
func SuiteNames() []string {
	var names []string
	for _, s := range AllSuites() {
		names = append(names, s.Name)
	}
	return names
}

// ErrConfig is returned (wrapped) for a configuration Run cannot use: an
// unknown suite, a -r file that cannot be read.
var ErrConfig = errors.New("bad configuration")

// Run runs the selected suites and writes the header and every
// measurement to out. A case that fails or is skipped is a line of its
// own; Run returns an error only for a bad configuration or when out
// cannot be written.
func Run(cfg Config, out *Writer) error {
	all := AllSuites()
	for _, name := range cfg.Suites {
		if !slices.ContainsFunc(all, func(s Suite) bool { return s.Name == name }) {
			return fmt.Errorf("bench: %w: unknown suite %q (have %s)", ErrConfig, name, strings.Join(SuiteNames(), ", "))
		}
	}
	if cfg.File != "" {
		if _, err := CountPackets(cfg.File); err != nil {
			return fmt.Errorf("bench: %w: -r %s: %w", ErrConfig, cfg.File, err)
		}
	}
	env := &Env{Quick: cfg.Quick, File: cfg.File, Packets: cfg.Packets, Log: cfg.Log}
	if env.Packets <= 0 {
		env.Packets = 1_000_000
		if cfg.Quick {
			env.Packets = 200_000
		}
	}
	runs := cfg.Runs
	if runs <= 0 {
		runs = 5
		if cfg.Quick {
			runs = 3
		}
	}
	dir, err := os.MkdirTemp("", "netblame-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env.Dir = dir
	defer func() {
		for _, f := range env.cleanup {
			f()
		}
	}()
	if err := out.WriteHeader(MachineHeader(cfg.Quick, cfg.File, cfg.Peers != nil)); err != nil {
		return err
	}
	for _, s := range all {
		if len(cfg.Suites) > 0 && !slices.Contains(cfg.Suites, s.Name) {
			continue
		}
		env.logf("suite %s: %s", s.Name, s.Doc)
		ms := runSuite(s, env, cfg.Peers, runs)
		SetRatios(ms)
		if err := out.Write(ms); err != nil {
			return err
		}
	}
	return out.Flush()
}

// runSuite measures every case of s, netblame's first.
func runSuite(s Suite, env *Env, peers Peers, runs int) []Measurement {
	cases, err := s.Cases(env)
	if err != nil {
		return []Measurement{{Suite: s.Name, Impl: "netblame", Error: err.Error()}}
	}
	if peers != nil {
		pc, err := peers.Cases(s.Name, env)
		if err != nil {
			cases = append(cases, Case{Impl: "gopacket", Skip: "peer setup failed: " + err.Error()})
		}
		cases = append(cases, pc...)
	} else {
		for _, p := range s.LibPeers {
			cases = append(cases, Case{Impl: p, Case: "*", Skip: "gopacket peers are not linked into netblame; run netblame-bench (cmd/netblame-bench)"})
		}
	}
	var ms []Measurement
	for _, c := range cases {
		if c.Setup != nil && c.Skip == "" {
			n, err := c.Setup()
			if n > 0 {
				c.Packets = n
			}
			if err != nil {
				ms = append(ms, Measurement{Suite: s.Name, Impl: c.Impl, Case: c.Case, Packets: c.Packets, Error: "setup: " + err.Error()})
				if c.Close != nil {
					c.Close()
				}
				continue
			}
		}
		m := Measure(s.Name, c, MeasureOptions{Runs: runs, MinRun: env.MinRun()})
		if c.Note != "" && m.Note == "" {
			m.Note = c.Note
		}
		ms = append(ms, m)
		env.logf("  %-28s %-22s %s", m.Impl, m.Case, progressFigure(m))
		// Free one case's table before the next builds its own.
		runtime.GC()
	}
	return ms
}

func progressFigure(m Measurement) string {
	switch {
	case m.Skipped != "":
		return "skipped: " + m.Skipped
	case m.Error != "":
		return "error: " + m.Error
	case m.NsPerPacket != nil:
		return fmt.Sprintf("%.1f ns/pkt", *m.NsPerPacket)
	}
	return ""
}
