package flowtable

import (
	"sync"
	"sync/atomic"
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
// Each shard asks for its first prefaultChunk slots when the table is
// made, and for the next chunk when its never-used slots come within half
// a chunk of what it asked for. Its index, whose buckets are spread by
// hash, it asks for whole once it holds an eighth as many flows as the
// index has pages: by then an eighth of the pages would be faulted in
// anyway, and a large table holding a few flows does not map in all of
// its index (64 MiB at 4M flows). A request the goroutine has no room for
// is dropped: the packet path then takes those faults itself, as it would
// without it.

const prefaultChunk = 64 // slots a request maps in

type prefaultReq struct {
	p unsafe.Pointer
	n uintptr
}

var (
	prefaultStart sync.Once
	prefaultQueue chan prefaultReq
	prefaultOff   atomic.Bool // the kernel cannot: ask no more
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
					prefaultOff.Store(true)
				}
			}
		}()
	})
}

// prefault asks for the n bytes at p to be mapped in, without waiting.
func prefault(p unsafe.Pointer, n uintptr) {
	if n == 0 || prefaultQueue == nil || prefaultOff.Load() {
		return
	}
	select {
	case prefaultQueue <- prefaultReq{p, n}:
	default:
	}
}

// prefaultAhead asks for the next chunk of the shard's never-used slots,
// and for the index when its time has come.
func (s *shard) prefaultAhead() {
	if s.idxPrefaultAt != 0 && s.fresh >= s.idxPrefaultAt {
		s.idxPrefaultAt = 0
		prefault(unsafe.Pointer(&s.idx[0]), uintptr(len(s.idx))*unsafe.Sizeof(s.idx[0]))
	}
	from := s.prefaulted
	to := min(from+prefaultChunk, uint32(len(s.hot)))
	if from >= to || s.fresh+prefaultChunk/2 <= from {
		return
	}
	s.prefaulted = to
	n := uintptr(to - from)
	prefault(unsafe.Pointer(&s.hot[from]), n*unsafe.Sizeof(flowHot{}))
	prefault(unsafe.Pointer(&s.cold[from]), n*unsafe.Sizeof(flowCold{}))
	prefault(unsafe.Pointer(&s.links[from]), n*unsafe.Sizeof(link{}))
}

// prefaultNew asks for a new shard's first chunk of slots, and sets when
// its index is asked for.
func (s *shard) prefaultNew() {
	idxPages := uintptr(len(s.idx)) * unsafe.Sizeof(s.idx[0]) / pageSize
	s.idxPrefaultAt = uint32(max(1, idxPages/8))
	s.prefaultAhead()
}
