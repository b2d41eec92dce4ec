package crdt

import (
	"slices"

	"github.com/spooksystems/spook/causal"
)

// orSet is the add-wins observed-remove set component: each member maps to
// the dots of the adds that made it present and that no remove observed.
// An add removes the member's observed dots and adds its own, so a member
// holds one dot except after concurrent adds.
//
// Members live in a Go map for O(1) add, remove and lookup; canonical
// (bytewise) order is made by sorting when encoding or iterating. digest is
// the sum of member hashes, so the key's hash costs O(1) per changed
// member rather than O(members).
type orSet struct {
	members map[string][]causal.Dot // every slice non-empty, sorted by Dot.Less
	digest  uint64
}

func newSet() *orSet { return &orSet{members: make(map[string][]causal.Dot, 1)} }

func (s *orSet) clone() *orSet {
	out := &orSet{members: make(map[string][]causal.Dot, len(s.members)), digest: s.digest}
	for m, ds := range s.members {
		out.members[m] = slices.Clone(ds)
	}
	return out
}

func (s *orSet) sortedMembers() []string {
	out := make([]string, 0, len(s.members))
	for m := range s.members {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// setDelta is the delta of one member operation: whether it removes the
// member's observed dots, and whether it adds the member with dot.
type setDelta struct {
	member   []byte
	observed bool // remove the member's dots that lie in deps
	add      bool // add the member with dot
	dot      causal.Dot
}

// joinMember joins one member delta. The member string is allocated only
// when a new member is inserted; re-adding an existing member in place
// allocates nothing. This is the set's fast path.
func (s *orSet) joinMember(d setDelta, deps *causal.Context, h *hasher) {
	ds, ok := s.members[string(d.member)]
	if ok {
		s.digest -= h.member(d.member, ds)
	}
	n := len(ds)
	if d.observed {
		ds = filterDots(ds, deps)
	}
	if d.add {
		ds = insertDot(ds, d.dot)
	}
	switch {
	case len(ds) == 0:
		if ok {
			delete(s.members, string(d.member))
		}
		return
	case !ok:
		s.members[string(d.member)] = ds
	case len(ds) != n:
		// The slice header changed length: store it back. The key
		// conversion allocates, so this is kept off the common re-add path
		// (one dot replaced by one dot, in place).
		s.members[string(d.member)] = ds
	}
	s.digest += h.member(d.member, ds)
}

// clearObserved removes every member dot in deps (a DEL that saw the set).
func (s *orSet) clearObserved(deps *causal.Context, h *hasher) {
	for m, ds := range s.members {
		kept := filterDots(slices.Clone(ds), deps)
		if len(kept) == len(ds) {
			continue
		}
		s.digest -= h.member([]byte(m), ds)
		if len(kept) == 0 {
			delete(s.members, m)
			continue
		}
		s.members[m] = kept
		s.digest += h.member([]byte(m), kept)
	}
}

// joinSet joins b (whose state has context bctx) into a (context actx):
// per member, the dot join of joinDots. a may be nil; the result is nil
// if no member survives.
func joinSet(a *orSet, actx *causal.Context, b *orSet, bctx *causal.Context, h *hasher) *orSet {
	if a == nil {
		if b == nil {
			return nil
		}
		a = newSet()
	}
	for m, ds := range a.members {
		var other []causal.Dot
		if b != nil {
			other = b.members[m]
		}
		joined := joinDots(ds, actx, other, bctx)
		if slices.Equal(joined, ds) {
			continue
		}
		a.digest -= h.member([]byte(m), ds)
		if len(joined) == 0 {
			delete(a.members, m)
			continue
		}
		a.members[m] = joined
		a.digest += h.member([]byte(m), joined)
	}
	if b != nil {
		for m, ds := range b.members {
			if _, ok := a.members[m]; ok {
				continue // joined above
			}
			// Dots in a's context that a lacks were removed there.
			joined := joinDots(nil, actx, ds, bctx)
			if len(joined) > 0 {
				a.members[m] = joined
				a.digest += h.member([]byte(m), joined)
			}
		}
	}
	if len(a.members) == 0 {
		return nil
	}
	return a
}

// joinDots is the dot-set join: keep a dot both hold, or one holds and the
// other's context lacks. The result is a new slice (nil if empty).
func joinDots(a []causal.Dot, actx *causal.Context, b []causal.Dot, bctx *causal.Context) []causal.Dot {
	var out []causal.Dot
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Less(b[j])):
			if !bctx.Contains(a[i]) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].Less(a[i]):
			if !actx.Contains(b[j]) {
				out = append(out, b[j])
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

// filterDots removes the dots in deps, in place.
func filterDots(ds []causal.Dot, deps *causal.Context) []causal.Dot {
	n := 0
	for _, d := range ds {
		if !deps.Contains(d) {
			ds[n] = d
			n++
		}
	}
	return ds[:n]
}

// insertDot inserts d in order (no duplicate).
func insertDot(ds []causal.Dot, d causal.Dot) []causal.Dot {
	i, found := slices.BinarySearchFunc(ds, d, compareDot)
	if found {
		return ds
	}
	return slices.Insert(ds, i, d)
}
