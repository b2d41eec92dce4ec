package seq

import "slices"

// The position index: a B+tree of runs. Leaves hold items in sequence
// order and are linked both ways; inner nodes hold leaves (height 1) or
// inner nodes, and every node counts the visible and total elements below
// it, so a visible position is found by one descent and a node's global
// position by one climb. Leaves may exceed maxLeafItems during one
// operation (splits of runs); every public operation ends with fix, which
// splits them, so the bound holds between operations.

const (
	// maxLeafItems bounds the runs of one leaf between operations; a
	// fuller leaf is split in two halves.
	maxLeafItems = 64
	// maxChildren bounds the children of an inner node; a fuller node is
	// split in two halves.
	maxChildren = 32
	// leafSlack is the spare room of a leaf's array when it is made (by a
	// split or a load) and what a full array grows by, in runs (64 runs
	// of 48 bytes: 3 KB, a few cache lines' worth of slack at most).
	leafSlack = 4
	// maxLeafCap bounds the growth of a leaf's array, in runs: the most
	// a leaf holds during one operation (maxLeafItems, then a run split
	// and an insertion before fix splits the leaf). Growing by doubling
	// instead left about a third of the arrays' room unused in a
	// finished document. A leaf that must hold more (not expected) grows
	// by one.
	maxLeafCap = maxLeafItems + 2
)

// insertItem inserts it at index i of items, growing the array by
// leafSlack runs, at most to maxLeafCap, rounded up to the allocator's
// size class.
func insertItem(items []item, i int, it item) []item {
	if len(items) == cap(items) {
		// slices.Grow of a nil slice rounds the capacity up to the
		// allocator's size class: room the allocation has anyway.
		items = append(slices.Grow([]item(nil), max(len(items)+1, min(len(items)+leafSlack, maxLeafCap))), items...)
	}
	return slices.Insert(items, i, it)
}

const (
	flagDeleted uint32 = 1 << 0 // a tombstone: no content
	flagCounter uint32 = 1 << 1 // elements step the counter (offset 0), not the offset
	flagSole    uint32 = 1 << 2 // every element is its transaction's only one in this sequence
	flagBits           = 3
	flagMask    uint32 = 1<<flagBits - 1

	// MaxRunElements bounds the elements of one run (item): runs that
	// would grow beyond it by merging stay two runs (the canonical state
	// coalesces by the same rule), and a decoded state or an insertion
	// with a longer run is refused (ErrInvalid).
	MaxRunElements = 1<<(32-flagBits) - 1
)

// xid is an element ID inside one sequence: an index into the sequence's
// node table (which holds the node and the counter's high 32 bits; slot 0
// is the zero ID), the counter's low 32 bits and the offset. Twelve bytes
// instead of an ID's 24 keep an item at 48 bytes.
type xid struct {
	slot uint32
	ctr  uint32
	off  uint32
}

func (x xid) isZero() bool { return x.slot == 0 }

// less orders xids by (slot, counter, offset): the order of the ID index,
// in which every run's elements form an interval.
func (x xid) less(o xid) bool {
	if x.slot != o.slot {
		return x.slot < o.slot
	}
	if x.ctr != o.ctr {
		return x.ctr < o.ctr
	}
	return x.off < o.off
}

// item is a run: n consecutive elements with the same origin right, the
// i-th (i > 0) having the (i-1)-th as origin left. Its content (visible
// runs only) is units [cs, cs+cl) of the sequence's arena. 48 bytes.
type item struct {
	id    xid    // first element
	left  xid    // origin left of the first element
	right xid    // origin right of every element
	nf    uint32 // n<<flagBits | flags
	cs    uint32 // content start in the arena (units)
	cl    uint32 // content length (units: bytes of text, list elements)
}

func (it *item) n() int        { return int(it.nf >> flagBits) }
func (it *item) setN(n int)    { it.nf = uint32(n)<<flagBits | it.nf&flagMask }
func (it *item) deleted() bool { return it.nf&flagDeleted != 0 }

// visible is the number of visible elements of the run.
func (it *item) visible() int {
	if it.deleted() {
		return 0
	}
	return it.n()
}

// elem returns the i-th element's ID.
func (it *item) elem(i int) xid {
	if it.nf&flagCounter != 0 {
		return xid{slot: it.id.slot, ctr: it.id.ctr + uint32(i)}
	}
	return xid{slot: it.id.slot, ctr: it.id.ctr, off: it.id.off + uint32(i)}
}

func (it *item) last() xid { return it.elem(it.n() - 1) }

// originLeft returns the i-th element's origin left.
func (it *item) originLeft(i int) xid {
	if i == 0 {
		return it.left
	}
	return it.elem(i - 1)
}

