package crdt

import (
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Expiry. A key's deadline is a component of its Value like the others:
// entries {dot, time, deadline} (deadline in hybrid-clock milliseconds,
// the wall part of causal.Timestamp), kept and removed exactly as register
// entries are. A write that sets a deadline (EXPIRE, SET EX...) removes
// the observed entries and adds one; a write that clears it (PERSIST, a
// SET without KEEPTTL, DEL) removes the observed entries and adds none.
// Concurrent deadlines are kept side by side and resolved last-writer-wins
// by (time, node, counter), the register's rule. A concurrent clear cannot
// remove an entry it did not observe, so a deadline set concurrently with
// PERSIST or SET survives (deadline-wins, as sets are add-wins); see
// docs/semantics.md. Keys that never had a deadline carry no expiry
// component, so their encoding and hash are those of the format before
// expiry existed.

// expEntry is one deadline written by the transaction dot at time.
type expEntry struct {
	dot      causal.Dot
	time     causal.Timestamp
	deadline uint64 // hybrid-clock ms; ≥ 1
}

func expLess(a, b expEntry) bool {
	return lwwLess(regEntry{dot: a.dot, time: a.time}, regEntry{dot: b.dot, time: b.time})
}

func (v *Value) expiry() []expEntry {
	if v == nil || v.reg.x == nil || v.reg.x.exp == nil {
		return nil
	}
	return *v.reg.x.exp
}

func (v *Value) putExpiry(e []expEntry) {
	switch {
	case len(e) > 0:
		v.reg.parts().exp = &e
	case v.reg.x != nil:
		v.reg.x.exp = nil
		v.reg.tidy()
	}
}

// Deadline returns the key's expiry deadline in hybrid-clock milliseconds
// (the last-writer-wins one among concurrent deadlines), or false if the
// key has none.
func (v *Value) Deadline() (uint64, bool) {
	es := v.expiry()
	if len(es) == 0 {
		return 0, false
	}
	best := es[0]
	for _, e := range es[1:] {
		if expLess(best, e) {
			best = e
		}
	}
	return best.deadline, true
}

// DeadlineOwner returns the node that wrote the key's deadline (the
// last-writer-wins entry's), or zero if the key has none: the node that
// reclaims the key once it expires (docs/semantics.md).
func (v *Value) DeadlineOwner() causal.NodeID {
	es := v.expiry()
	if len(es) == 0 {
		return 0
	}
	best := es[0]
	for _, e := range es[1:] {
		if expLess(best, e) {
			best = e
		}
	}
	return best.dot.Node
}

// Expired reports whether v has a deadline at or before nowMs: such a key
// reads as absent (see Builder and docs/semantics.md).
func (v *Value) Expired(nowMs uint64) bool {
	d, ok := v.Deadline()
	return ok && d <= nowMs
}

// Reclaimable reports whether a reclaiming DEL at nowMs has something to
// remove: the key expired, or only an expiry component is left of it (a
// deadline set concurrently with a DEL).
func (v *Value) Reclaimable(nowMs uint64) bool {
	if v == nil || len(v.expiry()) == 0 {
		return false
	}
	return v.Expired(nowMs) || !v.live()
}

// clearExpiry removes the entries whose dot is in deps, in place.
func clearExpiry(es []expEntry, deps *causal.Context) []expEntry {
	n := 0
	for _, e := range es {
		if !deps.Contains(e.dot) {
			es[n] = e
			n++
		}
	}
	return es[:n]
}

// applyExpiry applies an operation's expiry part to v.
func applyExpiry(v *Value, op *valueOp, t *txnHeader) {
	if op.flags&opExpiry == 0 {
		return
	}
	es := clearExpiry(slices.Clone(v.expiry()), t.deps)
	if op.deadline != 0 {
		e := expEntry{dot: t.dot, time: t.time, deadline: op.deadline}
		i, found := slices.BinarySearchFunc(es, t.dot, func(e expEntry, d causal.Dot) int { return compareDot(e.dot, d) })
		if found {
			es[i] = e
		} else {
			es = slices.Insert(es, i, e)
		}
	}
	v.putExpiry(es)
}

// joinExpiry is the lattice join of two expiry components, the register
// join (joinRegister): an entry survives if both hold it or the other's
// context lacks its dot.
func joinExpiry(a []expEntry, actx *causal.Context, b []expEntry, bctx *causal.Context) []expEntry {
	out := make([]expEntry, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].dot.Less(b[j].dot)):
			if !bctx.Contains(a[i].dot) {
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].dot.Less(a[i].dot):
			if !actx.Contains(b[j].dot) {
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

func appendExpiry(dst []byte, es []expEntry) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(es)))
	for _, e := range es {
		dst = codec.AppendUvarint(dst, uint64(e.dot.Node))
		dst = codec.AppendUvarint(dst, e.dot.Counter)
		dst = e.time.AppendBinary(dst)
		dst = codec.AppendUvarint(dst, e.deadline)
	}
	return dst
}

