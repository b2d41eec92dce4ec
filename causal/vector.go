package causal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spooksystems/spook/internal/codec"
)

// MaxVectorEntries bounds the nodes a decoded version vector may name. It is
// far above any supported cluster size; it exists so a hostile length cannot
// drive an allocation.
const MaxVectorEntries = 4096

// VersionVector maps nodes to the highest contiguous counter applied from
// each. Absent nodes are zero. The zero value is an empty vector ready to
// use.
//
// Entries are kept sorted by node with no zero counters, so equal vectors
// have equal entries and equal encodings. Cluster sizes are small (tens of
// nodes), so a sorted slice beats a map on both lookups and copies.
type VersionVector struct {
	entries []Entry
}

// Entry is one (node, counter) pair of a VersionVector.
type Entry struct {
	Node    NodeID
	Counter uint64
}

// Ordering is the causal relation between two vectors.
type Ordering int

const (
	Equal      Ordering = iota // same entries
	Before                     // every entry ≤, at least one <
	After                      // every entry ≥, at least one >
	Concurrent                 // neither dominates
)

func (o Ordering) String() string {
	return [...]string{"equal", "before", "after", "concurrent"}[o]
}

func (v *VersionVector) find(n NodeID) (int, bool) {
	return slices.BinarySearchFunc(v.entries, n, func(e Entry, n NodeID) int {
		switch {
		case e.Node < n:
			return -1
		case e.Node > n:
			return 1
		}
		return 0
	})
}

// Get returns the counter for n (zero if absent).
func (v *VersionVector) Get(n NodeID) uint64 {
	if i, ok := v.find(n); ok {
		return v.entries[i].Counter
	}
	return 0
}

// Set sets the counter for n. Setting zero removes the entry.
func (v *VersionVector) Set(n NodeID, c uint64) {
	i, ok := v.find(n)
	switch {
	case ok && c == 0:
		v.entries = slices.Delete(v.entries, i, i+1)
	case ok:
		v.entries[i].Counter = c
	case c != 0:
		v.entries = slices.Insert(v.entries, i, Entry{n, c})
	}
}

// Contains reports whether d is at or below the vector's entry for d.Node.
func (v *VersionVector) Contains(d Dot) bool { return d.Counter <= v.Get(d.Node) }

// Len is the number of nodes with a non-zero counter.
func (v *VersionVector) Len() int { return len(v.entries) }

// Entries returns the entries in node order. The slice aliases v; callers
// must not modify it.
func (v *VersionVector) Entries() []Entry { return v.entries }

// Clone returns an independent copy.
func (v *VersionVector) Clone() VersionVector {
	return VersionVector{entries: slices.Clone(v.entries)}
}

// CopyFrom makes v a copy of o, reusing v's storage when it is large
// enough (no allocation in the steady state of a vector copied again and
// again). v must not share storage with a vector someone else holds.
func (v *VersionVector) CopyFrom(o *VersionVector) {
	v.entries = append(v.entries[:0], o.entries...)
}

// Merge raises every entry of v to at least o's (the join).
func (v *VersionVector) Merge(o *VersionVector) {
	for _, e := range o.entries {
		if e.Counter > v.Get(e.Node) {
			v.Set(e.Node, e.Counter)
		}
	}
}

// Meet lowers every entry of v to at most o's (the meet). Collapse is the
// meet of every member's applied vector.
func (v *VersionVector) Meet(o *VersionVector) {
	out := v.entries[:0]
	for _, e := range v.entries {
		if c := min(e.Counter, o.Get(e.Node)); c > 0 {
			out = append(out, Entry{e.Node, c})
		}
	}
	v.entries = out
}

// Compare returns how v relates to o.
func (v *VersionVector) Compare(o *VersionVector) Ordering {
	less, greater := false, false
	i, j := 0, 0
	for i < len(v.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || (i < len(v.entries) && v.entries[i].Node < o.entries[j].Node):
			greater = true
			i++
		case i == len(v.entries) || o.entries[j].Node < v.entries[i].Node:
			less = true
			j++
		default:
			a, b := v.entries[i].Counter, o.entries[j].Counter
			less = less || a < b
			greater = greater || a > b
			i++
			j++
		}
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// Dominates reports whether v ≥ o entry by entry.
func (v *VersionVector) Dominates(o *VersionVector) bool {
	c := v.Compare(o)
	return c == Equal || c == After
}

// Equal reports whether v and o have the same entries.
func (v *VersionVector) Equal(o *VersionVector) bool { return slices.Equal(v.entries, o.entries) }

// Sum is the total number of transactions the vector covers.
func (v *VersionVector) Sum() uint64 {
	var s uint64
	for _, e := range v.entries {
		s += e.Counter
	}
	return s
}

func (v VersionVector) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range v.entries {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", e.Node, e.Counter)
	}
	b.WriteByte('}')
	return b.String()
}

// AppendBinary appends the canonical encoding:
//
//	count uvarint, then count × (node uvarint-delta from previous node, counter uvarint)
//
// Node IDs are delta-coded against the previous entry (they are sorted).
func (v *VersionVector) AppendBinary(dst []byte) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(v.entries)))
	var prev NodeID
	for _, e := range v.entries {
		dst = codec.AppendUvarint(dst, uint64(e.Node-prev))
		dst = codec.AppendUvarint(dst, e.Counter)
		prev = e.Node
	}
	return dst
}

// DecodeVersionVector reads a vector written by AppendBinary. It refuses
// unsorted or duplicate nodes and zero counters, so a decoded vector is
// always canonical.
func DecodeVersionVector(r *codec.Reader) VersionVector {
	n := r.Count("vector length", MaxVectorEntries, 2)
	if n == 0 {
		return VersionVector{}
	}
	v := VersionVector{entries: make([]Entry, 0, n)}
	var prev NodeID
	for i := 0; i < n; i++ {
		delta := r.Uvarint("vector node")
		c := r.Uvarint("vector counter")
		if r.Err() != nil {
			return VersionVector{}
		}
		node := prev + NodeID(delta)
		if (i > 0 && delta == 0) || node < prev || node == 0 || c == 0 {
			r.Fail("vector entry", codec.ErrInvalid)
			return VersionVector{}
		}
		v.entries = append(v.entries, Entry{node, c})
		prev = node
	}
	return v
}
