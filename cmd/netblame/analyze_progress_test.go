package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProgressOnlyOnTerminal: the bar is drawn, from the byte counter,
// when stderr is a terminal and reading takes longer than progressDelay,
// and never on a pipe or a buffer.
func TestProgressOnlyOnTerminal(t *testing.T) {
	oldDelay, oldTTY := progressDelay, isTerminal
	defer func() { progressDelay, isTerminal = oldDelay, oldTTY }()
	progressDelay = 0

	f, err := os.CreateTemp(t.TempDir(), "capture")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	for _, tty := range []bool{false, true} {
		isTerminal = func(*os.File) bool { return tty }
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		src := &countingReader{r: f}
		p := startProgress(w, f, src)
		if _, err := io.Copy(io.Discard, src); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // a few ticks
		p.stop()
		p.stop() // stopping twice is fine
		w.Close()
		out, _ := io.ReadAll(r)
		r.Close()
		switch {
		case !tty && len(out) > 0:
			t.Errorf("not a terminal, yet the bar wrote %q", out)
		case tty && !strings.Contains(string(out), "1.00 MiB"):
			t.Errorf("terminal: the bar did not show the 1 MiB read: %q", out)
		}
	}
	// A writer that is not a file never gets a bar, and stop returns.
	var b strings.Builder
	isTerminal = func(*os.File) bool { return true }
	startProgress(&b, f, &countingReader{r: f}).stop()
	if b.Len() > 0 {
		t.Errorf("bar written to a non-file: %q", b.String())
	}
}
