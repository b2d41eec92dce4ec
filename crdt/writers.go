package crdt

import (
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/seq"
)

// Writers and removals: what a state (not a transaction) says about who
// wrote it. A transaction names its writer (its dot); a value received by
// state transfer (reconciliation, a snapshot, a state bundle) carries the
// dots that stamp its entries, and nothing about who removed what it no
// longer holds. The write-rights check of state transfers (package
// replica, repairrights.go) reads both through Writers and Hides.

// Writers calls fn with every dot that stamps an entry of v, until fn
// returns false:
//
//   - register siblings, expiry entries, set members' dots, sorted-set
//     score entries, stream entries and last-ID entries, bounded-counter
//     generations: the dot of the transaction that wrote the entry;
//   - counter columns and sorted-set increment entries: the column's node
//     with the counter k of its latest increment (the column holds that
//     transaction's cumulative sum);
//   - list and text elements, tombstones included: the inserting
//     transaction's dot (once per run of elements it inserted);
//   - bounded-counter accounts: the account's node with counter 0 (an
//     account is cumulative and names no transaction);
//   - map fields: their values' writers, recursively.
//
// A dot may be reported more than once (a transaction that wrote several
// members of a set). The order is unspecified: set members, map fields
// and sorted-set members are visited in Go map order, so a caller that
// needs a deterministic answer must not depend on it. Writers allocates
// nothing. v nil has no writers.
func (v *Value) Writers(fn func(d causal.Dot) bool) {
	v.writers(fn)
}

// writers is Writers, reporting whether fn asked to stop.
func (v *Value) writers(fn func(d causal.Dot) bool) bool {
	if v == nil {
		return true
	}
	for i := 0; i < v.reg.len(); i++ {
		if !fn(v.reg.at(i).dot) {
			return false
		}
	}
	for _, e := range v.expiry() {
		if !fn(e.dot) {
			return false
		}
	}
	if c := v.ctr(); c != nil {
		for _, n := range c.nodes {
			if !fn(causal.Dot{Node: n.node, Counter: n.k}) {
				return false
			}
		}
	}
	if s := v.oset(); s != nil {
		for _, ds := range s.members {
			for _, d := range ds {
				if !fn(d) {
					return false
				}
			}
		}
	}
	if m := v.omap(); m != nil {
		for _, f := range m.fields {
			if !f.writers(fn) {
				return false
			}
		}
	}
	if !seqWriters(v.listSeq(), fn) || !seqWriters(v.textSeq(), fn) {
		return false
	}
	if z := v.zs(); z != nil {
		for _, m := range z.members {
			for _, e := range m.scores {
				if !fn(e.dot) {
					return false
				}
			}
			for _, e := range m.incs {
				if !fn(causal.Dot{Node: e.node, Counter: e.k}) {
					return false
				}
			}
		}
	}
	if s := v.strm(); s != nil {
		for i := range s.entries {
			if !fn(s.entries[i].dot) {
				return false
			}
		}
		for _, m := range s.meta {
			if !fn(m.dot) {
				return false
			}
		}
	}
	if c := v.bc(); c != nil {
		for i := range c.gens {
			g := &c.gens[i]
			if !fn(g.dot) {
				return false
			}
			for j := range g.accts {
				if !fn(causal.Dot{Node: g.accts[j].node}) {
					return false
				}
			}
		}
	}
	return true
}

// seqWriters reports the inserting dots of a sequence's elements, one
// per dot of each run (a run stepping the counter has one dot per
// element; one stepping the offset, one for all).
func seqWriters[T seq.Content[T]](s *seq.Seq[T], fn func(d causal.Dot) bool) bool {
	if s == nil {
		return true
	}
	ok := true
	s.ScanAll(func(r seq.Range) bool {
		n := 1
		if r.Counter {
			n = r.N
		}
		for i := 0; i < n && ok; i++ {
			id := r.At(i)
			ok = fn(causal.Dot{Node: causal.NodeID(id.Node), Counter: id.Counter})
		}
		return ok
	})
	return ok
}

