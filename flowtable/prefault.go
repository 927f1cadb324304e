package flowtable

import (
	"sync"
	"unsafe"
)

// A new table's storage is untouched memory, so the first write to each
// page of it (a new flow's slot, a hash's index bucket) stops the packet
// path for a page fault: about 12 us each on the 2-vCPU VM of
// docs/BENCHMARKS.md, 17% of a run over 23,125 connections. One goroutine,
// shared by every table, maps those pages in ahead of use where the OS
// lets it (populate: madvise MADV_POPULATE_WRITE, then a write of its own
// to each page, on Linux), so that the faults are taken on another core.
// The pages' contents do not change.
//
// Each shard asks for its first prefaultChunk slots and its whole index
// when the table is made, and for the next chunk when its never-used
// slots come within half a chunk of what it asked for. A request the
// goroutine has no room for is dropped: the packet path then takes those
// faults itself, as it would without it.

const prefaultChunk = 64 // slots a request maps in

type prefaultReq struct {
	p unsafe.Pointer
	n uintptr
}

var (
	prefaultStart sync.Once
	prefaultQueue chan prefaultReq
)

// startPrefaulter starts the goroutine, once; New calls it, so the packet
// path never does (it allocates).
func startPrefaulter() {
	if !canPrefault {
		return
	}
	prefaultStart.Do(func() {
		prefaultQueue = make(chan prefaultReq, 1024)
		go func() {
			for r := range prefaultQueue {
				if !populate(r.p, r.n) {
					// The kernel cannot: drain the requests and do no more.
					canPrefaultNow.Store(false)
				}
			}
		}()
	})
}

// prefault asks for the n bytes at p to be mapped in, without waiting.
func prefault(p unsafe.Pointer, n uintptr) {
	if n == 0 || prefaultQueue == nil || !canPrefaultNow.Load() {
		return
	}
	select {
	case prefaultQueue <- prefaultReq{p, n}:
	default:
	}
}

// prefaultAhead asks for the next chunk of the shard's never-used slots.
func (s *shard) prefaultAhead() {
	from := s.prefaulted
	to := min(from+prefaultChunk, uint32(len(s.hot)))
	if from >= to {
		return
	}
	s.prefaulted = to
	n := uintptr(to - from)
	prefault(unsafe.Pointer(&s.hot[from]), n*unsafe.Sizeof(flowHot{}))
	prefault(unsafe.Pointer(&s.cold[from]), n*unsafe.Sizeof(flowCold{}))
	prefault(unsafe.Pointer(&s.links[from]), n*unsafe.Sizeof(link{}))
}

// prefaultNew asks for what a new shard's first flows touch: the first
// chunk of slots, and the index, whose buckets are spread by hash.
func (s *shard) prefaultNew() {
	s.prefaultAhead()
	prefault(unsafe.Pointer(&s.idx[0]), uintptr(len(s.idx))*unsafe.Sizeof(s.idx[0]))
}
