package httpapi

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// A text WebSocket (GET /v1/text/{key} upgraded; see text.go) keeps one
// browser's copy of a document in step with the node's. Across nodes the
// text CRDT converges; between one node and one browser this file's
// operational transform does, in the client-server form of Jupiter and
// ot.js: the connection numbers every operation it applies to its record
// of the browser's copy ("revision"), and a browser edit names the
// revision it was made on, so the node can transform it over the
// revisions the browser had not seen yet. ui/assets/editor.js holds the
// same transform; the two must stay equal (TestTextTransformConverges
// checks this one, the browser test the pair).

// textOp is one edit of a text; positions and lengths count Unicode code
// points. It inserts Insert at Pos when Insert is not empty, otherwise it
// deletes Delete code points from Pos. A list of textOps applies in order,
// each to the text the previous one left.
type textOp struct {
	Pos    int    `json:"pos"`
	Insert string `json:"insert,omitempty"`
	Delete int    `json:"delete,omitempty"`
}

// errTextOp is a textOp that does not fit the text it is applied to (or
// says nothing: no insert and no delete).
var errTextOp = errors.New("httpapi: text operation out of range")

func (o textOp) isInsert() bool { return o.Insert != "" }

// size is the code points o inserts, or deletes.
func (o textOp) size() int {
	if o.isInsert() {
		return utf8.RuneCountInString(o.Insert)
	}
	return o.Delete
}

// applyTextOps applies ops to text (code points) and returns the result.
func applyTextOps(text []rune, ops []textOp) ([]rune, error) {
	for _, o := range ops {
		if o.Pos < 0 || o.Pos > len(text) {
			return nil, fmt.Errorf("%w: position %d in a text of %d", errTextOp, o.Pos, len(text))
		}
		switch {
		case o.isInsert():
			ins := []rune(o.Insert)
			out := make([]rune, 0, len(text)+len(ins))
			out = append(append(append(out, text[:o.Pos]...), ins...), text[o.Pos:]...)
			text = out
		case o.Delete > 0 && o.Delete <= len(text)-o.Pos:
			text = append(text[:o.Pos:o.Pos], text[o.Pos+o.Delete:]...)
		default:
			return nil, fmt.Errorf("%w: delete %d at %d in a text of %d", errTextOp, o.Delete, o.Pos, len(text))
		}
	}
	return text, nil
}

// Bounds of diffText's search for a shortest edit script; texts beyond
// either become one replacement of the span between their common prefix
// and suffix. The search costs O(MaxDiffSpan·MaxDiffEdits) time and
// O(MaxDiffEdits²) memory at most.
const (
	// MaxDiffEdits is the most code points inserted plus deleted.
	MaxDiffEdits = 64
	// MaxDiffSpan is the most code points in the two differing middles
	// together.
	MaxDiffSpan = 1 << 14
)

// diffText returns ops that turn from into to. Around their common
// prefix and suffix it finds a shortest edit script (Myers, 1986) when one
// has at most MaxDiffEdits inserted and deleted code points, so edits made
// at several places arrive as separate ops and a cursor between them stays
// where it was; otherwise one delete and one insert replace the middle.
func diffText(from, to []rune) []textOp {
	p := 0
	for p < len(from) && p < len(to) && from[p] == to[p] {
		p++
	}
	s := 0
	for s < len(from)-p && s < len(to)-p && from[len(from)-1-s] == to[len(to)-1-s] {
		s++
	}
	a, b := from[p:len(from)-s], to[p:len(to)-s]
	if len(a) > 0 && len(b) > 0 && len(a)+len(b) <= MaxDiffSpan {
		if ops, ok := shortestEdit(a, b, p); ok {
			return ops
		}
	}
	var ops []textOp
	if len(a) > 0 {
		ops = append(ops, textOp{Pos: p, Delete: len(a)})
	}
	if len(b) > 0 {
		ops = append(ops, textOp{Pos: p, Insert: string(b)})
	}
	return ops
}

// shortestEdit is Myers's greedy search for a shortest edit script from a
// to b, as ops at offset pos; false when it needs more than MaxDiffEdits.
func shortestEdit(a, b []rune, pos int) ([]textOp, bool) {
	n, m := len(a), len(b)
	off := MaxDiffEdits + 1
	v := make([]int, 2*off+1)
	var trace [][]int
	for d := 0; d <= MaxDiffEdits; d++ {
		trace = append(trace, slices.Clone(v))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: insert b[y]
			} else {
				x = v[off+k-1] + 1 // right: delete a[x]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return editOps(trace, off, a, b, d, k, pos), true
			}
		}
	}
	return nil, false
}