// Hides reports whether after, the result of joining before with another
// replica's state, lacks an entry before holds or hides content before
// shows: a register sibling, set member dot, expiry entry, sorted-set
// score entry, stream entry or last-ID entry, or bounded-counter
// generation of before that after does not hold; a live counter column
// or sorted-set increment entry of before whose reset advanced in after;
// a list or text element visible in before and a tombstone in after; or
// any of these in a map field, recursively. A join only adds otherwise,
// so Hides is how a state transfer's removals are found (they name no
// writer: see Writers). before or after may be nil (no value).
func Hides(before, after *Value) bool {
	if before == nil {
		return false
	}
	if after == nil {
		after = &Value{}
	}
	for i := 0; i < before.reg.len(); i++ {
		if !regHolds(&after.reg, before.reg.at(i).dot) {
			return true
		}
	}
	for _, e := range before.expiry() {
		if !slices.ContainsFunc(after.expiry(), func(a expEntry) bool { return a.dot == e.dot }) {
			return true
		}
	}
	if counterHides(before.ctr(), after.ctr()) || setHides(before.oset(), after.oset()) ||
		mapHides(before.omap(), after.omap()) || seqHides(before.listSeq(), after.listSeq()) ||
		seqHides(before.textSeq(), after.textSeq()) || zsetHides(before.zs(), after.zs()) ||
		streamHides(before.strm(), after.strm()) || bcounterHides(before.bc(), after.bc()) {
		return true
	}
	return false
}

func regHolds(r *registers, d causal.Dot) bool {
	for i := 0; i < r.len(); i++ {
		if r.at(i).dot == d {
			return true
		}
	}
	return false
}

// counterHides: a live column of a whose observed reset is greater in b.
func counterHides(a, b *counter) bool {
	if a == nil {
		return false
	}
	for _, n := range a.nodes {
		if !n.live() {
			continue
		}
		if b == nil {
			return true
		}
		i, ok := b.find(n.node)
		if !ok || b.nodes[i].kr > n.kr {
			return true
		}
	}
	return false
}

func setHides(a, b *orSet) bool {
	if a == nil {
		return false
	}
	for m, ds := range a.members {
		if b == nil {
			return true
		}
		have := b.members[m]
		for _, d := range ds {
			if !slices.Contains(have, d) {
				return true
			}
		}
	}
	return false
}

func mapHides(a, b *orMap) bool {
	if a == nil {
		return false
	}
	for name, f := range a.fields {
		var g *Value
		if b != nil {
			g = b.fields[name]
		}
		if Hides(f, g) {
			return true
		}
	}
	return false
}

// seqHides: an element visible in a and not in b.
func seqHides[T seq.Content[T]](a, b *seq.Seq[T]) bool {
	if a == nil || a.Len() == 0 {
		return false
	}
	if b == nil {
		return true
	}
	hides := false
	a.ScanIDs(0, func(r seq.Range) bool {
		for i := 0; i < r.N && !hides; i++ {
			hides = !b.Visible(r.At(i))
		}
		return !hides
	})
	return hides
}

func zsetHides(a, b *zset) bool {
	if a == nil {
		return false
	}
	for name, m := range a.members {
		var o *zmember
		if b != nil {
			o = b.members[name]
		}
		if o == nil {
			o = &zmember{}
		}
		for _, e := range m.scores {
			if !slices.ContainsFunc(o.scores, func(s zscore) bool { return s.dot == e.dot }) {
				return true
			}
		}
		for _, e := range m.incs {
			if !e.live() {
				continue
			}
			i, ok := o.findInc(e.node)
			if !ok || o.incs[i].kr > e.kr {
				return true
			}
		}
	}
	return false
}

func streamHides(a, b *stream) bool {
	if a == nil {
		return false
	}
	if b == nil {
		b = &stream{}
	}
	for i := range a.entries {
		if _, ok := slices.BinarySearchFunc(b.entries, &a.entries[i], func(e streamEntry, t *streamEntry) int {
			return entryLess(&e, t)
		}); !ok {
			return true
		}
	}
	for _, m := range a.meta {
		if !slices.ContainsFunc(b.meta, func(o streamMeta) bool { return o.dot == m.dot }) {
			return true
		}
	}
	return false
}

func bcounterHides(a, b *bcounter) bool {
	if a == nil {
		return false
	}
	for i := range a.gens {
		if b == nil || b.findGen(a.gens[i].dot) == nil {
			return true
		}
	}
	return false
}
