package seq

import (
	"errors"
	"slices"

	"github.com/tidwall/btree"
)

// Errors returned by Integrate, DeleteRanges and the decoders.
var (
	// ErrMissing is returned for an operation that names an element the
	// sequence does not hold (an origin or a deleted element): the
	// operation's causal past is missing, or it is malformed.
	ErrMissing = errors.New("seq: element not found")
	// ErrInvalid is returned by decoders for input that parses but is not
	// canonical or not allowed.
	ErrInvalid = errors.New("seq: invalid input")
)

// span is one entry of the ID index: the first element of a run and the
// leaf that holds the run. The index holds pointers, so an entry's key
// can change in place when a run's first element moves without passing
// another key (rekey), and its leaf when the run moves (indexMove).
type span[T Content[T]] struct {
	id   ID
	leaf *leaf[T]
}

// Seq is a sequence CRDT over elements stored as T (Text or Values). The
// zero value is not usable; call New.
type Seq[T Content[T]] struct {
	root   *inner[T]
	first  *leaf[T]
	index  *btree.BTreeG[*span[T]]
	probe  span[T] // the key of index look-ups
	digest uint64
	hashes []uint64 // scratch of digestContent
	// hint is the run last located or placed (validated before use:
	// leaves are never freed, and a run's IDs are unique).
	hint cursor[T]
	// maxCounters holds the greatest counter of each node's elements
	// (node, counter pairs; few nodes write one document): an insertion
	// above it is new without an index lookup.
	maxCounters []uint64
}

// New returns an empty sequence.
func New[T Content[T]]() *Seq[T] {
	s := &Seq[T]{}
	s.reset()
	return s
}

func (s *Seq[T]) reset() {
	l := &leaf[T]{items: make([]item[T], 0, 4)}
	s.root = &inner[T]{leaves: []*leaf[T]{l}}
	l.parent = s.root
	s.first = l
	s.index = btree.NewBTreeGOptions(func(a, b *span[T]) bool { return a.id.Less(b.id) }, btree.Options{NoLocks: true, Degree: 64})
	s.digest = 0
	s.hint = cursor[T]{}
	s.maxCounters = nil
}

// Len is the number of visible elements.
func (s *Seq[T]) Len() int { return s.root.vis }

// Total is the number of elements, tombstones included.
func (s *Seq[T]) Total() int { return s.root.total }

// Runs is the number of runs the sequence is stored as (a measure of its
// fragmentation and memory).
func (s *Seq[T]) Runs() int { return s.index.Len() }

// Digest is an order-free hash of the sequence's elements, their origins,
// their content and their deletion: equal sequences have equal digests.
// O(1); maintained by every change.
func (s *Seq[T]) Digest() uint64 { return s.digest }

// locate returns the place of element id. The run last located or
// placed is tried first: remote operations mostly name the element the
// previous one inserted.
func (s *Seq[T]) locate(id ID) (cursor[T], bool) {
	if l, i := s.hint.l, s.hint.i; l != nil && i < len(l.items) {
		if off := l.items[i].find(id); off >= 0 {
			return cursor[T]{l: l, i: i, off: off}, true
		}
		if i+1 < len(l.items) {
			if off := l.items[i+1].find(id); off >= 0 {
				return cursor[T]{l: l, i: i + 1, off: off}, true
			}
		}
	}
	var found *span[T]
	s.probe.id = id
	s.index.Descend(&s.probe, func(sp *span[T]) bool {
		found = sp
		return false
	})
	if found == nil || found.id.Node != id.Node {
		return cursor[T]{}, false
	}
	l := found.leaf
	for i := range l.items {
		if l.items[i].id == found.id {
			if off := l.items[i].find(id); off >= 0 {
				s.hint = cursor[T]{l: l, i: i}
				return cursor[T]{l: l, i: i, off: off}, true
			}
			return cursor[T]{}, false
		}
	}
	return cursor[T]{}, false
}

// Has reports whether the sequence holds element id (visible or not).
func (s *Seq[T]) Has(id ID) bool {
	_, ok := s.locate(id)
	return ok
}

// Visible reports whether element id is present and not deleted.
func (s *Seq[T]) Visible(id ID) bool {
	c, ok := s.locate(id)
	return ok && !c.item().deleted()
}

