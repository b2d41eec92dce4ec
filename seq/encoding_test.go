package seq

import (
	"testing"

	"github.com/spooksystems/spook/internal/codec"
)

// TestRefLargeNodeIDs: node IDs are 64-bit name hashes, so references must
// round-trip for any node and counter, not only small ones.
func TestRefLargeNodeIDs(t *testing.T) {
	base := []struct{ node, counter uint64 }{{1, 5}, {0xfedcba9876543210, 7}, {0xffffffffffffffff, 1 << 63}}
	ids := []ID{
		{}, {Node: 1, Counter: 4}, {Node: 1, Counter: 5, Offset: 3},
		{Node: 0xfedcba9876543210, Counter: 6}, {Node: 0xfedcba9876543210, Counter: 1, Offset: 9},
		{Node: 0xffffffffffffffff, Counter: 1}, {Node: 0xffffffffffffffff, Counter: 1<<63 - 1, Offset: 1},
		{Node: 0xc000000000000001, Counter: 1 << 62},
	}
	for _, b := range base {
		for _, id := range ids {
			enc := AppendRef(nil, id, b.node, b.counter)
			r := codec.NewReader(enc)
			got := DecodeRef(r, b.node, b.counter)
			if err := r.Finish(); err != nil || got != id {
				t.Errorf("base %x/%d: %+v decodes as %+v (%v)", b.node, b.counter, id, got, err)
			}
		}
	}
}

// FuzzDecodeState: a decoder never panics, a decoded state re-encodes to
// its input, and joining it with a valid state does not panic.
func FuzzDecodeState(f *testing.F) {
	a := New[Text]()
	a.Insert(0, ID{Node: 1, Counter: 1}, 5, Text("hello"), false)
	a.Insert(2, ID{Node: 2, Counter: 1}, 1, Text("é"), true)
	a.Delete(0, 2, nil)
	f.Add(a.AppendState(nil))
	f.Add(New[Text]().AppendState(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := codec.NewReader(b)
		s, err := DecodeState[Text](r, testLimits)
		if err != nil || r.Finish() != nil {
			return
		}
		if string(s.AppendState(nil)) != string(b) {
			t.Fatalf("re-encodes differently")
		}
		check(t, s)
		j := a.Clone()
		j.Join(s, nil)
		check(t, j)
	})
}
