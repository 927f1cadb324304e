package flowtable

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const canPrefault = true

// populate maps in the pages of the n bytes at p as writable, then writes
// to each from this thread. It reports false when the kernel has no
// MADV_POPULATE_WRITE (before Linux 5.14).
//
// Both steps are needed on a VM that shadows the guest's page tables,
// as the one of docs/BENCHMARKS.md does: after madvise alone, the first
// write of the packet path to each page still waits about 7 us for the
// host (64 MiB: 97 to 124 ms of writes after 12 to 15 ms of madvise);
// after this thread's write too, about 35 ns (0.5 ms).
func populate(p unsafe.Pointer, n uintptr) bool {
	// madvise wants whole pages: widen to the pages the range touches.
	page := pageSize
	start := uintptr(p) &^ (page - 1)
	end := (uintptr(p) + n + page - 1) &^ (page - 1)
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_POPULATE_WRITE)
	if errno == unix.EINVAL {
		return false
	}
	if !raceEnabled {
		touch(p, n)
	}
	runtime.KeepAlive(p)
	return true
}

// touch adds 0 to the first 4 bytes of each page of the n bytes at p (at
// p itself for the first). The slots it touches are normally still
// unused, but one may be in use on its page's first bytes: an atomic add
// of 0 cannot lose the packet path's store, whichever comes first. The
// race detector would still report it, so -race builds do not touch.
func touch(p unsafe.Pointer, n uintptr) {
	base := uintptr(p)
	for off := uintptr(0); off+4 <= n; {
		atomic.AddUint32((*uint32)(unsafe.Add(p, off)), 0)
		off = (base+off+pageSize)&^(pageSize-1) - base
	}
}

var pageSize = uintptr(unix.Getpagesize())
