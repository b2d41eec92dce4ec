package crdt

import (
	"fmt"
	"testing"

	"github.com/spooksystems/spook/causal"
)

// TestLocateCoversEveryID checks that slab ids map one to one onto chunk
// offsets, across the doubling chunks and into the fixed-size ones.
func TestLocateCoversEveryID(t *testing.T) {
	seen := map[[2]int]bool{}
	for id := uint32(0); id < slabGeometric+3*slabMaxChunk; id++ {
		c, o := locate(id)
		if o < 0 || o >= chunkLen(c) {
			t.Fatalf("id %d: chunk %d offset %d outside its %d entries", id, c, o, chunkLen(c))
		}
		if seen[[2]int{c, o}] {
			t.Fatalf("id %d: chunk %d offset %d taken twice", id, c, o)
		}
		seen[[2]int{c, o}] = true
		if id > 0 {
			pc, po := locate(id - 1)
			if !(pc == c && po == o-1) && !(pc == c-1 && o == 0 && po == chunkLen(pc)-1) {
				t.Fatalf("id %d at (%d,%d) does not follow id %d at (%d,%d)", id, c, o, id-1, pc, po)
			}
		}
	}
}

// TestKeyIndexAgainstMap drives the index and slab through inserts and
// removals (growth, backward-shift deletion, reuse of freed entries) and
// checks every key against a Go map after each step.
func TestKeyIndexAgainstMap(t *testing.T) {
	var slab entrySlab
	x := newKeyIndex()
	model := map[string]uint32{}
	rng := uint64(0x9e3779b97f4a7c15)
	next := func(n uint64) uint64 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return rng % n
	}
	const keySpace = 3000
	check := func(step int) {
		if x.used != len(model) {
			t.Fatalf("step %d: %d slots used, model has %d keys", step, x.used, len(model))
		}
		for k := 0; k < keySpace; k++ {
			key := fmt.Sprintf("k%d", k)
			id, inModel := model[key]
			e := x.lookup([]byte(key), &slab)
			switch {
			case inModel && (e == nil || e != slab.at(id) || e.key != key):
				t.Fatalf("step %d: %q not found at id %d", step, key, id)
			case !inModel && e != nil:
				t.Fatalf("step %d: removed %q still found", step, key)
			}
		}
	}
	for step := 0; step < 20000; step++ {
		key := fmt.Sprintf("k%d", next(keySpace))
		if id, ok := model[key]; ok && next(3) == 0 {
			x.remove([]byte(key), &slab)
			slab.release(id)
			delete(model, key)
		} else if !ok {
			id := slab.alloc()
			slab.at(id).key = key
			x.insert([]byte(key), id, &slab)
			model[key] = id
		}
		if step%997 == 0 {
			check(step)
		}
	}
	check(-1)
	if int(slab.next) > keySpace {
		t.Fatalf("slab handed out %d ids for at most %d live keys: freed entries not reused", slab.next, keySpace)
	}
}

// TestRangeFromEveryPosition checks Range's start (the binary search over
// B-tree positions) from keys present, absent between two keys, before
// the first and after the last.
func TestRangeFromEveryPosition(t *testing.T) {
	ks := NewKeyspace()
	bl := ks.Begin(causal.Dot{Node: 1, Counter: 1}, causal.Timestamp{WallMs: 1})
	var keys []string
	for i := 0; i < 300; i += 3 {
		k := fmt.Sprintf("k%03d", i)
		keys = append(keys, k)
		if err := bl.Set([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.Apply(bl.Finish()); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{"", "a", "k", "k000", "k001", "k150", "k151", "k297", "k298", "z"} {
		var want []string
		for _, k := range keys {
			if k >= from {
				want = append(want, k)
			}
		}
		var got []string
		ks.Range([]byte(from), func(key []byte, _ *Value) bool {
			got = append(got, string(key))
			return true
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Range(%q) = %v, want %v", from, got, want)
		}
	}
}
