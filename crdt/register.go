package crdt

import (
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

// lwwIndex returns the index of the last-writer-wins entry: greatest
// (time, dot.node, dot.counter). A register never holds two entries of one
// node in practice (a node's later write observes its earlier one); the
// counter makes the order total regardless.
func lwwIndex(entries []regEntry) int {
	best := 0
	for i := 1; i < len(entries); i++ {
		if lwwLess(entries[best], entries[i]) {
			best = i
		}
	}
	return best
}

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
// This is the register's fast path; Apply uses it for every register op.
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
