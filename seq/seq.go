package seq

import (
	"errors"
	"slices"
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

// slotKey is an entry of the node table: a node and the high 32 bits of
// its counters.
type slotKey struct {
	node uint64
	hi   uint32
}

// MaxArenaUnits bounds the content a sequence stores (storage units:
// bytes of text, list elements), live and not yet reclaimed (garbage is
// reclaimed first when it is reached); a decoded state beyond it is
// refused (ErrInvalid), and an insertion beyond it panics. Package crdt
// bounds a list to MaxListLen (2^30) elements, below it; a text of 2^30
// code points of four bytes each would reach it.
const MaxArenaUnits = 1<<32 - 1

// Seq is a sequence CRDT over elements stored as T (Text or Values). The
// zero value is not usable; call New.
type Seq[T Content[T]] struct {
	root   *inner[T]
	first  *leaf[T]
	index  idIndex    // first ID of every run to its leaf
	leaves []*leaf[T] // every leaf, by its idx (leaves are never freed)
	digest uint64
	hashes []uint64 // scratch of digestContent
	// hint is the run last located or placed (validated before use:
	// leaves are never freed, and a run's IDs are unique).
	hint cursor[T]
	// typing caches the place of the last element a local Insert made
	// (at visible position typingPos) for the next Insert right after it:
	// live typing. Every other change clears it.
	typing    cursor[T]
	typingPos int
	// maxCounters holds the greatest counter of each node's elements
	// (node, counter pairs; few nodes write one document): an insertion
	// above it is new without an index lookup.
	maxCounters []uint64
	// The node table: slots[x.slot] is the node and counter high bits of
	// xid x (slot 0 the zero ID); slotOf maps back, last caches a hit.
	slots  []slotKey
	slotOf map[slotKey]uint32
	last   uint32
	// arena holds the content of every visible run, each run a span of
	// it; garbage counts units no run uses any more (deleted, or copied
	// to the end by a merge), reclaimed by tidy.
	arena   T
	garbage int
}

// New returns an empty sequence.
func New[T Content[T]]() *Seq[T] {
	s := &Seq[T]{}
	s.reset()
	return s
}

func (s *Seq[T]) reset() {
	s.leaves = s.leaves[:0]
	l := s.newLeaf(0)
	s.root = &inner[T]{leaves: []*leaf[T]{l}}
	l.parent = s.root
	s.first = l
	s.index.reset()
	s.digest = 0
	s.hint = cursor[T]{}
	s.typing = cursor[T]{}
	s.maxCounters = nil
	s.slots = []slotKey{{}}
	s.slotOf = map[slotKey]uint32{}
	s.last = 0
	var zero T
	s.arena = zero
	s.garbage = 0
}

// xidOf returns the xid of id, false if the sequence cannot hold id (its
// node and counter high bits have no slot, or its offset does not fit).
func (s *Seq[T]) xidOf(id ID) (xid, bool) {
	if id.Node == 0 {
		return xid{}, true
	}
	if id.Offset > 1<<32-1 {
		return xid{}, false
	}
	k := slotKey{node: id.Node, hi: uint32(id.Counter >> 32)}
	slot := s.last
	if s.slots[slot] != k {
		var ok bool
		if slot, ok = s.slotOf[k]; !ok {
			return xid{}, false
		}
		s.last = slot
	}
	return xid{slot: slot, ctr: uint32(id.Counter), off: uint32(id.Offset)}, true
}

// newXid returns the xid of id (not zero, offset below 2^32), adding its
// slot to the node table if needed.
func (s *Seq[T]) newXid(id ID) xid {
	if x, ok := s.xidOf(id); ok {
		return x
	}
	k := slotKey{node: id.Node, hi: uint32(id.Counter >> 32)}
	slot := uint32(len(s.slots))
	s.slots = append(s.slots, k)
	s.slotOf[k] = slot
	s.last = slot
	return xid{slot: slot, ctr: uint32(id.Counter), off: uint32(id.Offset)}
}

// ext returns the ID of x.
func (s *Seq[T]) ext(x xid) ID {
	if x.slot == 0 {
		return ID{}
	}
	k := s.slots[x.slot]
	return ID{Node: k.node, Counter: uint64(k.hi)<<32 | uint64(x.ctr), Offset: uint64(x.off)}
}

// content returns a visible run's content (aliasing the arena).
func (s *Seq[T]) content(it *item) T {
	return s.arena.units(int(it.cs), int(it.cs+it.cl))
}

// addContent appends c to the arena and returns its span.
func (s *Seq[T]) addContent(c T) (uint32, uint32) {
	start := s.arena.unitLen()
	if start+c.unitLen() > MaxArenaUnits {
		s.tidy(true)
		start = s.arena.unitLen()
		if start+c.unitLen() > MaxArenaUnits {
			panic("seq: content beyond MaxArenaUnits")
		}
	}
	if need := start + c.unitLen(); need > s.arena.unitCap() {
		// Grow by a sixteenth, not append's quarter or more: the room
		// left unused in a finished document stays small.
		grown := s.arena.withCap(need + max(start/arenaGrowth, minArenaGrowth))
		s.arena = grown.Append(s.arena)
	}
	s.arena = s.arena.Append(c)
	return uint32(start), uint32(c.unitLen())
}

// dropContent forgets a run's content (it is being deleted).
func (s *Seq[T]) dropContent(it *item) {
	s.garbage += int(it.cl)
	it.cs, it.cl = 0, 0
}

// joinContent makes a's content a's followed by b's (both visible, b
// about to be merged into a).
func (s *Seq[T]) joinContent(a, b *item) {
	switch {
	case b.cl == 0:
	case a.cs+a.cl == b.cs:
		a.cl += b.cl
	case int(a.cs+a.cl) == s.arena.unitLen():
		_, cl := s.addContent(s.content(b))
		s.garbage += int(cl)
		a.cl += cl
	default:
		cb := s.content(b)
		ca := s.content(a)
		s.garbage += int(a.cl + b.cl)
		start, _ := s.addContent(ca)
		s.addContent(cb)
		a.cs = start
		a.cl += b.cl
	}
}

const (
	// arenaGrowth: a full arena grows by 1/arenaGrowth of its length,
	// at least minArenaGrowth units, beyond what is being added (small
	// arenas are not copied at every few units).
	arenaGrowth    = 16
	minArenaGrowth = 4096
	// arenaGarbage: garbage is reclaimed once it is 1/arenaGarbage of
	// the arena (and at least minArenaGarbage units).
	arenaGarbage    = 8
	minArenaGarbage = 4096
)

// tidy reclaims the arena's garbage once it is an eighth of it (or
// always, if force): the live content is copied, in sequence order, to a
// new arena. Content handed out before (Scan) stays valid: the old arena
// is not written.
func (s *Seq[T]) tidy(force bool) {
	if !force && (s.garbage < minArenaGarbage || s.garbage*arenaGarbage < s.arena.unitLen()) {
		return
	}
	arena := s.arena.withCap(s.arena.unitLen() - s.garbage)
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			it := &l.items[i]
			if it.deleted() || it.cl == 0 {
				continue
			}
			c := s.content(it)
			it.cs = uint32(arena.unitLen())
			arena = arena.Append(c)
		}
	}
	s.arena, s.garbage = arena, 0
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
func (s *Seq[T]) locate(id xid) (cursor[T], bool) {
	if l, i := s.hint.l, s.hint.i; l != nil && i < len(l.items) {
		if off := l.items[i].find(id); off >= 0 {
			return cursor[T]{l: l, i: i, off: off}, true
		}
		if i+1 < len(l.items) {
			if off := l.items[i+1].find(id); off >= 0 {
				return cursor[T]{l: l, i: i + 1, off: off}, true
			}
		}
		if i > 0 {
			if off := l.items[i-1].find(id); off >= 0 {
				return cursor[T]{l: l, i: i - 1, off: off}, true
			}
		}
	}
	first, li, ok := s.index.floor(id)
	if !ok {
		return cursor[T]{}, false
	}
	l := s.leaves[li]
	for i := range l.items {
		if l.items[i].id == first {
			if off := l.items[i].find(id); off >= 0 {
				s.hint = cursor[T]{l: l, i: i}
				return cursor[T]{l: l, i: i, off: off}, true
			}
			return cursor[T]{}, false
		}
	}
	return cursor[T]{}, false
}

