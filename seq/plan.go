package seq

// PlanInsert returns the operation Insert(pos, id, n, content, sole)
// would make, without changing s: what a transaction builder records
// before the keyspace applies it.
func (s *Seq[T]) PlanInsert(pos int, id ID, n int, content T, sole bool) Insert[T] {
	op := Insert[T]{ID: id, N: n, Content: content, Sole: sole && n == 1 && id.Offset == 0}
	var c cursor[T]
	if pos == 0 {
		c = s.start()
	} else {
		c = s.findVisible(pos - 1)
		op.Left = s.ext(c.item().elem(c.off))
		c = after(c)
	}
	op.Right = s.ext(elemAt(c))
	return op
}

// PlanDelete returns the ranges Delete(pos, n, dst) would delete, without
// changing s.
func (s *Seq[T]) PlanDelete(pos, n int, dst []Range) []Range {
	s.ScanIDs(pos, func(r Range) bool {
		if r.N > n {
			r.N = n
			if n == 1 {
				r.Counter = false
			}
		}
		dst = append(dst, r)
		n -= r.N
		return n > 0
	})
	return dst
}