// IndexOf returns the visible position of element id, or -1 if the
// sequence does not hold it or it is deleted.
func (s *Seq[T]) IndexOf(id ID) int {
	c, ok := s.locate(id)
	if !ok || c.item().deleted() {
		return -1
	}
	return s.visiblePosition(c)
}

// visiblePosition returns the number of visible elements before c.
func (s *Seq[T]) visiblePosition(c cursor[T]) int { return s.countBefore(c, true) }

// At returns the ID of the element at visible position pos (0 ≤ pos <
// Len).
func (s *Seq[T]) At(pos int) ID {
	c := s.findVisible(pos)
	return c.item().elem(c.off)
}

// start is the place before every element.
func (s *Seq[T]) start() cursor[T] {
	c := cursor[T]{l: s.first}
	c.normalize()
	return c
}

// after returns the place right after element c.
func after[T Content[T]](c cursor[T]) cursor[T] {
	c.off++
	if c.off == c.item().n {
		c.nextItem()
	}
	return c
}

// elemAt returns the element at c, zero at the end.
func elemAt[T Content[T]](c cursor[T]) ID {
	if c.atEnd() {
		return ID{}
	}
	return c.item().elem(c.off)
}

// Insert inserts n elements (content) at visible position pos (0 ≤ pos ≤
// Len) as a local operation with first ID id, and returns the operation
// to ship. The new elements go right after the visible element pos-1
// (before any tombstones that follow it). sole says they are their
// transaction's only ones (n == 1, id.Offset == 0). s keeps content: the
// caller must not modify it afterwards.
func (s *Seq[T]) Insert(pos int, id ID, n int, content T, sole bool) Insert[T] {
	var c cursor[T]
	op := Insert[T]{ID: id, N: n, Content: content, Sole: sole && n == 1 && id.Offset == 0}
	if pos == 0 {
		c = s.start()
	} else {
		c = s.findVisible(pos - 1)
		op.Left = c.item().elem(c.off)
		c = after(c)
	}
	op.Right = elemAt(c)
	s.place(c, &op, false)
	return op
}

// Integrate applies a remote insertion: it places op's elements after
// op.Left, ordering them among concurrent insertions at that place
// (FugueMax), and is a no-op if the sequence already holds op.ID. It
// returns ErrMissing, changing nothing, if an origin is missing. s keeps
// op.Content.
func (s *Seq[T]) Integrate(op Insert[T]) error { return s.integrate(op, false) }

// integrate is Integrate; deleted places the elements as tombstones (a
// state join bringing in elements deleted on the other side).
func (s *Seq[T]) integrate(op Insert[T], deleted bool) error {
	if op.ID.Counter <= s.maxCounter(op.ID.Node) && s.Has(op.ID) {
		return nil
	}
	var c cursor[T]
	if op.Left.IsZero() {
		c = s.start()
	} else {
		lc, ok := s.locate(op.Left)
		if !ok {
			return ErrMissing
		}
		c = after(lc)
	}
	if !op.Right.IsZero() && elemAt(c) != op.Right && !s.Has(op.Right) {
		return ErrMissing
	}
	op.Sole = op.Sole && op.N == 1 && op.ID.Offset == 0
	if elemAt(c) == op.Right {
		s.place(c, &op, deleted) // no concurrent insertion here: the common case
		return nil
	}
	leftPos, rightPos := -2, -2
	posOf := func(id ID, end bool) int {
		if id.IsZero() {
			if end {
				return s.root.total
			}
			return -1
		}
		oc, _ := s.locate(id)
		return s.position(oc)
	}
	dest := c
	scanning := false
scan:
	for {
		if !scanning {
			dest = c
		}
		if c.atEnd() {
			break
		}
		it := c.item()
		if it.elem(c.off) == op.Right {
			break
		}
		oleft := it.originLeft(c.off)
		cmpLeft := 0
		if oleft != op.Left {
			if leftPos == -2 {
				leftPos = posOf(op.Left, false)
			}
			if posOf(oleft, false) < leftPos {
				cmpLeft = -1
			} else {
				cmpLeft = 1
			}
		}
		if cmpLeft < 0 {
			break
		}
		if cmpLeft == 0 {
			cmpRight := 0
			if it.right != op.Right {
				if rightPos == -2 {
					rightPos = posOf(op.Right, true)
				}
				if posOf(it.right, true) < rightPos {
					cmpRight = -1
				} else {
					cmpRight = 1
				}
			}
			switch {
			case cmpRight < 0:
				scanning = true
			case cmpRight == 0 && op.ID.Node < it.id.Node:
				break scan
			default:
				scanning = false
			}
		}
		// The run's later elements are children of its first: skip them,
		// unless op.Right lies inside the run (malformed input).
		if k := it.find(op.Right); k > c.off {
			if !scanning {
				dest = cursor[T]{l: c.l, i: c.i, off: k}
			}
			break
		}
		c.nextItem()
	}
	s.place(dest, &op, deleted)
	return nil
}