// locateID is locate for an ID.
func (s *Seq[T]) locateID(id ID) (cursor[T], bool) {
	x, ok := s.xidOf(id)
	if !ok || x.isZero() {
		return cursor[T]{}, false
	}
	return s.locate(x)
}

// Has reports whether the sequence holds element id (visible or not).
func (s *Seq[T]) Has(id ID) bool {
	_, ok := s.locateID(id)
	return ok
}

// Visible reports whether element id is present and not deleted.
func (s *Seq[T]) Visible(id ID) bool {
	c, ok := s.locateID(id)
	return ok && !c.item().deleted()
}

// IndexOf returns the visible position of element id, or -1 if the
// sequence does not hold it or it is deleted.
func (s *Seq[T]) IndexOf(id ID) int {
	c, ok := s.locateID(id)
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
	return s.ext(c.item().elem(c.off))
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
	if c.off == c.item().n() {
		c.nextItem()
	}
	return c
}

// elemAt returns the element at c, zero at the end.
func elemAt[T Content[T]](c cursor[T]) xid {
	if c.atEnd() {
		return xid{}
	}
	return c.item().elem(c.off)
}

// Insert inserts n elements (content) at visible position pos (0 ≤ pos ≤
// Len) as a local operation with first ID id, and returns the operation
// to ship. The new elements go right after the visible element pos-1
// (before any tombstones that follow it). sole says they are their
// transaction's only ones (n == 1, id.Offset == 0). s copies content.
func (s *Seq[T]) Insert(pos int, id ID, n int, content T, sole bool) Insert[T] {
	var c cursor[T]
	op := Insert[T]{ID: id, N: n, Content: content, Sole: sole && n == 1 && id.Offset == 0}
	var left xid
	switch {
	case pos == 0:
		c = s.start()
	case s.typing.l != nil && pos-1 == s.typingPos:
		c = s.typing
		left = c.item().elem(c.off)
		c = after(c)
	default:
		c = s.findVisible(pos - 1)
		left = c.item().elem(c.off)
		c = after(c)
	}
	right := elemAt(c)
	op.Left, op.Right = s.ext(left), s.ext(right)
	s.place(c, s.newXid(id), left, right, n, soleFlag(op.Sole), content, false)
	// The new elements end the run place left in the hint.
	s.typing = cursor[T]{l: s.hint.l, i: s.hint.i, off: s.hint.l.items[s.hint.i].n() - 1}
	s.typingPos = pos + n - 1
	return op
}

