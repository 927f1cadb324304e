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
	if off := unsafe.Offsetof(flowCold{}.ring); off > 128 {
		t.Errorf("the per-packet part of flowCold is %d bytes, want <= 128", off)
	}
	t.Logf("hot %d, cold %d, link %d bytes", unsafe.Sizeof(flowHot{}), unsafe.Sizeof(flowCold{}), unsafe.Sizeof(link{}))
}