// place inserts op's run at c, merging it into the run before when it
// continues that run.
func (s *Seq[T]) place(c cursor[T], op *Insert[T], deleted bool) {
	it := item[T]{id: op.ID, left: op.Left, right: op.Right, n: op.N, content: op.Content}
	if op.Sole {
		it.flags |= flagSole
	}
	s.digestInsert(&it)
	s.noteCounter(it.id.Node, it.id.Counter)
	vis := it.n
	if deleted {
		s.digestDelete(&it)
		var zero T
		it.content = zero
		it.flags |= flagDeleted
		vis = 0
	}
	if c.off > 0 {
		s.splitItem(c.l, c.i, c.off)
		c.i++
		c.off = 0
	}
	// The run before c, if any.
	pl, pi := c.l, c.i-1
	if pi < 0 && pl.prev != nil {
		pl = pl.prev
		pi = len(pl.items) - 1
	}
	if pi >= 0 && pi < len(pl.items) && mergeable(&pl.items[pi], &it) {
		merge(&pl.items[pi], &it)
		adjust(pl, vis, it.n)
		s.hint.l, s.hint.i = s.fix(pl, pi)
		if pl != c.l {
			s.fix(c.l, 0)
		}
		return
	}
	c.l.items = insertItem(c.l.items, c.i, it)
	adjust(c.l, vis, it.n)
	s.indexAdd(it.id, c.l)
	s.hint.l, s.hint.i = s.fix(c.l, c.i)
}

// Delete deletes n visible elements from visible position pos (pos+n ≤
// Len) as a local operation and returns the deleted ranges (the operation
// to ship), appended to dst.
func (s *Seq[T]) Delete(pos, n int, dst []Range) []Range {
	if n <= 0 {
		return dst
	}
	c := s.findVisible(pos)
	for n > 0 && !c.atEnd() {
		it := c.item()
		if it.deleted() {
			c.nextItem()
			continue
		}
		k := min(n, it.n-c.off)
		dst = append(dst, it.rangeOf(c.off, k))
		c = s.markDeleted(c, k)
		n -= k
	}
	return dst
}

// markDeleted deletes elements [c.off, c.off+k) of run c (visible) and
// returns the place after them.
func (s *Seq[T]) markDeleted(c cursor[T], k int) cursor[T] {
	l, i := c.l, c.i
	if c.off > 0 && c.off+k == l.items[i].n && i+1 < len(l.items) {
		// Backspacing: the run's tail joins the tombstone after it.
		if s.moveTail(l, i, c.off) {
			return after(cursor[T]{l: l, i: i + 1, off: l.items[i+1].n - 1})
		}
	} else if c.off == 0 && k < l.items[i].n && i > 0 {
		// Deleting forwards: the run's head joins the tombstone before it.
		if s.moveHead(l, i, k) {
			return cursor[T]{l: l, i: i, off: 0}
		}
	}
	if c.off > 0 {
		s.splitItem(l, i, c.off)
		i++
	}
	if k < l.items[i].n {
		s.splitItem(l, i, k)
	}
	it := &l.items[i]
	s.digestDelete(it)
	var zero T
	it.content = zero
	it.flags |= flagDeleted
	adjust(l, -k, 0)
	// Merge with deleted neighbours of the same run (backspacing splits
	// a run one element at a time).
	if i+1 < len(l.items) && mergeable(it, &l.items[i+1]) {
		s.indexRemove(l.items[i+1].id)
		merge(it, &l.items[i+1])
		l.items = slices.Delete(l.items, i+1, i+2)
	}
	if i > 0 && mergeable(&l.items[i-1], it) {
		s.indexRemove(it.id)
		merge(&l.items[i-1], it)
		l.items = slices.Delete(l.items, i, i+1)
		i--
	}
	l, i = s.fix(l, i)
	out := cursor[T]{l: l, i: i, off: l.items[i].n - 1}
	return after(out)
}

