package seq

import (
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/spooksystems/spook/internal/codec"
)

// Encodings. Integers are minimal uvarints (internal/codec); a decoder
// refuses a longer spelling, so each value has one encoding.
//
// Reference to an element (Ref), relative to a base (node, counter), the
// transaction's dot in an operation or the run's first ID in a state:
//
//	0                      no element (an end of the sequence)
//	x<<2 | 1, offset ≥ 1   node = base node, counter = base counter − x
//	2, node, ctr, offset   any element (node IDs are 64-bit hashes: they
//	                       get a varint of their own)
//	x<<2 | 3               node = base node, counter = base counter − x, offset 0
//
// Kinds 1 and 3 are used exactly when the node is the base's, the counter
// at most the base's and x below 2^61 (so x<<2 fits); kind 2 otherwise.
//
// Insertion (AppendInsert; its first ID is implicit: the transaction's
// dot and the count of elements its earlier insertions into the same
// sequence made):
//
//	left       Ref
//	right      Ref
//	content    text: byte length ≥ 1 then UTF-8 bytes (the element count
//	           is the number of code points); list: count ≥ 1 then each
//	           element's bytes
//
// Deletion (AppendRanges): count ≥ 1, then per range: first element (Ref,
// never 0), n<<1 | counter-step (n ≥ 1; counter-step only when n ≥ 2).
//
// State (AppendState): count of runs, then per run, in sequence order,
// runs coalesced maximally (no run could extend the one before):
//
//	header     n<<3 | flags (1 deleted, 2 counter-step, 4 sole)
//	id         node ≥ 1, counter ≥ 1, offset
//	left       Ref relative to id
//	right      Ref relative to id
//	content    unless deleted: text: byte length then UTF-8 bytes with n
//	           code points; list: n elements' bytes
//
// The sole flag marks a one-element run with offset 0 whose transaction
// inserted nothing else here, and every counter-stepping run.

// Limits of the decoders.
const (
	// MaxRuns bounds the runs of one decoded sequence; a larger state is
	// refused (ErrInvalid wrapping codec.ErrTooLong).
	MaxRuns = 1 << 26
	// MaxRanges bounds the ranges of one decoded deletion.
	MaxRanges = 1 << 20
)

// Limits bounds the content a decoder accepts: MaxElementBytes one list
// element, MaxContentBytes the content of one insertion or one run.
type Limits struct {
	MaxElementBytes int
	MaxContentBytes int
}

// AppendRef appends a reference to id relative to base (node, counter).
func AppendRef(dst []byte, id ID, node, counter uint64) []byte {
	if id.IsZero() {
		return append(dst, 0)
	}
	if relative(id, node, counter) {
		if id.Offset == 0 {
			return codec.AppendUvarint(dst, (counter-id.Counter)<<2|3)
		}
		dst = codec.AppendUvarint(dst, (counter-id.Counter)<<2|1)
		return codec.AppendUvarint(dst, id.Offset)
	}
	dst = append(dst, 2)
	dst = codec.AppendUvarint(dst, id.Node)
	dst = codec.AppendUvarint(dst, id.Counter)
	return codec.AppendUvarint(dst, id.Offset)
}

// relative reports whether id is written relative to the base.
func relative(id ID, node, counter uint64) bool {
	return id.Node == node && id.Counter <= counter && counter-id.Counter < 1<<61
}

// DecodeRef reads a reference written by AppendRef with the same base.
func DecodeRef(r *codec.Reader, node, counter uint64) ID {
	h := Uvarint(r, "element reference")
	if r.Err() != nil || h == 0 {
		return ID{}
	}
	x := h >> 2
	switch h & 3 {
	case 1, 3:
		if x >= counter {
			r.Fail("element reference: counter below 1", ErrInvalid)
			return ID{}
		}
		id := ID{Node: node, Counter: counter - x}
		if h&3 == 1 {
			id.Offset = Uvarint(r, "element offset")
			if r.Err() == nil && id.Offset == 0 {
				r.Fail("element reference: not canonical", ErrInvalid)
			}
		}
		return id
	case 2:
		if x != 0 {
			break
		}
		id := ID{Node: Uvarint(r, "element node"), Counter: Uvarint(r, "element counter"), Offset: Uvarint(r, "element offset")}
		if r.Err() == nil && (id.Node == 0 || id.Counter == 0 || relative(id, node, counter)) {
			r.Fail("element reference: not canonical", ErrInvalid)
		}
		return id
	}
	r.Fail("element reference kind", ErrInvalid)
	return ID{}
}

// AppendInsert appends op relative to its transaction's dot (node,
// counter).
func AppendInsert[T Content[T]](dst []byte, op *Insert[T], node, counter uint64) []byte {
	dst = AppendRef(dst, op.Left, node, counter)
	dst = AppendRef(dst, op.Right, node, counter)
	return appendContent(dst, op.Content, false)
}

