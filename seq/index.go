package seq

import "slices"

// The ID index: the first element of every run and the leaf that holds
// it, in ID order, as a sorted array cut into chunks of at most
// maxChunkEntries entries (a two-level B+tree: firsts holds each chunk's
// first key), one such array per node slot. Entries are stored inline,
// 12 bytes each (the slot is implied), and a chunk's array grows by
// chunkSlack entries, so the index costs about 13 bytes per run; an
// entry's key changes in place when a run's first element moves without
// passing another key (rekey).

const (
	// maxChunkEntries bounds the entries of one chunk of the ID index; a
	// fuller chunk is split in two halves (an insertion moves at most
	// this many 12-byte entries).
	maxChunkEntries = 128
	// chunkSlack is what a full chunk array grows by, in entries.
	chunkSlack = 8
)

// ientry is one entry of the ID index of one node slot: the counter's
// low 32 bits and offset of a run's first element, and its leaf.
type ientry struct {
	ctr, off uint32
	leaf     uint32 // index into Seq.leaves
}

func (e *ientry) key() uint64 { return uint64(e.ctr)<<32 | uint64(e.off) }

func keyOf(id xid) uint64 { return uint64(id.ctr)<<32 | uint64(id.off) }

// idIndex is the ID index: one slotIndex per node slot (the slot is not
// stored in entries, which are 12 bytes).
type idIndex struct {
	slots []slotIndex // by xid slot
	n     int
	// cs, c, p cache the entry last found (checked by key before use).
	cs   uint32
	c, p int
}

type slotIndex struct {
	chunks [][]ientry // non-empty, unless the slot has no entry (one empty chunk)
	firsts []uint64   // firsts[c] == chunks[c][0].key()
}

func (x *idIndex) reset() {
	x.slots = nil
	x.n, x.cs, x.c, x.p = 0, 0, 0, 0
}

// Len returns the number of entries.
func (x *idIndex) Len() int { return x.n }

// slot returns the index of slot, nil if it has none.
func (x *idIndex) slot(slot uint32) *slotIndex {
	if int(slot) >= len(x.slots) || len(x.slots[slot].chunks) == 0 {
		return nil
	}
	return &x.slots[slot]
}

// chunkOf returns the last chunk whose first key is at most k (0 if
// none).
func (t *slotIndex) chunkOf(k uint64) int {
	lo, hi := 1, len(t.firsts) // firsts[0] is taken as at most every key
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k < t.firsts[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// upper returns the index of the first entry of e whose key is above k.
func upper(e []ientry, k uint64) int {
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if k < e[m].key() {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// floor returns the first ID and leaf of the entry with the greatest key
// at most id in id's slot; ok is false if there is none.
func (x *idIndex) floor(id xid) (first xid, leaf uint32, ok bool) {
	t := x.slot(id.slot)
	if t == nil {
		return xid{}, 0, false
	}
	k := keyOf(id)
	c := t.chunkOf(k)
	e := t.chunks[c]
	p := upper(e, k) - 1
	if p < 0 {
		return xid{}, 0, false
	}
	x.cs, x.c, x.p = id.slot, c, p
	return xid{slot: id.slot, ctr: e[p].ctr, off: e[p].off}, e[p].leaf, true
}

// find returns the slot index, chunk and position of the entry keyed
// id, t nil if there is none.
func (x *idIndex) find(id xid) (t *slotIndex, c, p int) {
	if x.cs == id.slot && int(x.cs) < len(x.slots) {
		t := &x.slots[x.cs]
		if x.c < len(t.chunks) && x.p < len(t.chunks[x.c]) {
			if e := &t.chunks[x.c][x.p]; e.ctr == id.ctr && e.off == id.off {
				return t, x.c, x.p
			}
		}
	}
	if t = x.slot(id.slot); t == nil {
		return nil, 0, 0
	}
	k := keyOf(id)
	c = t.chunkOf(k)
	e := t.chunks[c]
	p = upper(e, k) - 1
	if p < 0 || e[p].key() != k {
		return nil, 0, 0
	}
	x.cs, x.c, x.p = id.slot, c, p
	return t, c, p
}

// get returns the entry keyed id, or nil. The pointer is valid until
// the next set or remove.
func (x *idIndex) get(id xid) *ientry {
	t, c, p := x.find(id)
	if t == nil {
		return nil
	}
	return &t.chunks[c][p]
}

// rekey changes the key of the entry keyed old to id (same slot, no key
// lies between them) and its leaf to leaf.
func (x *idIndex) rekey(old, id xid, leaf uint32) {
	t, c, p := x.find(old)
	if t == nil {
		return
	}
	t.chunks[c][p] = ientry{ctr: id.ctr, off: id.off, leaf: leaf}
	if p == 0 {
		t.firsts[c] = keyOf(id)
	}
}

// set adds the entry (id, leaf), replacing the leaf of an entry keyed id.
func (x *idIndex) set(id xid, leaf uint32) {
	for int(id.slot) >= len(x.slots) {
		x.slots = append(x.slots, slotIndex{})
	}
	t := &x.slots[id.slot]
	if len(t.chunks) == 0 {
		t.chunks = [][]ientry{nil}
		t.firsts = []uint64{0}
	}
	k := keyOf(id)
	c := t.chunkOf(k)
	e := t.chunks[c]
	p := upper(e, k)
	if p > 0 && e[p-1].key() == k {
		e[p-1].leaf = leaf
		return
	}
	if len(e) == cap(e) {
		e = append(slices.Grow([]ientry(nil), len(e)+chunkSlack), e...)
	}
	e = append(e, ientry{})
	copy(e[p+1:], e[p:])
	e[p] = ientry{ctr: id.ctr, off: id.off, leaf: leaf}
	t.chunks[c] = e
	t.firsts[c] = e[0].key()
	x.n++
	if len(e) > maxChunkEntries {
		half := len(e) / 2
		r := append(slices.Grow([]ientry(nil), len(e)-half+chunkSlack), e[half:]...)
		l := append(slices.Grow([]ientry(nil), half+chunkSlack), e[:half]...)
		t.chunks[c] = l
		t.chunks = slices.Insert(t.chunks, c+1, r)
		t.firsts = slices.Insert(t.firsts, c+1, r[0].key())
	}
}

// remove removes the entry keyed id, if any.
func (x *idIndex) remove(id xid) {
	t, c, p := x.find(id)
	if t == nil {
		return
	}
	e := t.chunks[c]
	copy(e[p:], e[p+1:])
	e = e[:len(e)-1]
	t.chunks[c] = e
	x.n--
	if len(e) > 0 {
		t.firsts[c] = e[0].key()
		return
	}
	if len(t.chunks) == 1 {
		return
	}
	t.chunks = slices.Delete(t.chunks, c, c+1)
	t.firsts = slices.Delete(t.firsts, c, c+1)
}

// scan calls fn with the first ID of each entry in ID order while it
// returns true.
func (x *idIndex) scan(fn func(id xid) bool) {
	for slot := range x.slots {
		for _, e := range x.slots[slot].chunks {
			for _, en := range e {
				if !fn(xid{slot: uint32(slot), ctr: en.ctr, off: en.off}) {
					return
				}
			}
		}
	}
}
