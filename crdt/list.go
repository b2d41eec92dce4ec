package crdt

import (
	"slices"

	"github.com/spooksystems/spook/seq"
)

// Lists: Redis lists on the sequence CRDT (sequence.go). Positions are
// 0-based from the head; callers translate Redis's negative indexes.
// Every operation returns ErrWrongType on a key whose visible type is not
// a list (or nothing), ErrRange for a position outside the list, and
// ErrTooLarge for an element above MaxValueBytes; a failed operation
// changes nothing.

// listOp prepares a list operation on key: the key's pending operation
// and its list view, after the type check.
func (b *Builder) listOp(key []byte) (*keyBuild, bool, *seqBuild[seq.Values], error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return nil, false, nil, err
	}
	if err := b.typed(kb, TypeList); err != nil {
		return nil, false, nil, err
	}
	return kb, fresh, b.listBuild(kb), nil
}

// copyElements checks and copies values into the builder, in order, or
// reversed.
func (b *Builder) copyElements(values [][]byte, reversed bool) (seq.Values, error) {
	if b.ops+len(values)+1 > MaxTxnOps {
		return nil, ErrTxnTooBig
	}
	out := make(seq.Values, len(values))
	for i, v := range values {
		if len(v) > MaxValueBytes {
			return nil, ErrTooLarge
		}
		j := i
		if reversed {
			j = len(values) - 1 - i
		}
		out[j] = b.copy(v)
	}
	return out, nil
}

// ListInsert inserts values at position pos (0 ≤ pos ≤ length; pos =
// length appends) in the given order, and returns the new length. No
// values is a no-op. Concurrent insertions at one place keep each run
// whole (docs/semantics.md).
func (b *Builder) ListInsert(key []byte, pos int, values ...[]byte) (int, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return 0, err
	}
	if pos < 0 || pos > sb.n {
		return 0, ErrRange
	}
	if len(values) == 0 {
		return sb.n, nil
	}
	if sb.n+len(values) > MaxListLen {
		return 0, ErrTooLarge
	}
	content, err := b.copyElements(values, false)
	if err != nil {
		return 0, err
	}
	before := seqSlots(&kb.op)
	sb.insert(pos, len(content), content)
	b.ops += seqSlots(&kb.op) - before
	b.commit(kb, fresh)
	return sb.n, nil
}

// ListPush pushes values at the head (left, Redis LPUSH: each value in
// turn becomes the head, so the last ends first) or the tail (RPUSH), and
// returns the new length.
func (b *Builder) ListPush(key []byte, left bool, values ...[]byte) (int, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return 0, err
	}
	if len(values) == 0 {
		return sb.n, nil
	}
	if sb.n+len(values) > MaxListLen {
		return 0, ErrTooLarge
	}
	content, err := b.copyElements(values, left)
	if err != nil {
		return 0, err
	}
	pos := sb.n
	if left {
		pos = 0
	}
	before := seqSlots(&kb.op)
	sb.insert(pos, len(content), content)
	b.ops += seqSlots(&kb.op) - before
	b.commit(kb, fresh)
	return sb.n, nil
}

// listDelete records the deletion of the given position spans (planned
// against one view) and returns how many elements it deletes.
func (b *Builder) listDelete(kb *keyBuild, fresh bool, sb *seqBuild[seq.Values], spans ...[2]int) (int, error) {
	if b.ops+1 > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	before := seqSlots(&kb.op)
	n := sb.remove(spans...)
	if n > 0 {
		b.ops += seqSlots(&kb.op) - before
		b.commit(kb, fresh)
	}
	return n, nil
}

// ListDelete deletes the elements at positions [from, from+n) that exist
// and returns how many it deleted. A delete removes exactly the elements
// it names: an element inserted concurrently survives it, and two
// replicas deleting one element concurrently delete it once.
func (b *Builder) ListDelete(key []byte, from, n int) (int, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return 0, err
	}
	return b.listDelete(kb, fresh, sb, [2]int{from, from + n})
}

