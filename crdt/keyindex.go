package crdt

import (
	"hash/maphash"
	"math/bits"

	"github.com/tidwall/btree"
)

// keyIndex finds a key's entry: an open-addressing hash table with linear
// probing whose slots hold no pointers, over a slab of entries
// (entrySlab). It replaces a map[string]*keyEntry, which costs about 32
// bytes a key (a 16-byte string header and a pointer per slot at the
// map's load) and which the garbage collector scans on every cycle; a
// slot here is 8 bytes in a pointer-free array the collector skips.
//
// A slot is 0 (empty) or hash<<32 | (id+1): the low 32 bits of the key's
// hash and its entry's id. The hash's low bits (masked) are the slot's
// home; the whole 32 bits are compared before the key, so a probe
// dereferences an entry only on a likely match. Deletion shifts later
// slots of the run back (no tombstones), so probe runs stay short.
//
// The hash is maphash with a seed drawn per index (as Go's own maps do),
// so keys chosen to collide on one process do not collide on another. The
// seed decides only where slots lie, never an output: iteration is by the
// B-tree.
type keyIndex struct {
	slots []uint64 // len is 0 or a power of two
	used  int      // occupied slots
	seed  maphash.Seed
}

// Index load: grow (double) when occupied slots would exceed
// indexLoadNum/indexLoadDen of the table. At 0.8, linear probing takes
// about 3 probes for a hit and 13 for a miss on average, both within one
// or two cache lines of 8 slots.
const (
	indexLoadNum   = 4
	indexLoadDen   = 5
	indexMinSlots  = 8
	indexHashShift = 32
	indexIDMask    = 1<<32 - 1
)

func newKeyIndex() keyIndex { return keyIndex{seed: maphash.MakeSeed()} }

func (x *keyIndex) hash(key []byte) uint32 { return uint32(maphash.Bytes(x.seed, key)) }

// find returns the id of key's entry and its slot, or ok false and the
// slot where key would go.
func (x *keyIndex) find(key []byte, h uint32, slab *entrySlab) (id uint32, slot int, ok bool) {
	if len(x.slots) == 0 {
		return 0, 0, false
	}
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, i, false
		}
		if uint32(s>>indexHashShift) == h {
			id := uint32(s&indexIDMask) - 1
			if e := slab.at(id); e.key == string(key) {
				return id, i, true
			}
		}
	}
}

// lookup returns key's entry, or nil.
func (x *keyIndex) lookup(key []byte, slab *entrySlab) *keyEntry {
	if x.used == 0 {
		return nil
	}
	if id, _, ok := x.find(key, x.hash(key), slab); ok {
		return slab.at(id)
	}
	return nil
}

// insert files id under key, which must be absent.
func (x *keyIndex) insert(key []byte, id uint32, slab *entrySlab) {
	if (x.used+1)*indexLoadDen > len(x.slots)*indexLoadNum {
		x.grow()
	}
	h := x.hash(key)
	_, slot, ok := x.find(key, h, slab)
	if ok {
		panic("crdt: key indexed twice")
	}
	x.slots[slot] = uint64(h)<<indexHashShift | uint64(id+1)
	x.used++
}

// reserve sizes the table for keys entries without growing on the way
// (decoding a keyspace of known size).
func (x *keyIndex) reserve(keys int) {
	n := indexMinSlots
	for keys*indexLoadDen > n*indexLoadNum {
		n *= 2
	}
	if n > len(x.slots) {
		x.rehash(n)
	}
}

// grow doubles the table.
func (x *keyIndex) grow() { x.rehash(max(indexMinSlots, 2*len(x.slots))) }

// rehash moves every slot into a table of n slots (a power of two) by its
// stored hash.
func (x *keyIndex) rehash(n int) {
	old := x.slots
	x.slots = make([]uint64, n)
	mask := n - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := int(uint32(s>>indexHashShift)) & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}

// remove deletes key's slot (key must be present), shifting back the
// slots after it in its run that may move closer to their home.
func (x *keyIndex) remove(key []byte, slab *entrySlab) {
	_, i, ok := x.find(key, x.hash(key), slab)
	if !ok {
		panic("crdt: removing a key not indexed")
	}
	mask := len(x.slots) - 1
	for j := i; ; {
		x.slots[i] = 0
		for {
			j = (j + 1) & mask
			s := x.slots[j]
			if s == 0 {
				x.used--
				return
			}
			home := int(uint32(s>>indexHashShift)) & mask
			// s may move to i unless its home lies cyclically in (i, j].
			if (i <= j && (i < home && home <= j)) || (i > j && (i < home || home <= j)) {
				continue
			}
			x.slots[i] = s
			i = j
			break
		}
	}
}