// editOps walks the search's trace back from (d, k) and returns the
// script forward as ops, runs of deletes and of inserts merged. An edit
// at point (x, y) of the search applies at pos+y of the text being
// edited: b's first y code points are in place before it.
func editOps(trace [][]int, off int, a, b []rune, d, k, pos int) []textOp {
	type edit struct {
		insert bool
		x, y   int // the point the edit leaves from
	}
	var back []edit
	for ; d > 0; d-- {
		v := trace[d]
		prevK := k - 1
		if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
			prevK = k + 1
		}
		prevX := v[off+prevK]
		back = append(back, edit{insert: prevK == k+1, x: prevX, y: prevX - prevK})
		k = prevK
	}
	var ops []textOp
	for i := len(back) - 1; i >= 0; i-- {
		e := back[i]
		at := pos + e.y
		last := len(ops) - 1
		switch {
		case e.insert && last >= 0 && ops[last].isInsert() && ops[last].Pos+ops[last].size() == at:
			ops[last].Insert += string(b[e.y])
		case e.insert:
			ops = append(ops, textOp{Pos: at, Insert: string(b[e.y])})
		case last >= 0 && !ops[last].isInsert() && ops[last].Pos == at:
			ops[last].Delete++
		default:
			ops = append(ops, textOp{Pos: at, Delete: 1})
		}
	}
	return ops
}

// transformText returns a' and b', where a and b are op lists made on the
// same text: a' is a to apply after b, b' is b to apply after a, and both
// orders give the same text. aFirst breaks the tie of two inserts at one
// position: a's text goes first. The node passes its own changes as the
// first list: they precede a browser's insert at the same place.
func transformText(a, b []textOp, aFirst bool) ([]textOp, []textOp) {
	switch {
	case len(a) == 0 || len(b) == 0:
		return a, b
	case len(a) == 1 && len(b) == 1:
		return transformOp(a[0], b[0], aFirst)
	case len(a) > 1:
		head, b1 := transformText(a[:1], b, aFirst)
		rest, b2 := transformText(a[1:], b1, aFirst)
		return append(head, rest...), b2
	default:
		a1, head := transformText(a, b[:1], aFirst)
		a2, rest := transformText(a1, b[1:], aFirst)
		return a2, append(head, rest...)
	}
}

// transformOp is transformText for one op on each side. An insert inside
// a concurrent delete survives it, which splits the delete in two.
func transformOp(a, b textOp, aFirst bool) ([]textOp, []textOp) {
	switch {
	case a.isInsert() && b.isInsert():
		if a.Pos < b.Pos || (a.Pos == b.Pos && aFirst) {
			return []textOp{a}, []textOp{{Pos: b.Pos + a.size(), Insert: b.Insert}}
		}
		return []textOp{{Pos: a.Pos + b.size(), Insert: a.Insert}}, []textOp{b}
	case a.isInsert():
		return insertOverDelete(a, b)
	case b.isInsert():
		bt, at := insertOverDelete(b, a)
		return at, bt
	default:
		return deleteOverDelete(a, b), deleteOverDelete(b, a)
	}
}

// insertOverDelete transforms insert i and delete d over each other.
func insertOverDelete(i, d textOp) (iAfter, dAfter []textOp) {
	switch {
	case i.Pos <= d.Pos:
		return []textOp{i}, []textOp{{Pos: d.Pos + i.size(), Delete: d.Delete}}
	case i.Pos >= d.Pos+d.Delete:
		return []textOp{{Pos: i.Pos - d.Delete, Insert: i.Insert}}, []textOp{d}
	default: // inside: the delete goes around the inserted text
		before := i.Pos - d.Pos
		return []textOp{{Pos: d.Pos, Insert: i.Insert}},
			[]textOp{{Pos: d.Pos, Delete: before}, {Pos: d.Pos + i.size(), Delete: d.Delete - before}}
	}
}

// deleteOverDelete is delete a after delete b: what b did not delete
// already, shifted by what b deleted before it.
func deleteOverDelete(a, b textOp) []textOp {
	aEnd, bEnd := a.Pos+a.Delete, b.Pos+b.Delete
	overlap := max(0, min(aEnd, bEnd)-max(a.Pos, b.Pos))
	if a.Delete == overlap {
		return nil
	}
	before := max(0, min(a.Pos, bEnd)-b.Pos) // b's deleted code points before a
	return []textOp{{Pos: a.Pos - before, Delete: a.Delete - overlap}}
}