// DecodeInsert reads an insertion written by AppendInsert by the
// transaction (node, counter) whose earlier insertions made offset
// elements; sole is left for the caller to set.
func DecodeInsert[T Content[T]](r *codec.Reader, node, counter, offset uint64, lim Limits) Insert[T] {
	op := Insert[T]{ID: ID{Node: node, Counter: counter, Offset: offset}}
	op.Left = DecodeRef(r, node, counter)
	op.Right = DecodeRef(r, node, counter)
	op.Content, op.N = decodeContent[T](r, -1, lim)
	return op
}

func appendContent[T Content[T]](dst []byte, c T, state bool) []byte {
	switch v := any(c).(type) {
	case Text:
		return codec.AppendBytes(dst, v)
	case Values:
		if !state {
			dst = codec.AppendUvarint(dst, uint64(len(v)))
		}
		for _, e := range v {
			dst = codec.AppendBytes(dst, e)
		}
	}
	return dst
}

// decodeContent reads content of n elements (n < 0: the count is in the
// input) and returns it with its element count. The content aliases r's
// input.
func decodeContent[T Content[T]](r *codec.Reader, n int, lim Limits) (T, int) {
	var zero T
	switch any(zero).(type) {
	case Text:
		b := Bytes(r, "text", lim.MaxContentBytes)
		if r.Err() != nil {
			return zero, 0
		}
		if !utf8.Valid(b) {
			r.Fail("text: invalid UTF-8", ErrInvalid)
			return zero, 0
		}
		count := utf8.RuneCount(b)
		if count == 0 || (n >= 0 && count != n) {
			r.Fail("text: code point count", ErrInvalid)
			return zero, 0
		}
		return any(Text(b)).(T), count
	case Values:
		if n < 0 {
			n = Count(r, "list elements", lim.MaxContentBytes, 1)
			if r.Err() == nil && n == 0 {
				r.Fail("list elements: none", ErrInvalid)
			}
		} else if n > r.Len() {
			r.Fail("list elements", codec.ErrTruncated)
		}
		if r.Err() != nil {
			return zero, 0
		}
		vs := make(Values, n)
		total := 0
		for i := range vs {
			vs[i] = Bytes(r, "list element", lim.MaxElementBytes)
			total += len(vs[i])
			if r.Err() == nil && total > lim.MaxContentBytes {
				r.Fail("list elements", codec.ErrTooLong)
			}
			if r.Err() != nil {
				return zero, 0
			}
		}
		return any(vs).(T), n
	}
	panic("seq: unknown content type")
}

// AppendRanges appends a deletion relative to its transaction's dot.
func AppendRanges(dst []byte, ranges []Range, node, counter uint64) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(ranges)))
	for _, rg := range ranges {
		dst = AppendRef(dst, rg.ID, node, counter)
		var step uint64
		if rg.Counter && rg.N > 1 {
			step = 1
		}
		dst = codec.AppendUvarint(dst, uint64(rg.N)<<1|step)
	}
	return dst
}

// DecodeRanges reads a deletion written by AppendRanges. maxElements
// bounds the elements it names.
func DecodeRanges(r *codec.Reader, node, counter uint64, maxElements int) []Range {
	return AppendDecodedRanges(nil, r, node, counter, maxElements)
}

// AppendDecodedRanges is DecodeRanges appending to dst (nil on error):
// a replay reuses one slice.
func AppendDecodedRanges(dst []Range, r *codec.Reader, node, counter uint64, maxElements int) []Range {
	n := Count(r, "ranges", MaxRanges, 2)
	if r.Err() == nil && n == 0 {
		r.Fail("ranges: none", ErrInvalid)
	}
	if r.Err() != nil {
		return nil
	}
	out := dst
	if out == nil {
		out = make([]Range, 0, n)
	}
	total := 0
	for i := 0; i < n; i++ {
		id := DecodeRef(r, node, counter)
		h := Uvarint(r, "range length")
		if r.Err() != nil {
			return nil
		}
		rg := Range{ID: id, N: int(h >> 1), Counter: h&1 == 1}
		if id.IsZero() || rg.N < 1 || h>>1 > uint64(maxElements) || (rg.Counter && (rg.N < 2 || id.Offset != 0)) {
			r.Fail("range", ErrInvalid)
			return nil
		}
		total += rg.N
		if total > maxElements {
			r.Fail("ranges", codec.ErrTooLong)
			return nil
		}
		out = append(out, rg)
	}
	return out
}

