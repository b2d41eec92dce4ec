package crdt

import "slices"

// BCounterOverdrawn reports whether applying t on ks would leave t's
// writer with negative rights in a bounded counter it changes: a
// decrement or a gift larger than the rights the writer holds as ks sees
// them (or a creation whose floor is above its initial value). It names
// the first such key, the writer's rights there before t and what t
// takes from them. It changes nothing.
//
// An honest writer's transaction is never overdrawn on a replica that
// holds its causal past: the Builder checked the writer's rights on that
// past, only the writer changes its own account, and whatever else the
// replica holds can only have given it more (see Bounded counters). A
// replica may therefore hold an overdrawn transaction until gifts cover
// it (replica's causal buffer), and a forged one whose deficit nothing
// covers is never applied. ks must hold t's causal past.
func (t *Txn) BCounterOverdrawn(ks *Keyspace) (key []byte, rights, takes int64, overdrawn bool) {
	for i := range t.ops {
		op := t.ops[i].op.bcounter
		if op == nil || (op.acct == nil && !op.create) {
			continue
		}
		var g *bcGen
		if op.create && (op.acct == nil || op.gen == t.Dot) {
			g = &bcGen{dot: t.Dot, floor: op.floor, initial: op.init}
		}
		if op.acct != nil && op.gen != t.Dot {
			v := ks.lookup(t.ops[i].key)
			if v == nil || v.bc() == nil {
				continue // the generation is gone here: the operation is dropped
			}
			if g = v.bc().findGen(op.gen); g == nil {
				continue
			}
		}
		if g == nil {
			continue
		}
		n := t.Dot.Node
		before := g.rights(n)
		after := before
		if op.acct != nil {
			a := g.account(n)
			a.gifts = slices.Clone(a.gifts)
			a.join(op.acct)
			after = int64(a.inc) - int64(a.dec) + int64(g.received(n)) - int64(a.given())
			if n == g.dot.Node {
				after += g.initial - g.floor
			}
		}
		if after < 0 {
			return t.ops[i].key, before, before - after, true
		}
	}
	return nil, 0, 0, false
}

// ChangesBCounter reports whether t changes a bounded counter's account
// or generations.
func (t *Txn) ChangesBCounter() bool {
	for i := range t.ops {
		if !t.ops[i].op.bcounter.empty() {
			return true
		}
	}
	return false
}
