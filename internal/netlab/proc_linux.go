package netlab

import "syscall"

// labProcAttr: an own process group, so a Ctrl-C to the test does not
// reach tcpdump before we stop it ourselves; and Pdeathsig, so that if the
// test binary dies (go test's timeout kills it) its lab programs die too.
func labProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
