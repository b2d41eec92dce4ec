package seq

// The ID index: the first element of every run and the leaf that holds
// it, in ID order, as a sorted array cut into chunks of at most
// maxChunkEntries entries (a two-level B+tree: firsts holds each chunk's
// first key). Entries are stored inline, 16 bytes each, and a chunk's
// array grows by chunkSlack entries, so the index costs about 16 bytes
// per run; an entry's key changes in place when a run's first element
// moves without passing another key (rekey).

const (
	// maxChunkEntries bounds the entries of one chunk of the ID index; a
	// fuller chunk is split in two halves (an insertion moves at most
	// this many 16-byte entries).
	maxChunkEntries = 128
	// chunkSlack is what a full chunk array grows by, in entries.
	chunkSlack = 8
)

// ientry is one entry of the ID index.
type ientry struct {
	id   xid
	leaf uint32 // index into Seq.leaves
}

type idIndex struct {
	chunks [][]ientry // non-empty, unless the index is empty (one empty chunk)
	firsts []xid      // firsts[c] == chunks[c][0].id
	n      int
	// c, p cache the entry last found (checked by key before use).
	c, p int
}

func (x *idIndex) reset() {
	x.chunks = [][]ientry{nil}
	x.firsts = []xid{{}}
	x.n, x.c, x.p = 0, 0, 0
}

// Len returns the number of entries.
func (x *idIndex) Len() int { return x.n }

// chunkOf returns the last chunk whose first key is at most id (0 if
// none).
func (x *idIndex) chunkOf(id xid) int {
	lo, hi := 1, len(x.firsts) // firsts[0] is taken as at most every key
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if id.less(x.firsts[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo - 1
}

// upper returns the index of the first entry of e whose key is above id.
func upper(e []ientry, id xid) int {
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if id.less(e[m].id) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// floor returns the entry with the greatest key at most id, or nil.
func (x *idIndex) floor(id xid) *ientry {
	c := x.chunkOf(id)
	e := x.chunks[c]
	p := upper(e, id) - 1
	if p < 0 {
		return nil
	}
	x.c, x.p = c, p
	return &e[p]
}

// find returns the chunk and position of the entry keyed id, ok false
// if there is none.
func (x *idIndex) find(id xid) (c, p int, ok bool) {
	if x.c < len(x.chunks) && x.p < len(x.chunks[x.c]) && x.chunks[x.c][x.p].id == id {
		return x.c, x.p, true
	}
	c = x.chunkOf(id)
	e := x.chunks[c]
	p = upper(e, id) - 1
	if p < 0 || e[p].id != id {
		return 0, 0, false
	}
	x.c, x.p = c, p
	return c, p, true
}

// get returns the entry keyed id, or nil. The pointer is valid until
// the next set or remove.
func (x *idIndex) get(id xid) *ientry {
	c, p, ok := x.find(id)
	if !ok {
		return nil
	}
	return &x.chunks[c][p]
}

// rekey changes the key of the entry keyed old to id (no key lies
// between them) and its leaf to leaf.
func (x *idIndex) rekey(old, id xid, leaf uint32) {
	c, p, ok := x.find(old)
	if !ok {
		return
	}
	x.chunks[c][p] = ientry{id: id, leaf: leaf}
	if p == 0 {
		x.firsts[c] = id
	}
}

// set adds the entry (id, leaf), replacing the leaf of an entry keyed id.
func (x *idIndex) set(id xid, leaf uint32) {
	c := x.chunkOf(id)
	e := x.chunks[c]
	p := upper(e, id)
	if p > 0 && e[p-1].id == id {
		e[p-1].leaf = leaf
		return
	}
	if len(e) == cap(e) {
		grown := make([]ientry, len(e), len(e)+chunkSlack)
		copy(grown, e)
		e = grown
	}
	e = append(e, ientry{})
	copy(e[p+1:], e[p:])
	e[p] = ientry{id: id, leaf: leaf}
	x.chunks[c] = e
	x.firsts[c] = e[0].id
	x.n++
	if len(e) > maxChunkEntries {
		half := len(e) / 2
		r := make([]ientry, len(e)-half, len(e)-half+chunkSlack)
		copy(r, e[half:])
		l := make([]ientry, half, half+chunkSlack)
		copy(l, e[:half])
		x.chunks[c] = l
		x.chunks = append(x.chunks, nil)
		copy(x.chunks[c+2:], x.chunks[c+1:])
		x.chunks[c+1] = r
		x.firsts = append(x.firsts, xid{})
		copy(x.firsts[c+2:], x.firsts[c+1:])
		x.firsts[c+1] = r[0].id
	}
}

// remove removes the entry keyed id, if any.
func (x *idIndex) remove(id xid) {
	c, p, ok := x.find(id)
	if !ok {
		return
	}
	e := x.chunks[c]
	copy(e[p:], e[p+1:])
	e = e[:len(e)-1]
	x.chunks[c] = e
	x.n--
	if len(e) > 0 {
		x.firsts[c] = e[0].id
		return
	}
	if len(x.chunks) == 1 {
		return
	}
	x.chunks = append(x.chunks[:c], x.chunks[c+1:]...)
	x.firsts = append(x.firsts[:c], x.firsts[c+1:]...)
}

// scan calls fn with each entry in key order while it returns true.
func (x *idIndex) scan(fn func(e ientry) bool) {
	for _, e := range x.chunks {
		for _, en := range e {
			if !fn(en) {
				return
			}
		}
	}
}
