package netlab

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

// labProcAttr: an own process group, so a Ctrl-C to the test does not
// reach tcpdump before we stop it ourselves; and Pdeathsig, so that if the
// test binary dies (go test's timeout kills it) its lab programs die too.
func labProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// lockLab takes the machine-wide lab lock at path, exclusive for a heavy
// scenario and shared otherwise, waiting until ctx ends. Lab runs from
// different test binaries (go test runs packages at once) then never put
// a heavy scenario beside another lab on the same cores, where its
// user-space impairer would queue and change the traffic the truth
// describes.
func lockLab(ctx context.Context, path string, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("netlab: locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("netlab: waiting for another lab run to finish: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
