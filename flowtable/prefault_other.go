//go:build !linux

package flowtable

import (
	"sync/atomic"
	"unsafe"
)

const canPrefault = false

const pageSize = 4096

var canPrefaultNow atomic.Bool

func populate(unsafe.Pointer, uintptr) bool { return false }