// Integrate applies a remote insertion: it places op's elements after
// op.Left, ordering them among concurrent insertions at that place
// (FugueMax), and is a no-op if the sequence already holds op.ID. It
// returns ErrMissing, changing nothing, if an origin is missing, and
// ErrInvalid for a run of more than MaxRunElements elements or offsets
// beyond 2^32. s copies op.Content.
func (s *Seq[T]) Integrate(op Insert[T]) error { return s.integrate(op, false) }

// integrate is Integrate; deleted places the elements as tombstones (a
// state join bringing in elements deleted on the other side).
func (s *Seq[T]) integrate(op Insert[T], deleted bool) error {
	s.typing.l = nil
	if op.ID.Counter <= s.maxCounter(op.ID.Node) && s.Has(op.ID) {
		return nil
	}
	if op.N < 1 || op.N > MaxRunElements || op.ID.Node == 0 || op.ID.Offset+uint64(op.N) > 1<<32 {
		return ErrInvalid
	}
	left, ok := s.xidOf(op.Left)
	if !ok {
		return ErrMissing
	}
	right, ok := s.xidOf(op.Right)
	if !ok {
		return ErrMissing
	}
	var c cursor[T]
	if left.isZero() {
		c = s.start()
	} else {
		lc, ok := s.locate(left)
		if !ok {
			return ErrMissing
		}
		c = after(lc)
	}
	if !right.isZero() && elemAt(c) != right {
		if _, ok := s.locate(right); !ok {
			return ErrMissing
		}
	}
	sole := op.Sole && op.N == 1 && op.ID.Offset == 0
	if elemAt(c) == right {
		s.place(c, s.newXid(op.ID), left, right, op.N, soleFlag(sole), op.Content, deleted) // no concurrent insertion here: the common case
		return nil
	}
	leftPos, rightPos := -2, -2
	posOf := func(id xid, end bool) int {
		if id.isZero() {
			if end {
				return s.root.total
			}
			return -1
		}
		oc, _ := s.locate(id)
		return s.position(oc)
	}
	node := op.ID.Node
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
		if it.elem(c.off) == right {
			break
		}
		oleft := it.originLeft(c.off)
		cmpLeft := 0
		if oleft != left {
			if leftPos == -2 {
				leftPos = posOf(left, false)
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
			if it.right != right {
				if rightPos == -2 {
					rightPos = posOf(right, true)
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
			case cmpRight == 0 && node < s.slots[it.id.slot].node:
				break scan
			default:
				scanning = false
			}
		}
		// The run's later elements are children of its first: skip them,
		// unless op.Right lies inside the run (malformed input).
		if k := it.find(right); k > c.off {
			if !scanning {
				dest = cursor[T]{l: c.l, i: c.i, off: k}
			}
			break
		}
		c.nextItem()
	}
	s.place(dest, s.newXid(op.ID), left, right, op.N, soleFlag(sole), op.Content, deleted)
	return nil
}

func soleFlag(sole bool) uint32 {
	if sole {
		return flagSole
	}
	return 0
}

// IntegrateRun applies k remote insertions that one node made in a row,
// each its transaction's only element in this sequence: op (N 1, sole)
// and k-1 more with the next counters, each with the one before as origin
// left and op.Right as origin right; content holds the k elements. It
// is Integrate of each in turn, done at once: once the first is placed,
// an element whose origin left was just placed goes right after it (an
// element that followed it there names an origin left before it), so
// the rest is one counter-stepping run placed there. A merge of recorded
// history (live typing: one keystroke per transaction) integrates typed
// runs this way. Errors are Integrate's; the elements already applied
// stay applied.
func (s *Seq[T]) IntegrateRun(op Insert[T], k int, content T) error {
	last := op.ID.Counter + uint64(k-1)
	if k < 2 || k-1 > MaxRunElements || op.N != 1 || op.ID.Offset != 0 || op.ID.Counter <= s.maxCounter(op.ID.Node) ||
		last>>32 != op.ID.Counter>>32 || last < op.ID.Counter {
		// Element by element (some may be present already).
		for j := 0; j < k; j++ {
			e := Insert[T]{ID: ID{Node: op.ID.Node, Counter: op.ID.Counter + uint64(j)}, Left: op.Left, Right: op.Right, N: 1, Sole: true, Content: content.Slice(k, j, j+1)}
			if j > 0 {
				e.Left = ID{Node: op.ID.Node, Counter: op.ID.Counter + uint64(j-1)}
			}
			if err := s.integrate(e, false); err != nil {
				return err
			}
		}
		return nil
	}
	first := Insert[T]{ID: op.ID, Left: op.Left, Right: op.Right, N: 1, Sole: true, Content: content.Slice(k, 0, 1)}
	if err := s.integrate(first, false); err != nil {
		return err
	}
	fx, _ := s.xidOf(op.ID)
	right, _ := s.xidOf(op.Right)
	fc, _ := s.locate(fx)
	flags := flagSole
	if k-1 > 1 {
		flags |= flagCounter
	}
	rest := ID{Node: op.ID.Node, Counter: op.ID.Counter + 1}
	s.place(after(fc), s.newXid(rest), fx, right, k-1, flags, content.Slice(k, 1, k), false)
	return nil
}

// place inserts a run (first element id, origins left and right, n
// elements of content) at c, merging it into the run before when it
// continues that run.
func (s *Seq[T]) place(c cursor[T], id, left, right xid, n int, flags uint32, content T, deleted bool) {
	it := item{id: id, left: left, right: right, nf: uint32(n)<<flagBits | flags}
	last := s.ext(it.last())
	s.noteCounter(last.Node, last.Counter)
	s.digestInsert(&it)
	s.digestContentOf(&it, content, 1)
	vis := n
	if deleted {
		s.digestContentOf(&it, content, ^uint64(0))
		s.digestTombstone(&it)
		it.nf |= flagDeleted
		vis = 0
	} else {
		it.cs, it.cl = s.addContent(content)
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
		s.merge(&pl.items[pi], &it)
		adjust(pl, vis, n)
		s.hint.l, s.hint.i = s.fix(pl, pi)
		if pl != c.l {
			s.fix(c.l, 0)
		}
		return
	}
	c.l.items = insertItem(c.l.items, c.i, it)
	adjust(c.l, vis, n)
	s.indexAdd(it.id, c.l)
	s.hint.l, s.hint.i = s.fix(c.l, c.i)
}

// rangeOf returns the range of elements [from, from+k) of run it.
func (s *Seq[T]) rangeOf(it *item, from, k int) Range {
	return Range{ID: s.ext(it.elem(from)), N: k, Counter: it.nf&flagCounter != 0 && k > 1}
}

// Delete deletes n visible elements from visible position pos (pos+n ≤
// Len) as a local operation and returns the deleted ranges (the operation
// to ship), appended to dst.
func (s *Seq[T]) Delete(pos, n int, dst []Range) []Range {
	if n <= 0 {
		return dst
	}
	s.typing.l = nil
	c := s.findVisible(pos)
	for n > 0 && !c.atEnd() {
		it := c.item()
		if it.deleted() {
			c.nextItem()
			continue
		}
		k := min(n, it.n()-c.off)
		dst = append(dst, s.rangeOf(it, c.off, k))
		c = s.markDeleted(c, k)
		n -= k
	}
	s.tidy(false)
	return dst
}

// markDeleted deletes elements [c.off, c.off+k) of run c (visible) and
// returns the place after them.
func (s *Seq[T]) markDeleted(c cursor[T], k int) cursor[T] {
	l, i := c.l, c.i
	if c.off > 0 && c.off+k == l.items[i].n() && i+1 < len(l.items) {
		// Backspacing: the run's tail joins the tombstone after it.
		if s.moveTail(l, i, c.off) {
			return after(cursor[T]{l: l, i: i + 1, off: l.items[i+1].n() - 1})
		}
	} else if c.off == 0 && k < l.items[i].n() && i > 0 {
		// Deleting forwards: the run's head joins the tombstone before it.
		if s.moveHead(l, i, k) {
			return cursor[T]{l: l, i: i, off: 0}
		}
	}
	if c.off > 0 {
		s.splitItem(l, i, c.off)
		i++
	}
	if k < l.items[i].n() {
		s.splitItem(l, i, k)
	}
	it := &l.items[i]
	s.deleteRun(it)
	adjust(l, -k, 0)
	// Merge with deleted neighbours of the same run (backspacing splits
	// a run one element at a time).
	if i+1 < len(l.items) && mergeable(it, &l.items[i+1]) {
		s.indexRemove(l.items[i+1].id)
		s.merge(it, &l.items[i+1])
		l.items = slices.Delete(l.items, i+1, i+2)
	}
	if i > 0 && mergeable(&l.items[i-1], it) {
		s.indexRemove(it.id)
		s.merge(&l.items[i-1], it)
		l.items = slices.Delete(l.items, i, i+1)
		i--
	}
	l, i = s.fix(l, i)
	out := cursor[T]{l: l, i: i, off: l.items[i].n() - 1}
	return after(out)
}

// deleteRun turns visible run it into a tombstone (counts aside).
func (s *Seq[T]) deleteRun(it *item) {
	s.digestContentOf(it, s.content(it), ^uint64(0))
	s.digestTombstone(it)
	s.dropContent(it)
	it.nf |= flagDeleted
}

// moveTail deletes elements [off, n) of visible run i of l (0 < off < n)
// if, deleted, they would merge with run i+1: it moves the boundary
// between the runs instead of splitting run i and merging the part into
// run i+1, and reports whether it did. The result is the one of the split
// and merge (markDeleted), with one index key changed.
func (s *Seq[T]) moveTail(l *leaf[T], i, off int) bool {
	it, next := &l.items[i], &l.items[i+1]
	if !next.deleted() {
		return false
	}
	n := it.n()
	part := item{id: it.elem(off), left: it.elem(off - 1), right: it.right, nf: uint32(n-off)<<flagBits | it.nf&flagMask | flagDeleted}
	if n-off == 1 {
		part.nf &^= flagCounter
	}
	if !mergeable(&part, next) {
		return false
	}
	rest := *it
	tail := s.cutItem(&rest, off)
	s.digestContentOf(&tail, s.content(&tail), ^uint64(0))
	s.digestTombstone(&tail)
	s.garbage += int(tail.cl)
	*it = rest
	k := part.n()
	old := next.id
	s.merge(&part, next)
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
	part := item{id: it.id, left: it.left, right: it.right, nf: uint32(k)<<flagBits | it.nf&flagMask | flagDeleted}
	if k == 1 {
		part.nf &^= flagCounter
	}
	if !mergeable(prev, &part) {
		return false
	}
	head := *it
	rest := s.cutItem(&head, k)
	s.digestContentOf(&head, s.content(&head), ^uint64(0))
	s.digestTombstone(&head)
	s.garbage += int(head.cl)
	old := it.id
	s.merge(prev, &part)
	*it = rest
	s.rekey(old, it.id, l)
	adjust(l, -k, 0)
	return true
}

// newLeaf returns a new leaf with room for n runs, numbered in s.leaves.
func (s *Seq[T]) newLeaf(n int) *leaf[T] {
	l := &leaf[T]{items: make([]item, n, n+leafSlack), idx: uint32(len(s.leaves))}
	s.leaves = append(s.leaves, l)
	return l
}

// rekey changes the ID index key of a run of l from old to id, which
// takes its place in the index order (no key lies between them).
func (s *Seq[T]) rekey(old, id xid, l *leaf[T]) { s.index.rekey(old, id, l.idx) }

// indexAdd adds the index entry of a run of l that begins at id.
func (s *Seq[T]) indexAdd(id xid, l *leaf[T]) { s.index.set(id, l.idx) }

// indexMove records that the run that begins at id is now in l.
func (s *Seq[T]) indexMove(id xid, l *leaf[T]) {
	if e := s.index.get(id); e != nil {
		e.leaf = l.idx
	}
}

// indexRemove removes the index entry of the run that begins at id.
func (s *Seq[T]) indexRemove(id xid) { s.index.remove(id) }

// DeleteRanges applies a remote deletion. Elements already deleted stay
// so (it is idempotent); it returns ErrMissing, after deleting the
// elements it found, if some element is missing (use CanDelete first to
// refuse such an operation without a change).
func (s *Seq[T]) DeleteRanges(ranges []Range) error {
	s.typing.l = nil
	var err error
	for _, r := range ranges {
		for j := 0; j < r.N; {
			c, ok := s.locateID(r.At(j))
			if !ok {
				err = ErrMissing
				j++
				continue
			}
			it := c.item()
			k := 1
			if r.Counter == (it.nf&flagCounter != 0) || r.N-j == 1 {
				k = min(r.N-j, it.n()-c.off)
			}
			if !it.deleted() {
				s.markDeleted(c, k)
			}
			j += k
		}
	}
	s.tidy(false)
	return err
}

// CanDelete reports whether the sequence holds every element of ranges.
func (s *Seq[T]) CanDelete(ranges []Range) bool {
	for _, r := range ranges {
		for j := 0; j < r.N; {
			c, ok := s.locateID(r.At(j))
			if !ok {
				return false
			}
			it := c.item()
			k := 1
			if r.Counter == (it.nf&flagCounter != 0) || r.N-j == 1 {
				k = min(r.N-j, it.n()-c.off)
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
			id := s.ext(it.id)
			if it.nf&flagCounter == 0 {
				if observed(id.Node, id.Counter) {
					dst = append(dst, s.rangeOf(it, 0, it.n()))
				}
				continue
			}
			from := -1
			for j := 0; j <= it.n(); j++ {
				ok := j < it.n() && observed(id.Node, id.Counter+uint64(j))
				switch {
				case ok && from < 0:
					from = j
				case !ok && from >= 0:
					dst = append(dst, s.rangeOf(it, from, j-from))
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
			run := s.content(it)
			n := it.n()
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
		if !it.deleted() && !fn(s.rangeOf(it, c.off, it.n()-c.off)) {
			return
		}
		c.nextItem()
	}
}

// digestInsert adds a new run's elements (IDs and origins) to the digest.
func (s *Seq[T]) digestInsert(it *item) {
	rh := s.ext(it.right).hash() * 0x94d049bb133111eb
	id := s.ext(it.id)
	left := s.ext(it.left)
	counter := it.nf&flagCounter != 0
	for i := 0; i < it.n(); i++ {
		e := id
		if counter {
			e.Counter += uint64(i)
		} else {
			e.Offset += uint64(i)
		}
		s.digest += mix64(e.hash() ^ (left.hash()*0xff51afd7ed558ccd + rh))
		left = e
	}
}

// digestTombstone adds a run's deletion to the digest.
func (s *Seq[T]) digestTombstone(it *item) {
	id := s.ext(it.id)
	counter := it.nf&flagCounter != 0
	for i := 0; i < it.n(); i++ {
		e := id
		if counter {
			e.Counter += uint64(i)
		} else {
			e.Offset += uint64(i)
		}
		s.digest += mix64(e.hash() ^ 0xdeadbeefcafef00d)
	}
}

// digestContentOf adds (sign 1) or subtracts (sign -1 as ^0) the content
// terms of run it holding content c.
func (s *Seq[T]) digestContentOf(it *item, c T, sign uint64) {
	s.hashes = c.AppendHashes(s.hashes[:0], it.n())
	id := s.ext(it.id)
	counter := it.nf&flagCounter != 0
	for i, h := range s.hashes {
		e := id
		if counter {
			e.Counter += uint64(i)
		} else {
			e.Offset += uint64(i)
		}
		s.digest += sign * mix64(e.hash()^h)
	}
}

// ScanAll calls fn with the IDs of every element, tombstones included, a
// run at a time, until fn returns false.
func (s *Seq[T]) ScanAll(fn func(r Range) bool) {
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			if !fn(s.rangeOf(&l.items[i], 0, l.items[i].n())) {
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