// find returns the index of id in the run, or -1.
func (it *item) find(id xid) int {
	if id.slot != it.id.slot {
		return -1
	}
	n := uint32(it.n())
	if it.nf&flagCounter != 0 {
		if id.off != 0 || id.ctr < it.id.ctr || id.ctr-it.id.ctr >= n {
			return -1
		}
		return int(id.ctr - it.id.ctr)
	}
	if id.ctr != it.id.ctr || id.off < it.id.off || id.off-it.id.off >= n {
		return -1
	}
	return int(id.off - it.id.off)
}

// mergeable reports whether b can extend a (b directly after a in the
// sequence): same node slot, same state, b's first origin left a's last
// element, same origin right, IDs that continue a's step, and at most
// MaxRunElements together.
func mergeable(a, b *item) bool {
	if a.id.slot != b.id.slot || a.right != b.right || (a.nf^b.nf)&flagDeleted != 0 || b.left != a.last() || a.n()+b.n() > MaxRunElements {
		return false
	}
	aCounter := a.nf&flagCounter != 0 || (a.n() == 1 && a.nf&flagSole != 0)
	bCounter := b.nf&flagCounter != 0 || (b.n() == 1 && b.nf&flagSole != 0)
	if aCounter && bCounter && b.id.off == 0 && a.id.off == 0 && uint64(b.id.ctr) == uint64(a.id.ctr)+uint64(a.n()) {
		return true
	}
	aOffset := a.nf&flagCounter == 0
	bOffset := b.nf&flagCounter == 0
	return aOffset && bOffset && b.id.ctr == a.id.ctr && uint64(b.id.off) == uint64(a.id.off)+uint64(a.n())
}

// merge appends b to a (mergeable(a, b) holds), moving content into the
// arena as needed.
func (s *Seq[T]) merge(a, b *item) {
	if a.id.ctr != b.id.ctr {
		a.nf |= flagCounter | flagSole
	} else {
		a.nf &^= flagSole // an offset run of two or more elements is no transaction's only one
	}
	if !a.deleted() {
		s.joinContent(a, b)
	}
	a.setN(a.n() + b.n())
}

type leaf[T Content[T]] struct {
	parent     *inner[T]
	prev, next *leaf[T]
	items      []item
	vis, total int
	idx        uint32 // in Seq.leaves
}

type inner[T Content[T]] struct {
	parent     *inner[T]
	leaves     []*leaf[T]  // children at height 1
	kids       []*inner[T] // children above
	vis, total int
}

func (n *inner[T]) children() int { return len(n.leaves) + len(n.kids) }

// cursor is a place in the sequence: before element off of run i of leaf
// l. i == len(l.items) only on the last leaf (the end).
type cursor[T Content[T]] struct {
	l   *leaf[T]
	i   int
	off int
}

func (c *cursor[T]) atEnd() bool { return c.i >= len(c.l.items) }

func (c *cursor[T]) item() *item { return &c.l.items[c.i] }

// normalize moves a cursor at the end of a leaf to the next leaf's start.
func (c *cursor[T]) normalize() {
	for c.i >= len(c.l.items) && c.l.next != nil {
		c.l, c.i, c.off = c.l.next, 0, 0
	}
}

// nextItem moves to the start of the next run.
func (c *cursor[T]) nextItem() {
	c.i++
	c.off = 0
	c.normalize()
}

// adjust adds visible and total element deltas to l and its ancestors.
func adjust[T Content[T]](l *leaf[T], dv, dt int) {
	l.vis += dv
	l.total += dt
	for p := l.parent; p != nil; p = p.parent {
		p.vis += dv
		p.total += dt
	}
}

// findVisible returns the place of the element at visible position pos
// (0 ≤ pos < visible length).
func (s *Seq[T]) findVisible(pos int) cursor[T] {
	n := s.root
	for {
		if n.leaves != nil {
			for _, l := range n.leaves {
				if pos < l.vis {
					for i := range l.items {
						v := l.items[i].visible()
						if pos < v {
							return cursor[T]{l: l, i: i, off: pos}
						}
						pos -= v
					}
				}
				pos -= l.vis
			}
			panic("seq: visible position beyond the counts")
		}
		found := false
		for _, k := range n.kids {
			if pos < k.vis {
				n, found = k, true
				break
			}
			pos -= k.vis
		}
		if !found {
			panic("seq: visible position beyond the counts")
		}
	}
}

// position returns the global position (tombstones counted) of the place
// c points to.
func (s *Seq[T]) position(c cursor[T]) int { return s.countBefore(c, false) }