// entrySlab holds a keyspace's entries in chunks that never move, so an
// entry's address (what Get hands out, what the B-tree holds) is stable
// while it lives, and a key costs no allocation of its own entry. Freed
// entries are zeroed and reused. Chunk c holds slabFirstChunk<<c entries
// up to slabMaxChunk, then slabMaxChunk each: a small keyspace stays
// small, a large one allocates in steps of slabMaxChunk entries.
type entrySlab struct {
	chunks [][]keyEntry
	next   uint32   // ids below next have been handed out
	free   []uint32 // ids of freed entries, reused first
}

const (
	slabFirstChunk = 8
	slabMaxChunk   = 4096
	// slabGeometric is how many ids the doubling chunks hold: 8 + 16 +
	// ... + 2048 (chunks 0..8, the last below slabMaxChunk).
	slabGeometricChunks = 9
	slabGeometric       = slabFirstChunk * (1<<slabGeometricChunks - 1)
)

// locate maps an id to its chunk and offset.
func locate(id uint32) (chunk, offset int) {
	if id < slabGeometric {
		c := bits.Len32(id/slabFirstChunk+1) - 1
		return c, int(id) - slabFirstChunk*(1<<c-1)
	}
	rest := int(id - slabGeometric)
	return slabGeometricChunks + rest/slabMaxChunk, rest % slabMaxChunk
}

func chunkLen(c int) int {
	if c < slabGeometricChunks {
		return slabFirstChunk << c
	}
	return slabMaxChunk
}

func (s *entrySlab) at(id uint32) *keyEntry {
	c, o := locate(id)
	return &s.chunks[c][o]
}

// alloc returns the id of a zero entry.
func (s *entrySlab) alloc() uint32 {
	if n := len(s.free); n > 0 {
		id := s.free[n-1]
		s.free = s.free[:n-1]
		return id
	}
	id := s.next
	if id == indexIDMask {
		panic("crdt: more than 2^32-1 keys")
	}
	if c, _ := locate(id); c == len(s.chunks) {
		s.chunks = append(s.chunks, make([]keyEntry, chunkLen(c)))
	}
	s.next++
	return id
}

// release zeroes entry id (dropping what it references) and frees it.
func (s *entrySlab) release(id uint32) {
	*s.at(id) = keyEntry{}
	s.free = append(s.free, id)
}

// keyOrder orders a keyspace's entries by key: a B-tree whose items are
// slab ids, 4 bytes an item in arrays without pointers (the collector
// skips them), compared through the slab. It is touched only when a key
// appears or disappears.
type keyOrder struct {
	tree *btree.BTreeG[uint32]
	slab *entrySlab
}

func newKeyOrder(slab *entrySlab) keyOrder {
	less := func(a, b uint32) bool { return slab.at(a).key < slab.at(b).key }
	return keyOrder{tree: btree.NewBTreeGOptions(less, btree.Options{NoLocks: true}), slab: slab}
}

// Len is the number of entries, hidden ones included.
func (o *keyOrder) Len() int { return o.tree.Len() }

// Scan calls fn for every entry in key order until fn returns false.
func (o *keyOrder) Scan(fn func(e *keyEntry) bool) {
	o.tree.Scan(func(id uint32) bool { return fn(o.slab.at(id)) })
}

// ascend calls fn for every entry whose key is ≥ from, in key order,
// until fn returns false. The first such entry is found by a binary
// search over positions (GetAt), not with a probe item, so ascend keeps
// no state outside its own frame and concurrent readers stay safe.
func (o *keyOrder) ascend(from []byte, fn func(e *keyEntry) bool) {
	if len(from) == 0 {
		o.Scan(fn)
		return
	}
	lo, hi := 0, o.tree.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if id, _ := o.tree.GetAt(mid); o.slab.at(id).key < string(from) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == o.tree.Len() {
		return
	}
	start, _ := o.tree.GetAt(lo)
	o.tree.Ascend(start, func(id uint32) bool { return fn(o.slab.at(id)) })
}

// set files entry id, whose key must be set and not yet ordered.
func (o *keyOrder) set(id uint32) { o.tree.Set(id) }

// load files entry id whose key is greater than every key ordered so far
// (decoding a keyspace in key order).
func (o *keyOrder) load(id uint32) { o.tree.Load(id) }

// delete removes entry id, whose key must still be set.
func (o *keyOrder) delete(id uint32) { o.tree.Delete(id) }
