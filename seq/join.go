package seq

// piece is a part of a run of another sequence that s lacks.
type piece[T Content[T]] struct {
	op      Insert[T]
	deleted bool
	state   uint8 // 0 pending, 1 on the stack, 2 integrated
}

// Join merges other into s, the lattice join of two states: elements s
// lacks are integrated (each after its origins), deletions are united,
// and an element of s that other lacks although seen(node, counter) says
// other has seen its transaction is deleted (other compacted it away as a
// tombstone). other is not changed; s copies nothing from it but content
// slices, which it never writes below their length. It returns ErrMissing
// if other names origins neither state holds (a malformed state); what it
// could integrate stays integrated.
func (s *Seq[T]) Join(other *Seq[T], seen func(node, counter uint64) bool) error {
	if seen != nil {
		var gone []Range
		s.ScanIDs(0, func(r Range) bool {
			for j := 0; j < r.N; j++ {
				id := r.At(j)
				if seen(id.Node, id.Counter) && !other.Has(id) {
					gone = append(gone, Range{ID: id, N: 1})
				}
			}
			return true
		})
		s.DeleteRanges(gone)
	}
	var pieces []piece[T]
	var deletions []Range
	type dot struct{ node, counter uint64 }
	pending := map[dot][]int{}
	for l := other.first; l != nil; l = l.next {
		for i := range l.items {
			it := &l.items[i]
			n := it.n()
			counter := it.nf&flagCounter != 0
			for j := 0; j < n; {
				c, ok := s.locateID(other.ext(it.elem(j)))
				if ok {
					k := 1
					mine := c.item()
					if mine.nf&flagCounter == it.nf&flagCounter {
						k = min(n-j, mine.n()-c.off)
					}
					if it.deleted() && !mine.deleted() {
						deletions = append(deletions, other.rangeOf(it, j, k))
					}
					j += k
					continue
				}
				k := 1
				for j+k < n && !s.Has(other.ext(it.elem(j+k))) {
					k++
				}
				var content T
				if !it.deleted() {
					content = other.content(it)
				}
				p := piece[T]{deleted: it.deleted()}
				p.op = Insert[T]{ID: other.ext(it.elem(j)), Left: other.ext(it.originLeft(j)), Right: other.ext(it.right), N: k, Sole: it.nf&flagSole != 0}
				if !it.deleted() {
					p.op.Content = content.Slice(n, j, j+k)
				}
				if counter && k > 1 {
					// A counter run's piece is integrated element by
					// element (an insertion steps offsets).
					for e := 0; e < k; e++ {
						q := p
						q.op = Insert[T]{ID: other.ext(it.elem(j + e)), Left: other.ext(it.originLeft(j + e)), Right: other.ext(it.right), N: 1, Sole: true}
						if !it.deleted() {
							q.op.Content = content.Slice(n, j+e, j+e+1)
						}
						pending[dot{q.op.ID.Node, q.op.ID.Counter}] = append(pending[dot{q.op.ID.Node, q.op.ID.Counter}], len(pieces))
						pieces = append(pieces, q)
					}
				} else {
					pending[dot{p.op.ID.Node, p.op.ID.Counter}] = append(pending[dot{p.op.ID.Node, p.op.ID.Counter}], len(pieces))
					pieces = append(pieces, p)
				}
				j += k
			}
		}
	}
	find := func(id ID) int {
		for _, q := range pending[dot{id.Node, id.Counter}] {
			op := &pieces[q].op
			if id.Offset >= op.ID.Offset && id.Offset < op.ID.Offset+uint64(op.N) {
				return q
			}
		}
		return -1
	}
	var err error
	var stack []int
	for p := range pieces {
		if pieces[p].state != 0 {
			continue
		}
		stack = append(stack[:0], p)
		pieces[p].state = 1
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			pc := &pieces[top]
			blocked := false
			for _, dep := range [2]ID{pc.op.Left, pc.op.Right} {
				if dep.IsZero() || s.Has(dep) {
					continue
				}
				q := find(dep)
				if q < 0 || pieces[q].state != 0 {
					continue // missing or a cycle: integrate reports it
				}
				pieces[q].state = 1
				stack = append(stack, q)
				blocked = true
				break
			}
			if blocked {
				continue
			}
			if e := s.integrate(pc.op, pc.deleted); e != nil {
				err = e
			}
			pc.state = 2
			stack = stack[:len(stack)-1]
		}
	}
	if e := s.DeleteRanges(deletions); e != nil && err == nil {
		err = e
	}
	return err
}