// moveTail deletes elements [off, n) of visible run i of l (0 < off < n)
// if, deleted, they would merge with run i+1: it moves the boundary
// between the runs instead of splitting run i and merging the part into
// run i+1, and reports whether it did. The result is the one of the split
// and merge (markDeleted), with one index key changed in place.
func (s *Seq[T]) moveTail(l *leaf[T], i, off int) bool {
	it, next := &l.items[i], &l.items[i+1]
	if !next.deleted() {
		return false
	}
	part := item[T]{id: it.elem(off), left: it.elem(off - 1), right: it.right, n: it.n - off, flags: it.flags}
	if part.n == 1 {
		part.flags &^= flagCounter
	}
	part.flags |= flagDeleted
	if !mergeable(&part, next) {
		return false
	}
	part.content = it.content.Slice(it.n, off, it.n)
	s.digestDelete(&part)
	k := part.n
	var zero T
	part.content = zero
	it.content = it.content.Slice(it.n, 0, off)
	it.n = off
	if it.n == 1 {
		it.flags &^= flagCounter
	}
	old := next.id
	merge(&part, next)
	*next = part
	s.rekey(old, next.id, l)
	adjust(l, -k, 0)
	return true
}

// moveHead deletes elements [0, k) of visible run i of l (0 < k < n) if,
// deleted, they would merge with run i-1: the mirror of moveTail.
func (s *Seq[T]) moveHead(l *leaf[T], i, k int) bool {
	it, prev := &l.items[i], &l.items[i-1]
	if !prev.deleted() {
		return false
	}
	part := item[T]{id: it.id, left: it.left, right: it.right, n: k, flags: it.flags}
	if part.n == 1 {
		part.flags &^= flagCounter
	}
	part.flags |= flagDeleted
	if !mergeable(prev, &part) {
		return false
	}
	part.content = it.content.Slice(it.n, 0, k)
	s.digestDelete(&part)
	old := it.id
	rest := item[T]{id: it.elem(k), left: it.elem(k - 1), right: it.right, n: it.n - k, flags: it.flags, content: it.content.Slice(it.n, k, it.n)}
	if rest.n == 1 {
		rest.flags &^= flagCounter
	}
	var zero T
	part.content = zero
	merge(prev, &part)
	*it = rest
	s.rekey(old, it.id, l)
	adjust(l, -k, 0)
	return true
}

// rekey changes the ID index key of a run of l from old to id, which
// takes its place in the index order (no key lies between them).
func (s *Seq[T]) rekey(old, id ID, l *leaf[T]) {
	s.probe.id = old
	sp, _ := s.index.Get(&s.probe)
	sp.id, sp.leaf = id, l
}

// indexAdd adds the index entry of a run of l that begins at id.
func (s *Seq[T]) indexAdd(id ID, l *leaf[T]) {
	s.index.Set(&span[T]{id: id, leaf: l})
}

// indexMove records that the run that begins at id is now in l.
func (s *Seq[T]) indexMove(id ID, l *leaf[T]) {
	s.probe.id = id
	sp, _ := s.index.Get(&s.probe)
	sp.leaf = l
}

// indexRemove removes the index entry of the run that begins at id.
func (s *Seq[T]) indexRemove(id ID) {
	s.probe.id = id
	s.index.Delete(&s.probe)
}

// DeleteRanges applies a remote deletion. Elements already deleted stay
// so (it is idempotent); it returns ErrMissing, after deleting the
// elements it found, if some element is missing (use CanDelete first to
// refuse such an operation without a change).
func (s *Seq[T]) DeleteRanges(ranges []Range) error {
	var err error
	for _, r := range ranges {
		for j := 0; j < r.N; {
			c, ok := s.locate(r.At(j))
			if !ok {
				err = ErrMissing
				j++
				continue
			}
			it := c.item()
			k := 1
			if r.Counter == (it.flags&flagCounter != 0) || r.N-j == 1 {
				k = min(r.N-j, it.n-c.off)
			}
			if !it.deleted() {
				s.markDeleted(c, k)
			}
			j += k
		}
	}
	return err
}

