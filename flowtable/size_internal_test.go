package flowtable

import (
	"testing"
	"unsafe"
)

// The hot part of a flow must stay within two cache lines.
func TestHotSize(t *testing.T) {
	if n := unsafe.Sizeof(flowHot{}); n > 128 {
		t.Fatalf("flowHot is %d bytes, want <= 128", n)
	}
	t.Logf("hot %d, cold %d, link %d bytes", unsafe.Sizeof(flowHot{}), unsafe.Sizeof(flowCold{}), unsafe.Sizeof(link{}))
}
