//go:build !linux

package netlab

import "syscall"

func labProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
