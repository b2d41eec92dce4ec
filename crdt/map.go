package crdt

import (
	"slices"

	"github.com/spooksystems/spook/causal"
)

// orMap is the observed-remove map component: field name → nested value
// (register, counter or set; maps nest one level, MaxNesting). Field
// operations mirror key operations; deleting a field removes the observed
// components of that field only, so a concurrent write to the field
// survives.
//
// A field whose nested value holds only a reset counter is hidden but kept
// (its resets still matter, see Keyspace); live counts the visible fields
// so HLEN is O(1). digest is the sum of field hashes.
type orMap struct {
	fields map[string]*Value // every value non-empty, without a map component
	live   int
	digest uint64
}

func newMap() *orMap { return &orMap{fields: make(map[string]*Value, 1)} }

func (m *orMap) clone() *orMap {
	out := &orMap{fields: make(map[string]*Value, len(m.fields)), live: m.live, digest: m.digest}
	for name, v := range m.fields {
		out.fields[name] = v.clone()
	}
	return out
}

func (m *orMap) sortedFields() []string {
	out := make([]string, 0, len(m.fields))
	for name := range m.fields {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// forget subtracts field v's contribution to live and digest before a
// change; remember adds it back after, or drops the field if it is empty.
func (m *orMap) forget(name []byte, v *Value, h *hasher) {
	m.digest -= h.field(name, v)
	if v.live() {
		m.live--
	}
}

func (m *orMap) remember(name []byte, v *Value, h *hasher) {
	if v.empty() {
		delete(m.fields, string(name))
		return
	}
	m.digest += h.field(name, v)
	if v.live() {
		m.live++
	}
}

// clearObserved removes the observed register and set entries of every
// field (a DEL or SET of the whole key). Counter fields are reset by the
// explicit resets their field operations carry.
func (m *orMap) clearObserved(deps *causal.Context, h *hasher) {
	for name, v := range m.fields {
		if v.reg.len() == 0 && v.oset() == nil {
			continue
		}
		b := []byte(name)
		m.forget(b, v, h)
		v.clearDots(deps, h)
		m.remember(b, v, h)
	}
}

// applyField applies one field operation of a transaction.
func (m *orMap) applyField(name []byte, op *valueOp, t *txnHeader, h *hasher) {
	v := m.fields[string(name)]
	if v != nil {
		m.forget(name, v, h)
	} else {
		v = &Value{}
		m.fields[string(name)] = v
	}
	applyOp(v, op, t, h)
	m.remember(name, v, h)
}

// joinMap joins b (context bctx) into a (context actx), field by field.
// a may be nil; the result is nil if no field remains.
func joinMap(a *orMap, actx *causal.Context, b *orMap, bctx *causal.Context, h *hasher) *orMap {
	if a == nil {
		if b == nil {
			return nil
		}
		a = newMap()
	}
	for name, v := range a.fields {
		var other *Value
		if b != nil {
			other = b.fields[name]
		}
		nb := []byte(name)
		a.forget(nb, v, h)
		joinValue(v, actx, other, bctx, h)
		a.remember(nb, v, h)
	}
	if b != nil {
		for name, o := range b.fields {
			if _, ok := a.fields[name]; ok {
				continue
			}
			v := &Value{}
			joinValue(v, actx, o, bctx, h)
			if !v.empty() {
				a.fields[name] = v
				a.remember([]byte(name), v, h)
			}
		}
	}
	if len(a.fields) == 0 {
		return nil
	}
	return a
}

// joinValue joins b (context bctx, may be nil) into a (context actx)
// component by component. It is the lattice join every state transfer
// (Keyspace.Join, JoinKey) reduces to.
func joinValue(a *Value, actx *causal.Context, b *Value, bctx *causal.Context, h *hasher) {
	if b == nil {
		b = &Value{}
	}
	if a.reg.len() > 0 || b.reg.len() > 0 {
		a.reg.join(actx, &b.reg, bctx)
	}
	if b.ctr() != nil {
		if a.ctr() == nil {
			a.putCtr(&counter{})
		}
		a.ctr().join(b.ctr())
	}
	if a.oset() != nil || b.oset() != nil {
		a.putSet(joinSet(a.oset(), actx, b.oset(), bctx, h))
	}
	if a.omap() != nil || b.omap() != nil {
		a.putMap(joinMap(a.omap(), actx, b.omap(), bctx, h))
	}
	if len(a.expiry()) > 0 || len(b.expiry()) > 0 {
		a.putExpiry(joinExpiry(a.expiry(), actx, b.expiry(), bctx))
	}
	joinSeqs(a, b)
	if a.zs() != nil || b.zs() != nil {
		a.putZSet(joinZSet(a.zs(), actx, b.zs(), bctx, h))
	}
	if a.strm() != nil || b.strm() != nil {
		a.putStream(joinStream(a.strm(), actx, b.strm(), bctx, h))
	}
	if a.bc() != nil || b.bc() != nil {
		a.putBCounter(joinBCounter(a.bc(), actx, b.bc(), bctx))
	}
}
