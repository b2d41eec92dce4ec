package crdt

import (
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/seq"
)

// Sibling is one concurrent register value.
type Sibling struct {
	Value []byte
	Time  causal.Timestamp
	Dot   causal.Dot
}

// Value is a read-only view of one key's (or one map field's) value. A
// *Value returned by the Keyspace is valid until the next change to the
// Keyspace and must not be modified; byte slices it returns alias state.
//
// Internally a Value holds up to one component per type. A component is
// present (non-nil, non-empty) iff it holds at least one entry: a register
// entry, a counter node, a set member, a map field. A plain string costs
// no allocation beyond its value bytes: the register's single entry is
// inline and everything rarer (register siblings, the other components)
// hangs off one nil pointer, reg.x. A present component may still be
// hidden: a counter whose every node is reset, or a map whose fields are
// all such counters.
type Value struct {
	reg registers // register entries (the single common one inline) and reg.x
}

// components holds what a plain string key lacks behind one pointer
// (registers.x), so a string key's Value is one register entry and a nil
// word: 64 bytes, an 88-byte keyspace entry.
type components struct {
	more []regEntry // register entries after registers.first, in dot order; nil without siblings
	cnt  *counter   // nil when absent
	set  *orSet     // nil when absent; never empty
	mp   *orMap     // nil when absent; never empty (fields may be hidden)
	// exp holds the expiry entries in dot order (expiry.go); nil when
	// none; top level only. A pointer keeps components at 56 bytes (a
	// 64-byte allocation) rather than 72 (80).
	exp *[]expEntry
	// ext holds the component types added after the first five (top
	// level only); nil when the value has none of them.
	ext *extParts
}

// extParts holds the components added after the first five behind one
// pointer of components, so that components stays 64 bytes (one 64-byte
// allocation) for the counters, sets and hashes every workload has.
type extParts struct {
	list *seq.Seq[seq.Values] // sequence.go; nil when absent, never without elements
	text *seq.Seq[seq.Text]   // sequence.go; nil when absent, never without elements
	zs   *zset                // zset.go; nil when absent, never empty (members may be hidden)
	strm *stream              // stream.go; nil when absent
	bc   *bcounter            // bcounter.go; nil when absent, never without a generation
}

// extParts returns the value's extension components, nil when none.
func (v *Value) extParts() *extParts {
	if v == nil || v.reg.x == nil {
		return nil
	}
	return v.reg.x.ext
}

// extSlot returns the value's extension components, making them.
func (v *Value) extSlot() *extParts {
	p := v.reg.parts()
	if p.ext == nil {
		p.ext = &extParts{}
	}
	return p.ext
}

// tidyExt drops the extension components once none is left, then
// components if nothing else is.
func (v *Value) tidyExt() {
	if x := v.reg.x; x != nil && x.ext != nil && *x.ext == (extParts{}) {
		x.ext = nil
		v.reg.tidy()
	}
}

func (v *Value) ctr() *counter {
	if v.reg.x == nil {
		return nil
	}
	return v.reg.x.cnt
}

func (v *Value) oset() *orSet {
	if v.reg.x == nil {
		return nil
	}
	return v.reg.x.set
}

func (v *Value) omap() *orMap {
	if v.reg.x == nil {
		return nil
	}
	return v.reg.x.mp
}

func (v *Value) putCtr(c *counter) {
	if c != nil || v.reg.x != nil {
		v.reg.parts().cnt = c
		v.reg.tidy()
	}
}

func (v *Value) putSet(s *orSet) {
	if s != nil || v.reg.x != nil {
		v.reg.parts().set = s
		v.reg.tidy()
	}
}

func (v *Value) putMap(m *orMap) {
	if m != nil || v.reg.x != nil {
		v.reg.parts().mp = m
		v.reg.tidy()
	}
}

// Type returns the visible type: the highest-ranked live component
// (bounded counter > stream > text > list > zset > map > set > counter > register), or TypeNone if
// nothing is live.
func (v *Value) Type() Type {
	switch {
	case v == nil:
		return TypeNone
	case v.bc() != nil:
		return TypeBCounter
	case v.strm() != nil:
		return TypeStream
	case v.textSeq() != nil && v.textSeq().Len() > 0:
		return TypeText
	case v.listSeq() != nil && v.listSeq().Len() > 0:
		return TypeList
	case v.zsetVisible():
		return TypeZSet
	case v.omap() != nil && v.omap().live > 0:
		return TypeMap
	case v.oset() != nil:
		return TypeSet
	case v.ctr() != nil && v.ctr().live():
		return TypeCounter
	case v.reg.len() > 0:
		return TypeRegister
	}
	return TypeNone
}

