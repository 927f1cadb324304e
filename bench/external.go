package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// ProgramCase is a case that runs an installed program once a run, its
// standard output discarded. When the program is not installed the case
// is skipped with that reason.
func ProgramCase(impl, cas string, packets int, name string, args ...string) Case {
	c := Case{Impl: impl, Case: cas, Packets: packets, External: true}
	path, err := exec.LookPath(name)
	if err != nil {
		c.Skip = name + " is not installed"
		return c
	}
	c.Run = func() error { return runProgram(path, args...) }
	return c
}

// runProgram runs path with args to completion, standard output thrown
// away, and returns its error with the end of its standard error.
func runProgram(path string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