// CanDelete reports whether the sequence holds every element of ranges.
func (s *Seq[T]) CanDelete(ranges []Range) bool {
	for _, r := range ranges {
		for j := 0; j < r.N; {
			c, ok := s.locate(r.At(j))
			if !ok {
				return false
			}
			it := c.item()
			k := 1
			if r.Counter == (it.flags&flagCounter != 0) || r.N-j == 1 {
				k = min(r.N-j, it.n-c.off)
			}
			j += k
		}
	}
	return true
}

// Observed returns the ranges of visible elements whose transaction
// (node, counter) observed reports true, appended to dst: what a clear
// made in that causal past deletes (DeleteRanges).
func (s *Seq[T]) Observed(observed func(node, counter uint64) bool, dst []Range) []Range {
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			it := &l.items[i]
			if it.deleted() {
				continue
			}
			if it.flags&flagCounter == 0 {
				if observed(it.id.Node, it.id.Counter) {
					dst = append(dst, it.rangeOf(0, it.n))
				}
				continue
			}
			from := -1
			for j := 0; j <= it.n; j++ {
				ok := j < it.n && observed(it.id.Node, it.id.Counter+uint64(j))
				switch {
				case ok && from < 0:
					from = j
				case !ok && from >= 0:
					dst = append(dst, it.rangeOf(from, j-from))
					from = -1
				}
			}
		}
	}
	return dst
}

// Scan calls fn with the visible elements from visible position from on,
// a run at a time (content and element count), until fn returns false.
// The content aliases the sequence and must not be modified.
func (s *Seq[T]) Scan(from int, fn func(run T, n int) bool) {
	if from >= s.root.vis || from < 0 {
		return
	}
	c := s.findVisible(from)
	for !c.atEnd() {
		it := c.item()
		if !it.deleted() {
			run := it.content
			n := it.n
			if c.off > 0 {
				run = run.Slice(n, c.off, n)
				n -= c.off
			}
			if !fn(run, n) {
				return
			}
		}
		c.nextItem()
	}
}

// ScanIDs calls fn with the visible elements' IDs from visible position
// from on, a range at a time, until fn returns false.
func (s *Seq[T]) ScanIDs(from int, fn func(r Range) bool) {
	if from >= s.root.vis || from < 0 {
		return
	}
	c := s.findVisible(from)
	for !c.atEnd() {
		it := c.item()
		if !it.deleted() && !fn(it.rangeOf(c.off, it.n-c.off)) {
			return
		}
		c.nextItem()
	}
}

// digestInsert adds a new run's elements to the digest.
func (s *Seq[T]) digestInsert(it *item[T]) {
	rh := it.right.hash() * 0x94d049bb133111eb
	for i := 0; i < it.n; i++ {
		s.digest += mix64(it.elem(i).hash() ^ (it.originLeft(i).hash()*0xff51afd7ed558ccd + rh))
	}
	s.digestContent(it, 1)
}

// digestDelete moves a run's elements from visible to deleted.
func (s *Seq[T]) digestDelete(it *item[T]) {
	s.digestContent(it, ^uint64(0))
	for i := 0; i < it.n; i++ {
		s.digest += mix64(it.elem(i).hash() ^ 0xdeadbeefcafef00d)
	}
}

// digestContent adds (sign 1) or subtracts (sign -1 as ^0) a visible run's
// content terms.
func (s *Seq[T]) digestContent(it *item[T], sign uint64) {
	s.hashes = it.content.AppendHashes(s.hashes[:0], it.n)
	for i, h := range s.hashes {
		s.digest += sign * mix64(it.elem(i).hash()^h)
	}
}

// ScanAll calls fn with the IDs of every element, tombstones included, a
// run at a time, until fn returns false.
func (s *Seq[T]) ScanAll(fn func(r Range) bool) {
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			if !fn(l.items[i].rangeOf(0, l.items[i].n)) {
				return
			}
		}
	}
}

// maxCounter returns the greatest counter of node's elements (0: none).
func (s *Seq[T]) maxCounter(node uint64) uint64 {
	for i := 0; i < len(s.maxCounters); i += 2 {
		if s.maxCounters[i] == node {
			return s.maxCounters[i+1]
		}
	}
	return 0
}

// noteCounter records that node has an element of counter c.
func (s *Seq[T]) noteCounter(node, c uint64) {
	for i := 0; i < len(s.maxCounters); i += 2 {
		if s.maxCounters[i] == node {
			s.maxCounters[i+1] = max(s.maxCounters[i+1], c)
			return
		}
	}
	s.maxCounters = append(s.maxCounters, node, c)
}
