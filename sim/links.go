package sim

import (
	"math"
	"slices"
)

// linkTable holds the directed links of a run, indexed from*n+to.
//
// Up to DenseReplicasMax nodes it is a dense n×n array visited whole every
// step: the layout and visiting order the default seeds have always had.
// Above, it holds only the links used so far (a link exists once a frame
// was sent on it) and a list of those with frames in flight, so a step
// costs what the traffic costs rather than n²; a partition is kept as its
// cut matrix, which links made later consult.
type linkTable struct {
	n      int
	dense  []link
	sparse map[int]*link
	// cut is the active partition's matrix (sparse tables only; nil
	// when none is active).
	cut []bool
	// active lists the indexes of sparse links that may have frames in
	// flight, each once (link.active marks membership).
	active []int
}

func newLinkTable(n int) *linkTable {
	t := &linkTable{n: n}
	if n <= DenseReplicasMax {
		t.dense = make([]link, n*n)
		for i := range t.dense {
			t.dense[i].from, t.dense[i].to = i/n, i%n
		}
		return t
	}
	t.sparse = map[int]*link{}
	return t
}

// get returns the link from → to, making it if it does not exist yet.
func (t *linkTable) get(from, to int) *link {
	i := from*t.n + to
	if t.dense != nil {
		return &t.dense[i]
	}
	l := t.sparse[i]
	if l == nil {
		l = &link{from: from, to: to, blocked: t.cut != nil && t.cut[i]}
		t.sparse[i] = l
	}
	return l
}

// find returns the link from → to, or nil if it was never used.
func (t *linkTable) find(from, to int) *link {
	if t.dense != nil {
		return &t.dense[from*t.n+to]
	}
	return t.sparse[from*t.n+to]
}

// pushed notes that l has a frame in flight.
func (t *linkTable) pushed(l *link) {
	if t.dense == nil && !l.active {
		l.active = true
		t.active = append(t.active, l.from*t.n+l.to)
	}
}

// due returns, for this step, the indexes of the links to visit for
// deliveries, starting at a rotating link so no link is always first:
// every link of a dense table, the active ones of a sparse table (in
// index order, rotated to start at step mod n²).
func (t *linkTable) due(step int, dst []int) []int {
	total := t.n * t.n
	start := step % total
	if t.dense != nil {
		for k := 0; k < total; k++ {
			dst = append(dst, (start+k)%total)
		}
		return dst
	}
	slices.Sort(t.active)
	at, _ := slices.BinarySearch(t.active, start)
	dst = append(dst, t.active[at:]...)
	dst = append(dst, t.active[:at]...)
	return dst
}

// settle drops from the active list the links with nothing in flight.
func (t *linkTable) settle() {
	kept := t.active[:0]
	for _, i := range t.active {
		if l := t.sparse[i]; l.pending() > 0 {
			kept = append(kept, i)
		} else {
			l.active = false
		}
	}
	t.active = kept
}

// each calls fn for every existing link, in index order.
func (t *linkTable) each(fn func(i int, l *link)) {
	if t.dense != nil {
		for i := range t.dense {
			fn(i, &t.dense[i])
		}
		return
	}
	keys := make([]int, 0, len(t.sparse))
	for i := range t.sparse {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	for _, i := range keys {
		fn(i, t.sparse[i])
	}
}

// partition blocks the links cut marks (index from*n+to), calling
// broken for each existing one it blocks.
func (t *linkTable) partition(cut []bool, broken func(l *link)) {
	if t.dense == nil {
		t.cut = cut
	}
	t.each(func(i int, l *link) {
		if cut[i] {
			l.blocked = true
			broken(l)
		}
	})
}

// heal unblocks every link.
func (t *linkTable) heal() {
	t.cut = nil
	t.each(func(_ int, l *link) { l.blocked = false })
}

// breaks calls broken for the links a per-link, per-step break rate
// picks this step. A dense table draws once per link (the default seeds'
// sequence); a sparse one draws the gaps between picked links from the
// geometric distribution, so a step costs draws in proportion to the
// breaks, not to n², and skips picked links that were never used.
func (t *linkTable) breaks(g *rng, rate float64, broken func(i int, l *link)) {
	if rate <= 0 {
		return
	}
	n := t.n
	if t.dense != nil {
		for i := range t.dense {
			if i/n != i%n && g.chance(rate) {
				broken(i, &t.dense[i])
			}
		}
		return
	}
	logKeep := math.Log1p(-min(rate, 0.5))
	for i := -1; ; {
		gap := math.Floor(math.Log1p(-g.float()) / logKeep)
		if gap >= float64(n*n) {
			return
		}
		i += 1 + int(gap)
		if i >= n*n {
			return
		}
		if l := t.sparse[i]; l != nil && i/n != i%n {
			broken(i, l)
		}
	}
}