func decodeExpiry(r *codec.Reader, ctx *causal.Context) []expEntry {
	// An entry is at least node, counter, wall, logical and a deadline.
	n := count(r, "expiry entries", MaxSiblings, 5)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("expiry entries: none", ErrInvalid)
		return nil
	}
	out := make([]expEntry, 0, n)
	for i := 0; i < n; i++ {
		d := causal.Dot{Node: causal.NodeID(uvarint(r, "expiry node")), Counter: uvarint(r, "expiry counter")}
		ts := decodeTimestamp(r)
		dl := uvarint(r, "expiry deadline")
		if r.Err() != nil || !checkDot(r, "expiry entry", d, ctx) {
			return nil
		}
		if dl == 0 {
			r.Fail("expiry entry: zero deadline", ErrInvalid)
			return nil
		}
		if i > 0 && !out[i-1].dot.Less(d) {
			r.Fail("expiry entries: not ascending", ErrInvalid)
			return nil
		}
		out = append(out, expEntry{dot: d, time: ts, deadline: dl})
	}
	return out
}

// Now is the transaction's hybrid-clock time in milliseconds: the time
// against which its operations judge deadlines.
func (b *Builder) Now() uint64 { return b.txn.Time.WallMs }

// clearExpired makes a fresh kb, whose base has expired (or is only a
// deadline left by a concurrent DEL), start as a clear of everything
// observed: a write to an expired key acts on an absent key and must
// remove the expired state (INCR starts from 0, SADD makes a new set, and
// no leftover deadline attaches to the new value). Slots of the clear count against MaxTxnOps even if the operation
// that prepared kb then fails (a conservative count).
func (b *Builder) clearExpired(kb *keyBuild) error {
	if b.ops+liveCounterFields(kb.base) > MaxTxnOps {
		return ErrTxnTooBig
	}
	clearValue(&kb.op, kb.base, false)
	kb.list, kb.text = nil, nil
	kb.expired = true
	b.ops += kb.slots()
	return nil
}

// live reports whether key holds something visible as the transaction
// sees it, and its pending operation (prepared; commit it to keep it).
func (b *Builder) liveKey(key []byte) (*keyBuild, bool, bool, error) {
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return nil, false, false, err
	}
	return kb, fresh, b.typeView(kb) != TypeNone, nil
}

// Expire sets key's deadline to deadline (hybrid-clock ms; Redis EXPIRE
// and its forms, SET EX). It reports false and changes nothing if key
// holds nothing visible. A deadline at or before the transaction's time
// deletes the key, as Redis does.
func (b *Builder) Expire(key []byte, deadline uint64) (bool, error) {
	b.check()
	kb, fresh, live, err := b.liveKey(key)
	if err != nil || !live {
		return false, err
	}
	if deadline <= b.Now() {
		if err := b.clearKey(kb); err != nil {
			return false, err
		}
		b.commit(kb, fresh)
		return true, nil
	}
	kb.op.flags |= opExpiry
	kb.op.deadline = deadline
	b.commit(kb, fresh)
	return true, nil
}