// AppendState appends the canonical encoding of s.
func (s *Seq[T]) AppendState(dst []byte) []byte {
	runs := s.coalesced()
	dst = codec.AppendUvarint(dst, uint64(len(runs)))
	for i := range runs {
		it := &runs[i].item
		id := s.ext(it.id)
		dst = codec.AppendUvarint(dst, uint64(it.n())<<3|uint64(it.nf&flagMask))
		dst = codec.AppendUvarint(dst, id.Node)
		dst = codec.AppendUvarint(dst, id.Counter)
		dst = codec.AppendUvarint(dst, id.Offset)
		dst = AppendRef(dst, s.ext(it.left), id.Node, id.Counter)
		dst = AppendRef(dst, s.ext(it.right), id.Node, id.Counter)
		if !it.deleted() {
			dst = appendContent(dst, runs[i].content, true)
		}
	}
	return dst
}

// crun is a canonical run: an item of s, merged maximally with the runs
// after it, and its content.
type crun[T Content[T]] struct {
	item    item
	content T
}

// coalesced returns the runs of s merged maximally: the canonical runs.
// Merged content is copied; the rest aliases s.
func (s *Seq[T]) coalesced() []crun[T] {
	out := make([]crun[T], 0, s.index.Len())
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			it := l.items[i]
			var c T
			if !it.deleted() {
				c = s.content(&it)
			}
			if k := len(out) - 1; k >= 0 && mergeable(&out[k].item, &it) {
				o := &out[k]
				if !it.deleted() {
					o.content = o.content.units(0, o.content.unitLen()).Append(c) // a copy on append (cap-limited)
				}
				if o.item.id.ctr != it.id.ctr {
					o.item.nf |= flagCounter | flagSole
				} else {
					o.item.nf &^= flagSole
				}
				o.item.setN(o.item.n() + it.n())
				continue
			}
			out = append(out, crun[T]{item: it, content: c})
		}
	}
	return out
}

// DecodeState reads a sequence written by AppendState. The sequence
// copies the content. It refuses non-canonical input: runs that could be
// coalesced, duplicate IDs, origins the state does not hold, flags that
// do not fit, runs beyond MaxRunElements, offsets beyond 2^32.
func DecodeState[T Content[T]](r *codec.Reader, lim Limits) (*Seq[T], error) {
	// A run is at least a header, an ID of three bytes and two origins.
	n := Count(r, "runs", MaxRuns, 6)
	if r.Err() != nil {
		return nil, r.Err()
	}
	s := New[T]()
	items := make([]item, 0, n)
	for i := 0; i < n; i++ {
		h := Uvarint(r, "run header")
		flags := uint32(h & 7)
		id := ID{Node: Uvarint(r, "run node"), Counter: Uvarint(r, "run counter"), Offset: Uvarint(r, "run offset")}
		left := DecodeRef(r, id.Node, id.Counter)
		right := DecodeRef(r, id.Node, id.Counter)
		if r.Err() != nil {
			return nil, r.Err()
		}
		size := h >> 3
		if size == 0 || size > uint64(lim.MaxContentBytes) || size > MaxRunElements || id.Node == 0 || id.Counter == 0 ||
			id.Offset+size > 1<<32 || left.Offset >= 1<<32 || right.Offset >= 1<<32 {
			r.Fail("run", ErrInvalid)
			return nil, r.Err()
		}
		it := item{nf: uint32(size)<<flagBits | flags, id: s.newXid(id)}
		if !left.IsZero() {
			it.left = s.newXid(left)
		}
		if !right.IsZero() {
			it.right = s.newXid(right)
		}
		counter := flags&flagCounter != 0
		sole := flags&flagSole != 0
		if (counter && (size < 2 || !sole || id.Offset != 0 || (id.Counter&(1<<32-1))+size > 1<<32)) || (!counter && sole && (size != 1 || id.Offset != 0)) {
			r.Fail("run flags", ErrInvalid)
			return nil, r.Err()
		}
		if !it.deleted() {
			c, _ := decodeContent[T](r, int(size), lim)
			if r.Err() != nil {
				return nil, r.Err()
			}
			if s.arena.unitLen()+c.unitLen() > MaxArenaUnits {
				r.Fail("runs: content", ErrInvalid)
				return nil, r.Err()
			}
			it.cs, it.cl = s.addContent(c)
		}
		if k := len(items) - 1; k >= 0 && mergeable(&items[k], &it) {
			r.Fail("runs: not coalesced", ErrInvalid)
			return nil, r.Err()
		}
		items = append(items, it)
	}
	if err := s.load(items); err != nil {
		r.Fail("runs", err)
		return nil, r.Err()
	}
	return s, nil
}

