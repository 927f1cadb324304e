package main

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"
)

// progressDelay is how long reading a file may take before a progress bar
// appears; quick files never show one. (A variable for tests.)
var progressDelay = time.Second

// countingReader counts the bytes read from the file (compressed bytes for
// compressed files, so the count compares with the file size). It is
// updated once per Read of a large buffer, never per packet.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// progress draws a bar on stderr, from a ticker that reads the byte count,
// when reading takes longer than progressDelay and stderr is a terminal.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// startProgress starts watching src, which reads f. It never draws when
// stderr is not a terminal (pipes, files, tests).
func startProgress(stderr io.Writer, f *os.File, src *countingReader) *progress {
	p := &progress{done: make(chan struct{})}
	tty, ok := stderr.(*os.File)
	if !ok || !isTerminal(tty) {
		return p
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return p
	}
	p.wg.Add(1)
	go p.loop(tty, st.Size(), src)
	return p
}

// isTerminal reports whether f is a terminal. (A variable for tests.)
var isTerminal = func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) }

// isTerminalWriter reports whether w is a file that is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

func (p *progress) loop(tty *os.File, size int64, src *countingReader) {
	defer p.wg.Done()
	select {
	case <-p.done:
		return
	case <-time.After(progressDelay):
	}
	bar := pb.New64(size).SetWriter(tty).Set(pb.Bytes, true).Set(pb.CleanOnFinish, true)
	bar.SetCurrent(src.n.Load())
	bar.Start()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			bar.SetCurrent(src.n.Load())
			bar.Finish()
			return
		case <-t.C:
			bar.SetCurrent(src.n.Load())
		}
	}
}

// stop removes the bar (if any) and waits until it is gone, so that
// output after it is not mixed with it. It may be called more than once.
func (p *progress) stop() {
	p.once.Do(func() { close(p.done) })
	p.wg.Wait()
}