// Persist removes key's deadline (Redis PERSIST). It reports whether the
// key had one (as the transaction sees it); otherwise nothing changes.
func (b *Builder) Persist(key []byte) (bool, error) {
	b.check()
	kb, fresh, live, err := b.liveKey(key)
	if err != nil || !live {
		return false, err
	}
	if !b.hasDeadline(kb) {
		return false, nil
	}
	kb.op.flags |= opExpiry
	kb.op.deadline = 0
	b.commit(kb, fresh)
	return true, nil
}

// hasDeadline reports whether kb's key has a deadline as the transaction
// sees it.
func (b *Builder) hasDeadline(kb *keyBuild) bool {
	if kb.op.flags&opExpiry != 0 {
		return kb.op.deadline != 0
	}
	return !kb.expired && len(kb.base.expiry()) > 0
}

// SetKeepTTL is Set that leaves the key's deadline as it is (Redis SET
// KEEPTTL): the expiry entries are neither removed nor added. On a key
// that had expired it is a plain Set.
func (b *Builder) SetKeepTTL(key, value []byte) error {
	var flags uint8
	var deadline uint64
	if kb := b.find(key); kb != nil {
		flags, deadline = kb.op.flags&opExpiry, kb.op.deadline
	}
	if err := b.Set(key, value); err != nil {
		return err
	}
	kb := b.find(key)
	if !kb.expired {
		kb.op.flags = kb.op.flags&^opExpiry | flags
		kb.op.deadline = deadline
		kb.view = nil
	}
	return nil
}

// Reclaim deletes key if, at the transaction's time, it has expired or
// only a deadline is left of it (Value.Reclaimable): the DEL the
// reclaiming node proposes. It reports whether it recorded a removal.
func (b *Builder) Reclaim(key []byte) (bool, error) {
	b.check()
	if b.find(key) != nil {
		return false, nil
	}
	base := b.ks.lookup(key)
	if !base.Reclaimable(b.Now()) {
		return false, nil
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return false, err
	}
	if err := b.clearKey(kb); err != nil {
		return false, err
	}
	b.commit(kb, fresh)
	return true, nil
}

// RangeExpiring calls fn, in bytewise order from the first key ≥ from,
// for every key that has a deadline, live or not (Range skips a value
// with nothing live, such as a deadline a concurrent DEL left alone),
// until fn returns false or visit keys (with a deadline or not) have been
// stepped over: what a reclaimer sweeps, a bounded slice at a time. It
// returns the key to resume from (a copy), nil once the end was reached.
func (ks *Keyspace) RangeExpiring(from []byte, visit int, fn func(key []byte, v *Value) bool) []byte {
	var next []byte
	ks.order.ascend(from, func(e *keyEntry) bool {
		if visit == 0 {
			next = []byte(e.key)
			return false
		}
		visit--
		if len(e.v.expiry()) == 0 {
			return true
		}
		if !fn(bytesOf(e.key), &e.v) {
			next = append([]byte(e.key), 0) // the next key after this one
			return false
		}
		return true
	})
	return next
}

// transferable reports whether reconciliation must carry v: every stored
// value, hidden ones included. A deadline a concurrent DEL left alone is
// removed by observed-remove like a register entry, so a replica that
// took it for absent would remove its copy; and a replica that lacks a
// deleted counter's resets (a hidden counter or a map of hidden counter
// fields) while its context holds their dots would never get them. Both
// kept replicas apart for good (sim seeds 1124, 1222, 1504, 2356).
func (v *Value) transferable() bool { return !v.empty() }

// RangeState is Range for state transfer: it visits every stored value,
// hidden ones included (transferable). Reconciliation builds its key tree
// with it, so hidden values are compared and shipped like live ones.
func (ks *Keyspace) RangeState(from []byte, fn func(key []byte, v *Value) bool) {
	ks.order.ascend(from, func(e *keyEntry) bool {
		if !e.v.transferable() {
			return true
		}
		return fn(bytesOf(e.key), &e.v)
	})
}

// State returns key's stored value for state transfer (RangeState),
// hidden or not; nil if there is none.
func (ks *Keyspace) State(key []byte) *Value {
	if v := ks.lookup(key); v != nil && v.transferable() {
		return v
	}
	return nil
}
