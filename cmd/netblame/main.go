// Command netblame answers "is it the network?" from packet captures: it
// reads pcap and pcapng files or captures live, tracks every flow, analyses
// each TCP connection, and correlates two captures of the same traffic to
// say where loss and delay happened.
//
// This package only parses flags, wires the library packages together and
// formats their output; the work is done in decode, capfile, flowtable,
// correlate and ring.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// Exit statuses, as DESIGN.md fixes them.
const (
	exitOK      = 0
	exitInput   = 1 // bad input or usage
	exitRuntime = 2 // a failure while running
	// exitWarning: the job ran and wrote its output, but the inputs need
	// a look (blame: files given in reverse order, no connection in both
	// captures); the warning is on stderr.
	exitWarning = 3
)

// warningError ends a command that finished with a warning already
// printed: exit status 3, nothing more on stderr.
type warningError struct{ what string }

func (e warningError) Error() string { return e.what }

// usageError marks an error caused by how netblame was called or by what it
// was given to read; it exits with exitInput instead of exitRuntime.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// inputErr wraps err as a bad-input error (exit status 1).
func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// root is one run's command tree and what it learns while running.
type root struct {
	cmd *cobra.Command
	// started is set once cobra has accepted the command line (command,
	// flags and arguments) and is about to run the command: an error
	// before that is a usage error.
	started bool
	// cpuProfile is the --cpuprofile file; profiling stops when the run
	// ends.
	cpuProfile     string
	cpuProfileFile *os.File
}

// newRoot builds the command tree afresh, so every run (and every test
// calling runIO) starts from the flags' defaults.
func newRoot() *root {
	r := &root{cmd: &cobra.Command{
		Use:           "netblame",
		Short:         "Is it the network? Packet capture analysis and two-point blame",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}}
	r.cmd.SetVersionTemplate("netblame {{.Version}}\n")
	// Unknown flags and bad flag values are usage errors (exit status 1);
	// subcommands inherit this.
	r.cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return inputErr(err) })
	r.cmd.PersistentFlags().StringVar(&r.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to `file` (for go tool pprof)")
	r.cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		r.started = true
		return r.startCPUProfile()
	}
	r.cmd.AddCommand(newAnalyzeCmd(), newBlameCmd(), newCaptureCmd(), newDemoCmd(), newBenchCmd(), newReportCmd())
	return r
}

// version is the module version and the commit the binary was built
// from, as the build recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (commit " + rev[:min(len(rev), 12)] + modified + ")"
	}
	return v + " " + bi.GoVersion
}

func (r *root) startCPUProfile() error {
	if r.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(r.cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	r.cpuProfileFile = f
	return nil
}

func (r *root) stopCPUProfile() error {
	if r.cpuProfileFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := r.cpuProfileFile.Close()
	r.cpuProfileFile = nil
	return err
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runIO(args, os.Stdout, os.Stderr) }

// runIO runs one command line with its output going to stdout and stderr
// (commands write through cmd.OutOrStdout and cmd.ErrOrStderr).
func runIO(args []string, stdout, stderr io.Writer) int {
	r := newRoot()
	r.cmd.SetArgs(args)
	r.cmd.SetOut(stdout)
	r.cmd.SetErr(stderr)
	err := r.cmd.Execute()
	if perr := r.stopCPUProfile(); err == nil && perr != nil {
		err = fmt.Errorf("cpu profile: %w", perr)
	}
	if err == nil {
		return exitOK
	}
	var we warningError
	if errors.As(err, &we) {
		return exitWarning
	}
	fmt.Fprintln(stderr, "netblame:", err)
	var ue usageError
	if errors.As(err, &ue) || !r.started {
		return exitInput
	}
	return exitRuntime
}