// countBefore counts the elements before the place c points to: the
// visible ones (tombstones skipped) or all of them. It walks from c's leaf
// to the root, adding the counts of the runs, leaves and subtrees to the
// left of the path.
func (s *Seq[T]) countBefore(c cursor[T], visible bool) int {
	p := 0
	if !visible || (!c.atEnd() && !c.item().deleted()) {
		p = c.off
	}
	for i := 0; i < c.i; i++ {
		if visible {
			p += c.l.items[i].visible()
		} else {
			p += c.l.items[i].n()
		}
	}
	var child any = c.l
	for n := c.l.parent; n != nil; n = n.parent {
		if n.leaves != nil {
			for _, l := range n.leaves {
				if any(l) == child {
					break
				}
				p += pick(visible, l.vis, l.total)
			}
		} else {
			for _, k := range n.kids {
				if any(k) == child {
					break
				}
				p += pick(visible, k.vis, k.total)
			}
		}
		child = n
	}
	return p
}

// pick returns vis when visible, else total.
func pick(visible bool, vis, total int) int {
	if visible {
		return vis
	}
	return total
}

// fix splits l if it holds more than maxLeafItems runs and returns where
// run i of l lives afterwards.
func (s *Seq[T]) fix(l *leaf[T], i int) (*leaf[T], int) {
	if len(l.items) <= maxLeafItems {
		return l, i
	}
	// Both halves get arrays sized to what they hold, so a document's
	// leaves are not half empty; the half that holds run i (where the
	// document is being edited) gets leafSlack more, the other none
	// (a later insertion grows it as usual).
	half := len(l.items) / 2
	lslack, rslack := leafSlack, 0
	if i >= half {
		lslack, rslack = 0, leafSlack
	}
	r := s.newLeaf(0)
	r.items = append(slices.Grow([]item(nil), len(l.items)-half+rslack), l.items[half:]...)
	r.parent, r.prev, r.next = l.parent, l, l.next
	l.items = append(slices.Grow([]item(nil), half+lslack), l.items[:half]...)
	for j := range r.items {
		it := &r.items[j]
		r.vis += it.visible()
		r.total += it.n()
		s.indexMove(it.id, r)
	}
	l.vis -= r.vis
	l.total -= r.total
	if l.next != nil {
		l.next.prev = r
	}
	l.next = r
	p := l.parent
	at := slices.Index(p.leaves, l)
	p.leaves = slices.Insert(p.leaves, at+1, r)
	s.fixInner(p)
	if i >= half {
		return r, i - half
	}
	return l, i
}

// fixInner splits n if it has more than maxChildren children, upwards.
func (s *Seq[T]) fixInner(n *inner[T]) {
	for n.children() > maxChildren {
		q := &inner[T]{parent: n.parent}
		if n.leaves != nil {
			half := len(n.leaves) / 2
			q.leaves = slices.Clone(n.leaves[half:])
			clear(n.leaves[half:])
			n.leaves = n.leaves[:half]
			for _, l := range q.leaves {
				l.parent = q
				q.vis += l.vis
				q.total += l.total
			}
		} else {
			half := len(n.kids) / 2
			q.kids = slices.Clone(n.kids[half:])
			clear(n.kids[half:])
			n.kids = n.kids[:half]
			for _, k := range q.kids {
				k.parent = q
				q.vis += k.vis
				q.total += k.total
			}
		}
		n.vis -= q.vis
		n.total -= q.total
		if n.parent == nil {
			root := &inner[T]{kids: []*inner[T]{n, q}, vis: n.vis + q.vis, total: n.total + q.total}
			n.parent, q.parent = root, root
			s.root = root
			return
		}
		p := n.parent
		at := slices.Index(p.kids, n)
		p.kids = slices.Insert(p.kids, at+1, q)
		n = p
	}
}

// splitItem splits run i of l before its element off (0 < off < n); the
// right part becomes run i+1. Counts do not change; content stays where
// it is in the arena.
func (s *Seq[T]) splitItem(l *leaf[T], i, off int) {
	it := &l.items[i]
	right := s.cutItem(it, off)
	l.items = insertItem(l.items, i+1, right)
	s.indexAdd(right.id, l)
}

// cutItem shortens it to its first off elements (0 < off < n) and
// returns the rest as a run of its own.
func (s *Seq[T]) cutItem(it *item, off int) item {
	n := it.n()
	right := item{id: it.elem(off), left: it.elem(off - 1), right: it.right, nf: uint32(n-off)<<flagBits | it.nf&flagMask}
	if !it.deleted() {
		u := uint32(s.content(it).unitsBefore(n, off))
		right.cs, right.cl = it.cs+u, it.cl-u
		it.cl = u
	}
	it.setN(off)
	// Both parts keep the run's flags (a part of a counter run is sole
	// too); a one-element part steps nothing.
	if off == 1 {
		it.nf &^= flagCounter
	}
	if n-off == 1 {
		right.nf &^= flagCounter
	}
	return right
}
