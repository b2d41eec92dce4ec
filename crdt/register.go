package crdt

import (
	"bytes"
	"slices"

	"github.com/spooksystems/spook/causal"
)

// regEntry is one register value: written by the transaction dot at time.
// A register holds several only after concurrent writes; a write that saw
// them removes them (they lie in its Deps).
type regEntry struct {
	dot   causal.Dot
	time  causal.Timestamp
	value []byte // owned by the register; never aliases a Txn or caller buffer
}

// regDelta is the delta of one register write: the new entry. The dot
// and time are the transaction's; value is borrowed until the join copies
// it.
type regDelta struct {
	dot   causal.Dot
	time  causal.Timestamp
	value []byte
}

// lwwLess orders entries for last-writer-wins: by time, then node, then
// counter. A register never holds two entries of one node in practice (a
// node's later write observes its earlier one); the counter makes the
// order total regardless.
func lwwLess(a, b regEntry) bool {
	if c := a.time.Compare(b.time); c != 0 {
		return c < 0
	}
	if a.dot.Node != b.dot.Node {
		return a.dot.Node < b.dot.Node
	}
	return a.dot.Counter < b.dot.Counter
}

// clearRegister removes the entries whose dot is in deps (observed by the
// clearing transaction). It filters in place and returns the kept prefix.
func clearRegister(entries []regEntry, deps *causal.Context) []regEntry {
	n := 0
	for _, e := range entries {
		if !deps.Contains(e.dot) {
			entries[n] = e
			n++
		}
	}
	clear(entries[n:])
	return entries[:n]
}

// joinRegisterWrite joins one register write into entries: if observed
// is set it first removes the entries in deps (a SET that saw them), then
// inserts the delta's entry in dot order. The value is copied, reusing the
// buffer of a removed entry when it is large enough, so overwriting an
// existing key with a value of similar size allocates nothing.
//
// registers.write handles the single-entry case without it; this is the
// general path once concurrent writes have left siblings.
func joinRegisterWrite(entries []regEntry, observed bool, d regDelta, deps *causal.Context) []regEntry {
	var spare []byte
	if observed {
		n := 0
		for _, e := range entries {
			if deps.Contains(e.dot) {
				if cap(e.value) > cap(spare) {
					spare = e.value
				}
				continue
			}
			entries[n] = e
			n++
		}
		clear(entries[n:])
		entries = entries[:n]
	}
	var value []byte
	if cap(spare) >= len(d.value) && spare != nil {
		value = append(spare[:0], d.value...)
	} else {
		value = make([]byte, len(d.value))
		copy(value, d.value)
	}
	e := regEntry{dot: d.dot, time: d.time, value: value}
	i, found := slices.BinarySearchFunc(entries, d.dot, func(e regEntry, d causal.Dot) int { return compareDot(e.dot, d) })
	if found {
		entries[i] = e // the same dot twice carries the same write
		return entries
	}
	return slices.Insert(entries, i, e)
}

// joinRegister is the lattice join of two registers whose states have
// contexts actx and bctx: an entry survives if both hold it, or if one
// holds it and the other's context lacks its dot (the other has not seen
// it, rather than removed it). Values from b are copied.
func joinRegister(a []regEntry, actx *causal.Context, b []regEntry, bctx *causal.Context) []regEntry {
	if len(b) == 0 {
		// Fast path for keys only a holds: keep what b has not seen.
		n := 0
		for _, e := range a {
			if !bctx.Contains(e.dot) {
				a[n] = e
				n++
			}
		}
		clear(a[n:])
		return a[:n]
	}
	out := make([]regEntry, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].dot.Less(b[j].dot)):
			if !bctx.Contains(a[i].dot) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].dot.Less(a[i].dot):
			if !actx.Contains(b[j].dot) {
				e := b[j]
				e.value = slices.Clone(e.value)
				if e.value == nil {
					e.value = []byte{}
				}
				out = append(out, e)
			}
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

