//go:build !linux

package flowtable

import "unsafe"

const canPrefault = false

const pageSize = 4096

func populate(unsafe.Pointer, uintptr) bool { return false }
