//go:build !amd64

package flowtable

import "unsafe"

// prefetchLines loads one byte of each line: without a prefetch
// instruction the loads still overlap one another.
func prefetchLines(lines []unsafe.Pointer) {
	var sum byte
	for _, p := range lines {
		sum += *(*byte)(p)
	}
	prefetchSink = sum
}

var prefetchSink byte
