package netlab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process running inside one of the lab's namespaces.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, valid after done

	mu    sync.Mutex
	lines []string // stdout and stderr, interleaved by arrival
	ready chan struct{}
}

// startInNS starts args in namespace ns with extra environment env and
// waits until a line of its output contains readyMark (when non-empty).
func startInNS(ctx context.Context, name, ns string, env []string, readyMark string, args ...string) (*proc, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = labProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), ready: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var once sync.Once
	var readers sync.WaitGroup
	scan := func(r io.Reader) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
			if readyMark != "" && strings.Contains(l, readyMark) {
				once.Do(func() { close(p.ready) })
			}
		}
	}
	readers.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() {
		readers.Wait() // pipes must be drained before Wait
		p.err = cmd.Wait()
		close(p.done)
	}()
	if readyMark == "" {
		return p, nil
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.ready:
		return p, nil
	case <-p.done:
		return p, fmt.Errorf("%s exited before it was ready (%v): %s", name, p.err, p.output())
	case <-t.C:
		return p, fmt.Errorf("%s not ready after 10 s: %s", name, p.output())
	case <-ctx.Done():
		return p, ctx.Err()
	}
}

// output returns what the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// wait waits up to d for the process to exit by itself.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop sends sig and waits up to d, then kills the process.
func (p *proc) stop(sig syscall.Signal, d time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	if !p.wait(d) {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once (used on cleanup paths).
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