// live reports whether some component is live (the value is visible).
func (v *Value) live() bool { return v.Type() != TypeNone }

// empty reports whether the value holds no component at all, hidden or
// not; an empty value is dropped from its keyspace or map.
func (v *Value) empty() bool {
	return v.reg.len() == 0 && v.ctr() == nil && v.oset() == nil && v.omap() == nil && len(v.expiry()) == 0 && seqExt(v) == 0 && v.zs() == nil && v.strm() == nil && v.bc() == nil
}

// Register returns the last-writer-wins value of the register component:
// the sibling with the greatest (Time, Dot.Node), then Dot.Counter. It
// reports false if there is no register component (even when another
// component is visible it answers for the register alone).
func (v *Value) Register() ([]byte, bool) {
	if v == nil || v.reg.len() == 0 {
		return nil, false
	}
	return v.reg.lww().value, true
}

// Siblings returns every concurrent register value, in canonical order
// (by dot). The slice is a copy; the byte slices alias state.
func (v *Value) Siblings() []Sibling {
	if v == nil || v.reg.len() == 0 {
		return nil
	}
	out := make([]Sibling, v.reg.len())
	for i := range out {
		e := v.reg.at(i)
		out[i] = Sibling{Value: e.value, Time: e.time, Dot: e.dot}
	}
	return out
}

// Counter returns the counter component's value and whether the counter
// is live. Concurrent increments whose total leaves int64 read as the
// nearest bound (math.MaxInt64 or math.MinInt64); a further Increment in
// that direction returns ErrOverflow.
func (v *Value) Counter() (int64, bool) {
	if v == nil || v.ctr() == nil || !v.ctr().live() {
		return 0, false
	}
	return v.ctr().value().saturate(), true
}

// Contains reports whether the set component holds member.
func (v *Value) Contains(member []byte) bool {
	if v == nil || v.oset() == nil {
		return false
	}
	_, ok := v.oset().members[string(member)]
	return ok
}

// Members calls fn for each member of the set component in canonical
// (bytewise) order until fn returns false. It sorts on every call:
// O(n log n) time and one allocation of n string headers. The member
// slices alias state and must not be modified.
func (v *Value) Members(fn func(member []byte) bool) {
	if v == nil || v.oset() == nil {
		return
	}
	for _, m := range v.oset().sortedMembers() {
		if !fn(bytesOf(m)) {
			return
		}
	}
}

// Len is the number of set members (for a set), live fields (for a map),
// elements (for a list) or code points (for text), by visible type; zero
// for other types.
func (v *Value) Len() int {
	switch v.Type() {
	case TypeSet:
		return len(v.oset().members)
	case TypeMap:
		return v.omap().live
	case TypeList:
		return v.ListLen()
	case TypeText:
		return v.TextLen()
	}
	return 0
}

// Field returns the nested value of a live map field, or nil.
func (v *Value) Field(name []byte) *Value {
	if v == nil || v.omap() == nil {
		return nil
	}
	if f := v.omap().fields[string(name)]; f != nil && f.live() {
		return f
	}
	return nil
}

// Fields calls fn for each live map field in canonical order until fn
// returns false. Like Members it sorts on every call.
func (v *Value) Fields(fn func(name []byte, v *Value) bool) {
	if v == nil || v.omap() == nil {
		return
	}
	for _, name := range v.omap().sortedFields() {
		f := v.omap().fields[name]
		if f.live() && !fn(bytesOf(name), f) {
			return
		}
	}
}

// clone returns a deep copy: no byte slice or component is shared, so the
// copy can be mutated (the Builder's read-your-writes views) without
// touching the original.
func (v *Value) clone() *Value {
	out := &Value{}
	if v == nil {
		return out
	}
	out.reg = v.reg.clone()
	if v.ctr() != nil {
		out.putCtr(&counter{nodes: slices.Clone(v.ctr().nodes)})
	}
	if v.oset() != nil {
		out.putSet(v.oset().clone())
	}
	if v.omap() != nil {
		out.putMap(v.omap().clone())
	}
	out.putExpiry(slices.Clone(v.expiry()))
	cloneSeqs(out, v)
	if v.zs() != nil {
		out.putZSet(v.zs().clone())
	}
	if v.strm() != nil {
		out.putStream(v.strm().clone())
	}
	if v.bc() != nil {
		out.putBCounter(v.bc().clone())
	}
	return out
}

// clearDots removes the register and set entries whose dot is in deps:
// the part of a clear that needs no explicit list (counters carry theirs).
func (v *Value) clearDots(deps *causal.Context, h *hasher) {
	v.reg.clear(deps)
	if v.oset() != nil {
		v.oset().clearObserved(deps, h)
		if len(v.oset().members) == 0 {
			v.putSet(nil)
		}
	}
}