func compareDot(a, b causal.Dot) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// registers is the register component as a Value stores it: the common
// single entry inline (no allocation beyond the value bytes), and any
// concurrent siblings in x.more. x also carries the Value's other
// components (see Value), so a plain string needs one pointer word for
// all of them. Entries are in dot order: first is the lowest.
type registers struct {
	first regEntry    // absent iff first.dot.Node == 0
	x     *components // siblings after first, and the Value's other components; nil if none
}

// siblings is the number of entries after first.
func (r *registers) siblings() int {
	if r.x == nil {
		return 0
	}
	return len(r.x.more)
}

func (r *registers) len() int {
	if r.first.dot.Node == 0 {
		return 0
	}
	return 1 + r.siblings()
}

// at returns entry i (0 ≤ i < len) in dot order.
func (r *registers) at(i int) *regEntry {
	if i == 0 {
		return &r.first
	}
	return &r.x.more[i-1]
}

// parts returns x, allocating it if needed.
func (r *registers) parts() *components {
	if r.x == nil {
		r.x = &components{}
	}
	return r.x
}

// tidy drops x once nothing is left in it.
func (r *registers) tidy() {
	if x := r.x; x != nil && len(x.more) == 0 && x.cnt == nil && x.set == nil && x.mp == nil && x.exp == nil && x.ext == nil {
		r.x = nil
	}
}

// slice returns the entries as a new slice, for the general (sibling)
// paths.
func (r *registers) slice() []regEntry {
	n := r.len()
	if n == 0 {
		return nil
	}
	out := make([]regEntry, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, *r.at(i))
	}
	return out
}

// assign replaces the entries with s (in dot order); the other
// components in x are kept.
func (r *registers) assign(s []regEntry) {
	r.first = regEntry{}
	if len(s) > 0 {
		r.first = s[0]
	}
	if len(s) > 1 {
		r.parts().more = slices.Clone(s[1:])
	} else if r.x != nil {
		r.x.more = nil
	}
	r.tidy()
}

// lww returns the last-writer-wins entry (greatest by lwwLess); r is not
// empty.
func (r *registers) lww() *regEntry {
	best := &r.first
	for i := 1; i < r.len(); i++ {
		if e := r.at(i); lwwLess(*best, *e) {
			best = e
		}
	}
	return best
}

// write joins one register write (joinRegisterWrite). The common case — a
// SET over the single observed entry, or into an empty register — rewrites
// the inline entry and reuses its buffer: no allocation when the new value
// fits.
func (r *registers) write(observed bool, d regDelta, deps *causal.Context) {
	if r.siblings() == 0 && (r.first.dot.Node == 0 || (observed && deps.Contains(r.first.dot))) {
		var value []byte
		if spare := r.first.value; spare != nil && cap(spare) >= len(d.value) && r.first.dot.Node != 0 {
			value = append(spare[:0], d.value...)
		} else {
			value = make([]byte, len(d.value))
			copy(value, d.value)
		}
		r.first = regEntry{dot: d.dot, time: d.time, value: value}
		return
	}
	r.assign(joinRegisterWrite(r.slice(), observed, d, deps))
}

// clear removes the entries whose dot is in deps.
func (r *registers) clear(deps *causal.Context) {
	if r.siblings() == 0 {
		if r.first.dot.Node != 0 && deps.Contains(r.first.dot) {
			r.first = regEntry{}
		}
		return
	}
	r.assign(clearRegister(r.slice(), deps))
}

// join is the lattice join (joinRegister) of r (context actx) and o
// (context bctx); values taken from o are copied.
func (r *registers) join(actx *causal.Context, o *registers, bctx *causal.Context) {
	if o.len() == 0 {
		r.clear(bctx)
		return
	}
	r.assign(joinRegister(r.slice(), actx, o.slice(), bctx))
}

// clone returns a deep copy of the register entries (without the other
// components in x).
func (r *registers) clone() registers {
	s := r.slice()
	for i := range s {
		s[i].value = bytes.Clone(s[i].value)
		if s[i].value == nil {
			s[i].value = []byte{}
		}
	}
	var out registers
	out.assign(s)
	return out
}
