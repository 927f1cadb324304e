package flowtable

import "unsafe"

// prefetchLines asks the processor to load the cache line at each
// address, without waiting for any: a load would hold up the instructions
// behind it once the reorder window fills, a prefetch instruction does not.
//
//go:noescape
func prefetchLines(lines []unsafe.Pointer)