// ListRemove deletes the elements at the given positions (as the list
// stands before the call; duplicates count once) and returns how many it
// deleted: what LREM does with the positions of the matches. A position
// outside the list returns ErrRange.
func (b *Builder) ListRemove(key []byte, positions ...int) (int, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return 0, err
	}
	ps := slices.Clone(positions)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	var spans [][2]int
	for _, p := range ps {
		if p < 0 || p >= sb.n {
			return 0, ErrRange
		}
		if k := len(spans) - 1; k >= 0 && spans[k][1] == p {
			spans[k][1]++
			continue
		}
		spans = append(spans, [2]int{p, p + 1})
	}
	return b.listDelete(kb, fresh, sb, spans...)
}

// ListTrim keeps the elements at positions [from, to) and deletes the
// others (Redis LTRIM after index translation; from ≥ to empties the
// list). It returns how many it deleted.
func (b *Builder) ListTrim(key []byte, from, to int) (int, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return 0, err
	}
	if from >= to {
		return b.listDelete(kb, fresh, sb, [2]int{0, sb.n})
	}
	return b.listDelete(kb, fresh, sb, [2]int{0, from}, [2]int{to, sb.n})
}

// ListSet replaces the element at position pos with value (Redis LSET):
// the new element is inserted before the old one, which is deleted, so
// two concurrent LSETs of one position leave both values (in a
// deterministic order) rather than lose one.
func (b *Builder) ListSet(key []byte, pos int, value []byte) error {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return err
	}
	if pos < 0 || pos >= sb.n {
		return ErrRange
	}
	content, err := b.copyElements([][]byte{value}, false)
	if err != nil {
		return err
	}
	v := sb.view()
	old := v.PlanDelete(pos, 1, nil)
	before := seqSlots(&kb.op)
	sb.insert(pos, 1, content)
	op := sb.pending()
	op.steps = append(op.steps, seqStep[seq.Values]{ranges: old})
	if sb.work != nil {
		sb.work.DeleteRanges(old)
	}
	sb.n--
	b.ops += seqSlots(&kb.op) - before
	b.commit(kb, fresh)
	return nil
}

// ListPop deletes up to count elements from the head (left) or the tail
// and returns them in pop order (copies). Two replicas popping
// concurrently may both return one element; it is deleted once
// (docs/semantics.md).
func (b *Builder) ListPop(key []byte, left bool, count int) ([][]byte, error) {
	kb, fresh, sb, err := b.listOp(key)
	if err != nil {
		return nil, err
	}
	count = min(count, sb.n)
	if count <= 0 {
		return nil, nil
	}
	from := 0
	if !left {
		from = sb.n - count
	}
	out := make([][]byte, 0, count)
	sb.view().Scan(from, func(run seq.Values, n int) bool {
		for _, e := range run {
			if len(out) == count {
				return false
			}
			out = append(out, slices.Clone(e))
		}
		return len(out) < count
	})
	if !left {
		slices.Reverse(out)
	}
	if _, err := b.listDelete(kb, fresh, sb, [2]int{from, from + count}); err != nil {
		return nil, err
	}
	return out, nil
}

// ListLen is the number of elements of the list component (0 if none).
func (v *Value) ListLen() int {
	if s := v.listSeq(); s != nil {
		return s.Len()
	}
	return 0
}

// ListIndex returns the element at position pos (0-based from the head),
// or false if there is none. The slice aliases state.
func (v *Value) ListIndex(pos int) ([]byte, bool) {
	s := v.listSeq()
	if s == nil || pos < 0 || pos >= s.Len() {
		return nil, false
	}
	var out []byte
	s.Scan(pos, func(run seq.Values, n int) bool {
		out = run[0]
		return false
	})
	return out, true
}

// ListRange calls fn with each element at positions [from, to) (clamped
// to the list) in order, until fn returns false. O(log n + to − from).
// The slices alias state and must not be modified.
func (v *Value) ListRange(from, to int, fn func(pos int, elem []byte) bool) {
	s := v.listSeq()
	if s == nil {
		return
	}
	from, to = max(from, 0), min(to, s.Len())
	pos := from
	s.Scan(from, func(run seq.Values, n int) bool {
		for _, e := range run {
			if pos >= to || !fn(pos, e) {
				return false
			}
			pos++
		}
		return pos < to
	})
}

// List returns every element in order (a new slice of slices aliasing
// state).
func (v *Value) List() [][]byte {
	out := make([][]byte, 0, v.ListLen())
	v.ListRange(0, v.ListLen(), func(_ int, e []byte) bool {
		out = append(out, e)
		return true
	})
	return out
}
