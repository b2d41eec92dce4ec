package crdt

import (
	"bytes"
	"slices"

	"github.com/spooksystems/spook/causal"
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
// entry, a counter node, a set member, a map field. Absent components cost
// one nil word each. A present component may still be hidden: a counter
// whose every node is reset, or a map whose fields are all such counters.
type Value struct {
	reg []regEntry // register entries sorted by dot; nil when absent
	cnt *counter   // nil when absent
	set *orSet     // nil when absent; never empty
	mp  *orMap     // nil when absent; never empty (fields may be hidden)
}

// Type returns the visible type: the highest-ranked live component
// (map > set > counter > register), or TypeNone if nothing is live.
func (v *Value) Type() Type {
	switch {
	case v == nil:
		return TypeNone
	case v.mp != nil && v.mp.live > 0:
		return TypeMap
	case v.set != nil:
		return TypeSet
	case v.cnt != nil && v.cnt.live():
		return TypeCounter
	case len(v.reg) > 0:
		return TypeRegister
	}
	return TypeNone
}

// live reports whether some component is live (the value is visible).
func (v *Value) live() bool { return v.Type() != TypeNone }

// empty reports whether the value holds no component at all, hidden or
// not; an empty value is dropped from its keyspace or map.
func (v *Value) empty() bool {
	return len(v.reg) == 0 && v.cnt == nil && v.set == nil && v.mp == nil
}

// Register returns the last-writer-wins value of the register component:
// the sibling with the greatest (Time, Dot.Node), then Dot.Counter. It
// reports false if there is no register component (even when another
// component is visible it answers for the register alone).
func (v *Value) Register() ([]byte, bool) {
	if v == nil || len(v.reg) == 0 {
		return nil, false
	}
	return v.reg[lwwIndex(v.reg)].value, true
}

// Siblings returns every concurrent register value, in canonical order
// (by dot). The slice is a copy; the byte slices alias state.
func (v *Value) Siblings() []Sibling {
	if v == nil || len(v.reg) == 0 {
		return nil
	}
	out := make([]Sibling, len(v.reg))
	for i, e := range v.reg {
		out[i] = Sibling{Value: e.value, Time: e.time, Dot: e.dot}
	}
	return out
}

// Counter returns the counter component's value and whether the counter
// is live. Concurrent increments whose total leaves int64 read as the
// nearest bound (math.MaxInt64 or math.MinInt64); a further Increment in
// that direction returns ErrOverflow.
func (v *Value) Counter() (int64, bool) {
	if v == nil || v.cnt == nil || !v.cnt.live() {
		return 0, false
	}
	return v.cnt.value().saturate(), true
}

// Contains reports whether the set component holds member.
func (v *Value) Contains(member []byte) bool {
	if v == nil || v.set == nil {
		return false
	}
	_, ok := v.set.members[string(member)]
	return ok
}

// Members calls fn for each member of the set component in canonical
// (bytewise) order until fn returns false. It sorts on every call:
// O(n log n) time and one allocation of n strings headers.
func (v *Value) Members(fn func(member []byte) bool) {
	if v == nil || v.set == nil {
		return
	}
	for _, m := range v.set.sortedMembers() {
		if !fn([]byte(m)) {
			return
		}
	}
}

// Len is the number of set members (for a set) or live fields (for a
// map), by visible type; zero for other types.
func (v *Value) Len() int {
	switch v.Type() {
	case TypeSet:
		return len(v.set.members)
	case TypeMap:
		return v.mp.live
	}
	return 0
}

// Field returns the nested value of a live map field, or nil.
func (v *Value) Field(name []byte) *Value {
	if v == nil || v.mp == nil {
		return nil
	}
	if f := v.mp.fields[string(name)]; f != nil && f.live() {
		return f
	}
	return nil
}

// Fields calls fn for each live map field in canonical order until fn
// returns false. Like Members it sorts on every call.
func (v *Value) Fields(fn func(name []byte, v *Value) bool) {
	if v == nil || v.mp == nil {
		return
	}
	for _, name := range v.mp.sortedFields() {
		f := v.mp.fields[name]
		if f.live() && !fn([]byte(name), f) {
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
	if len(v.reg) > 0 {
		out.reg = make([]regEntry, len(v.reg))
		for i, e := range v.reg {
			out.reg[i] = regEntry{dot: e.dot, time: e.time, value: bytes.Clone(e.value)}
		}
	}
	if v.cnt != nil {
		out.cnt = &counter{nodes: slices.Clone(v.cnt.nodes)}
	}
	if v.set != nil {
		out.set = v.set.clone()
	}
	if v.mp != nil {
		out.mp = v.mp.clone()
	}
	return out
}

// clearDots removes the register and set entries whose dot is in deps:
// the part of a clear that needs no explicit list (counters carry theirs).
func (v *Value) clearDots(deps *causal.Context, h *hasher) {
	if len(v.reg) > 0 {
		v.reg = clearRegister(v.reg, deps)
	}
	if v.set != nil {
		v.set.clearObserved(deps, h)
		if len(v.set.members) == 0 {
			v.set = nil
		}
	}
}
