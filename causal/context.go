package causal

import (
	"slices"

	"github.com/spooksystems/spook/internal/codec"
)

// MaxContextOutliers bounds the outlier dots a decoded Context may hold.
const MaxContextOutliers = 1 << 20

// Context is a set of dots: a version vector (the contiguous prefix per
// node) plus outliers above it. Add keeps it compact: a dot that fills the
// gap after a node's prefix advances the prefix and absorbs any outliers
// that became contiguous. The zero value is the empty set.
//
// Under causal delivery outliers never arise; they exist for state joins
// and anti-entropy, where dots can be learned out of order.
type Context struct {
	Vector   VersionVector
	outliers []Dot // sorted by Dot.Less, all above Vector
}

// Contains reports whether d is in the set.
func (c *Context) Contains(d Dot) bool {
	if c.Vector.Contains(d) {
		return true
	}
	_, ok := slices.BinarySearchFunc(c.outliers, d, compareDot)
	return ok
}

func compareDot(a, b Dot) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// Add inserts d and compacts.
func (c *Context) Add(d Dot) {
	if d.Counter == 0 || c.Contains(d) {
		return
	}
	if d.Counter == c.Vector.Get(d.Node)+1 {
		c.Vector.Set(d.Node, d.Counter)
		c.absorb(d.Node)
		return
	}
	i, _ := slices.BinarySearchFunc(c.outliers, d, compareDot)
	c.outliers = slices.Insert(c.outliers, i, d)
}

// absorb moves outliers of node n that became contiguous into the vector.
func (c *Context) absorb(n NodeID) {
	next := c.Vector.Get(n) + 1
	i, _ := slices.BinarySearchFunc(c.outliers, Dot{n, next}, compareDot)
	j := i
	for j < len(c.outliers) && c.outliers[j] == (Dot{n, next}) {
		next++
		j++
	}
	if j > i {
		c.Vector.Set(n, next-1)
		c.outliers = slices.Delete(c.outliers, i, j)
	}
}

// Merge adds every dot of o.
func (c *Context) Merge(o *Context) {
	c.Vector.Merge(&o.Vector)
	// Drop outliers now covered by the merged vector, then add o's.
	kept := c.outliers[:0]
	for _, d := range c.outliers {
		if !c.Vector.Contains(d) {
			kept = append(kept, d)
		}
	}
	c.outliers = kept
	for _, d := range o.outliers {
		c.Add(d)
	}
	for _, e := range o.Vector.Entries() {
		c.absorb(e.Node)
	}
}

// Outliers returns the dots above the vector in canonical order. The slice
// aliases c; callers must not modify it.
func (c *Context) Outliers() []Dot { return c.outliers }

// Clone returns an independent copy.
func (c *Context) Clone() Context {
	return Context{Vector: c.Vector.Clone(), outliers: slices.Clone(c.outliers)}
}

// Equal reports whether c and o hold the same dots.
func (c *Context) Equal(o *Context) bool {
	return c.Vector.Equal(&o.Vector) && slices.Equal(c.outliers, o.outliers)
}

// AppendBinary appends the canonical encoding: the vector, then the
// outlier count and each outlier as (node uvarint, counter uvarint).
func (c *Context) AppendBinary(dst []byte) []byte {
	dst = c.Vector.AppendBinary(dst)
	dst = codec.AppendUvarint(dst, uint64(len(c.outliers)))
	for _, d := range c.outliers {
		dst = codec.AppendUvarint(dst, uint64(d.Node))
		dst = codec.AppendUvarint(dst, d.Counter)
	}
	return dst
}

// DecodeContext reads a context written by AppendBinary and refuses a
// non-canonical one (unsorted outliers, or outliers the vector covers).
func DecodeContext(r *codec.Reader) Context {
	c := Context{Vector: DecodeVersionVector(r)}
	n := r.Count("context outliers", MaxContextOutliers, 2)
	if n > 0 {
		c.outliers = make([]Dot, 0, n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		d := Dot{NodeID(r.Uvarint("outlier node")), r.Uvarint("outlier counter")}
		if r.Err() != nil {
			break
		}
		if d.Node == 0 || d.Counter <= c.Vector.Get(d.Node)+1 ||
			(i > 0 && !c.outliers[i-1].Less(d)) {
			r.Fail("context outlier", codec.ErrInvalid)
			break
		}
		c.outliers = append(c.outliers, d)
	}
	if r.Err() != nil {
		return Context{}
	}
	return c
}
