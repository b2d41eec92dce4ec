package seq

import (
	"testing"

	"github.com/spooksystems/spook/internal/codec"
)

// TestRefKeepsWholeNodeID: a reference to another node's element keeps
// all 64 bits of the node id. Node ids are hashes, so their top bits are
// as often set as not; a reference that lost them named an element no
// replica has, and peers refused every insertion next to another node's
// text (crdt: invalid input).
func TestRefKeepsWholeNodeID(t *testing.T) {
	for _, node := range []uint64{1, 0x1a8019b377f9da47, 0x5a8019b377f9da47, 0xffffffffffffffff} {
		id := ID{Node: node, Counter: 7, Offset: 3}
		enc := AppendRef(nil, id, 0x51ce9f3ef4b004a7, 9)
		r := codec.NewReader(enc)
		got := DecodeRef(r, 0x51ce9f3ef4b004a7, 9)
		if err := r.Err(); err != nil || got != id {
			t.Errorf("node %#x: reference %x decodes to %+v (%v), want %+v", node, enc, got, err, id)
		}
	}
}
