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
	"runtime/pprof"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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

var rootCmd = &cobra.Command{
	Use:           "netblame",
	Short:         "Is it the network? Packet capture analysis and two-point blame",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// started is set once cobra has accepted the command line (command, flags
// and arguments) and is about to run the command: an error before that is
// a usage error.
var started bool

func init() {
	// Unknown flags and bad flag values are usage errors (exit status 1);
	// subcommands inherit this.
	rootCmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return inputErr(err) })
	rootCmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the command to `file` (for go tool pprof)")
	rootCmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		started = true
		return startCPUProfile()
	}
}

// cpuProfile is the --cpuprofile file; profiling stops when runIO returns.
var (
	cpuProfile     string
	cpuProfileFile *os.File
)

func startCPUProfile() error {
	if cpuProfile == "" {
		return nil
	}
	f, err := os.Create(cpuProfile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	cpuProfileFile = f
	return nil
}

func stopCPUProfile() error {
	if cpuProfileFile == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := cpuProfileFile.Close()
	cpuProfileFile = nil
	return err
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runIO(args, os.Stdout, os.Stderr) }

// runIO runs one command line with its output going to stdout and stderr
// (commands write through cmd.OutOrStdout and cmd.ErrOrStderr). Tests call
// it repeatedly in one process, so every flag is first reset to its default.
func runIO(args []string, stdout, stderr io.Writer) int {
	resetFlags(rootCmd)
	started = false
	rootCmd.SetArgs(args)
	rootCmd.SetOut(stdout)
	rootCmd.SetErr(stderr)
	err := rootCmd.Execute()
	if perr := stopCPUProfile(); err == nil && perr != nil {
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
	if errors.As(err, &ue) || !started {
		return exitInput
	}
	return exitRuntime
}

// resetFlags puts every flag of cmd and its subcommands back to its default,
// undoing what an earlier Execute in the same process parsed.
func resetFlags(cmd *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			_ = sv.Replace(nil)
		} else {
			_ = f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	cmd.Flags().VisitAll(reset)
	cmd.PersistentFlags().VisitAll(reset)
	for _, c := range cmd.Commands() {
		resetFlags(c)
	}
}