// load fills s, whose node table and arena already hold what they
// name, with runs in sequence order, checking that IDs are unique and
// origins present, and computes the digest.
func (s *Seq[T]) load(items []item) error {
	const fill = maxLeafItems * 7 / 8
	s.leaves = s.leaves[:0]
	var leaves []*leaf[T]
	for len(items) > 0 || len(leaves) == 0 {
		k := min(fill, len(items))
		l := s.newLeaf(k)
		copy(l.items, items[:k])
		items = items[k:]
		for i := range l.items {
			it := &l.items[i]
			l.vis += it.visible()
			l.total += it.n()
			s.indexAdd(it.id, l)
		}
		if n := len(leaves); n > 0 {
			leaves[n-1].next = l
			l.prev = leaves[n-1]
		}
		leaves = append(leaves, l)
	}
	s.first = leaves[0]
	// Inner levels.
	var level []*inner[T]
	for i := 0; i < len(leaves); i += maxChildren * 3 / 4 {
		n := &inner[T]{leaves: leaves[i:min(len(leaves), i+maxChildren*3/4):min(len(leaves), i+maxChildren*3/4)]}
		for _, l := range n.leaves {
			l.parent = n
			n.vis += l.vis
			n.total += l.total
		}
		level = append(level, n)
	}
	for len(level) > 1 {
		var up []*inner[T]
		for i := 0; i < len(level); i += maxChildren * 3 / 4 {
			end := min(len(level), i+maxChildren*3/4)
			n := &inner[T]{kids: level[i:end:end]}
			for _, k := range n.kids {
				k.parent = n
				n.vis += k.vis
				n.total += k.total
			}
			up = append(up, n)
		}
		level = up
	}
	s.root = level[0]
	// IDs must be unique: in ID order, each run ends before the next
	// begins (a counter run's span excludes other offsets of its
	// counters, so it too is an interval of the order).
	var prev *item
	dup := false
	s.index.scan(func(id xid) bool {
		c, _ := s.locate(id)
		it := c.item()
		if prev != nil && !prev.last().less(it.id) {
			dup = true
			return false
		}
		prev = it
		return true
	})
	if dup || s.index.Len() != s.countRuns() {
		return fmt.Errorf("%w: duplicate element", ErrInvalid)
	}
	// Origins must be present (an element's origins exist before it) and
	// on the right sides of the run.
	for l := s.first; l != nil; l = l.next {
		for i := range l.items {
			it := &l.items[i]
			s.digestInsert(it)
			last := s.ext(it.last())
			s.noteCounter(last.Node, last.Counter)
			if it.deleted() {
				s.digestTombstone(it)
			} else {
				s.digestContentOf(it, s.content(it), 1)
			}
			here := s.position(cursor[T]{l: l, i: i})
			if !it.left.isZero() {
				c, ok := s.locate(it.left)
				if !ok || s.position(c) >= here {
					return fmt.Errorf("%w: origin left", ErrInvalid)
				}
			}
			if !it.right.isZero() {
				c, ok := s.locate(it.right)
				if !ok || s.position(c) < here+it.n() {
					return fmt.Errorf("%w: origin right", ErrInvalid)
				}
			}
		}
	}
	return nil
}

func (s *Seq[T]) countRuns() int {
	n := 0
	for l := s.first; l != nil; l = l.next {
		n += len(l.items)
	}
	return n
}

// Clone returns a deep copy of s sharing no mutable storage (the arena
// below its length is never written, so the copy shares it, cap-limited).
func (s *Seq[T]) Clone() *Seq[T] {
	items := make([]item, 0, s.index.Len())
	for l := s.first; l != nil; l = l.next {
		items = append(items, l.items...)
	}
	c := New[T]()
	c.slots = slices.Clone(s.slots)
	c.slotOf = maps.Clone(s.slotOf)
	c.arena = s.arena.units(0, s.arena.unitLen())
	c.garbage = s.garbage
	if err := c.load(items); err != nil {
		panic("seq: clone of a consistent sequence failed: " + err.Error())
	}
	return c
}

// Uvarint reads a minimal uvarint (what a canonical encoding holds).
func Uvarint(r *codec.Reader, what string) uint64 {
	start := r.Offset()
	v := r.Uvarint(what)
	if r.Err() == nil && r.Offset()-start != codec.UvarintLen(v) {
		r.Fail(what+": non-minimal encoding", ErrInvalid)
	}
	return v
}

// Count reads a minimal element count (codec.Reader.Count).
func Count(r *codec.Reader, what string, max, minBytes int) int {
	start := r.Offset()
	n := r.Count(what, max, minBytes)
	if r.Err() == nil && r.Offset()-start != codec.UvarintLen(uint64(n)) {
		r.Fail(what+": non-minimal encoding", ErrInvalid)
	}
	return n
}

// Bytes reads a length-prefixed byte string with a minimal length.
func Bytes(r *codec.Reader, what string, max int) []byte {
	start := r.Offset()
	b := r.Bytes(what, max)
	if r.Err() == nil && r.Offset()-start != codec.UvarintLen(uint64(len(b)))+len(b) {
		r.Fail(what+": non-minimal encoding", ErrInvalid)
	}
	return b
}
