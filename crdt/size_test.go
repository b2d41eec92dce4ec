package crdt

import (
	"testing"
	"unsafe"
)

// TestComponentsFitOneAllocation: the parts a plain string lacks sit
// behind one pointer, and the types added later behind one more
// (extParts), so that a counter, set or hash key's components stay one
// 64-byte allocation. A new component type belongs in extParts.
func TestComponentsFitOneAllocation(t *testing.T) {
	if n := unsafe.Sizeof(components{}); n > 64 {
		t.Fatalf("components is %d bytes, want at most 64 (one 64-byte size class)", n)
	}
}
