package flowtable

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const canPrefault = true

var canPrefaultNow atomic.Bool

func init() { canPrefaultNow.Store(true) }

// populate maps in the pages of the n bytes at p as writable. It reports
// false when the kernel has no MADV_POPULATE_WRITE (before Linux 5.14).
func populate(p unsafe.Pointer, n uintptr) bool {
	// madvise wants whole pages: widen to the pages the range touches.
	page := pageSize
	start := uintptr(p) &^ (page - 1)
	end := (uintptr(p) + n + page - 1) &^ (page - 1)
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_POPULATE_WRITE)
	runtime.KeepAlive(p)
	return errno != unix.EINVAL
}

var pageSize = uintptr(unix.Getpagesize())
