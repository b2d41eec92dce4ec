package crdt

import (
	"unsafe"

	"github.com/spooksystems/spook/causal"
)

// keyEntry is one key of a keyspace, held in the keyspace's entrySlab
// (not an allocation of its own). key is the one copy of the key's bytes;
// the index and the B-tree refer to the entry, not to another copy.
type keyEntry struct {
	key  string
	v    Value
	hash uint64 // hasher.key(key, &v), kept so the keyspace sum is O(1) per change
}

// Keyspace is a replica's whole state: keys to values plus the causal
// context of every transaction applied. The zero value is not usable; call
// NewKeyspace. A Keyspace is not safe for concurrent use; its read methods
// (Get, Len, Range, Hash, KeyHash, Context, AppendBinary and the Value
// methods) do not mutate it, so concurrent readers are safe while nothing
// writes.
//
// Entries live in a slab (entrySlab: chunks that never move, freed
// entries reused), are found by a pointer-free hash index (keyIndex: O(1)
// lookup, no allocation on lookup) and are ordered by a B-tree of their
// slab ids (keyOrder) that is touched only when a key appears or
// disappears, so Range and the encoding are in bytewise order without
// sorting.
type Keyspace struct {
	index   keyIndex
	slab    entrySlab
	order   keyOrder
	ctx     causal.Context
	live    int    // keys whose value is visible
	sum     uint64 // Σ keyEntry.hash mod 2^64, hidden keys included
	ctxHash uint64 // hasher.context(&ctx)
	h       hasher
	// expired lists the keys the last Apply deleted whose value had
	// expired at its transaction's time (LastApplyExpired).
	expired [][]byte
	// bcKeys holds the keys with a bounded counter (BCounterKeys).
	bcKeys map[string]struct{}
}

// LastApplyExpired reports whether the last Apply deleted key while its
// value had already expired at the transaction's time: the reclaiming
// DEL of an expired key (or any delete of one), which keyspace
// notifications report as "expired". The answer is about the last Apply
// only; key slices are compared, not kept beyond it.
func (ks *Keyspace) LastApplyExpired(key []byte) bool {
	for _, k := range ks.expired {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}

// NewKeyspace returns an empty keyspace.
func NewKeyspace() *Keyspace {
	ks := &Keyspace{index: newKeyIndex()}
	ks.order = newKeyOrder(&ks.slab)
	ks.ctxHash = ks.h.context(&ks.ctx)
	return ks
}

// Context returns the dots of every transaction applied. It aliases the
// keyspace; callers must not modify it.
func (ks *Keyspace) Context() *causal.Context { return &ks.ctx }

// lookup returns the value at key including a hidden one (a reset
// counter), or nil.
func (ks *Keyspace) lookup(key []byte) *Value {
	if e := ks.index.lookup(key, &ks.slab); e != nil {
		return &e.v
	}
	return nil
}

// Get returns the value stored at key, or nil if the key holds nothing live.
func (ks *Keyspace) Get(key []byte) *Value {
	if e := ks.index.lookup(key, &ks.slab); e != nil && e.v.live() {
		return &e.v
	}
	return nil
}

// Len is the number of keys holding a live value.
func (ks *Keyspace) Len() int { return ks.live }

// Range calls fn for every live key in bytewise order, starting at the
// first key ≥ from, until fn returns false. The key slice aliases state
// and must not be modified. fn must not change the keyspace.
func (ks *Keyspace) Range(from []byte, fn func(key []byte, v *Value) bool) {
	ks.order.ascend(from, func(e *keyEntry) bool {
		if !e.v.live() {
			return true
		}
		return fn(bytesOf(e.key), &e.v)
	})
}

// bytesOf views s as a byte slice without copying. The result must not be
// modified; it is how state handed out as []byte stays allocation-free.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Begin starts a transaction with dot and timestamp ts made on this
// keyspace's current state: its Deps are a copy of the keyspace's context.
// The caller (the replica) chooses the dot: the next counter of the local
// node. The keyspace must not change until the Builder is finished.
func (ks *Keyspace) Begin(dot causal.Dot, ts causal.Timestamp) *Builder {
	b := &Builder{ks: ks}
	b.txn = Txn{Dot: dot, Time: ts, Deps: ks.ctx.Clone()}
	b.hdr = txnHeader{dot: dot, time: ts, deps: &b.txn.Deps}
	return b
}

// Apply joins a causally ready transaction into the keyspace. It returns
// ErrNotReady (and changes nothing) if txn.Deps is not contained in the
// context, ErrInvalid (and changes nothing) for a zero dot or a counter
// reset of an increment outside txn.Deps (which no honest writer can
// have observed), and does nothing if txn.Dot was
// already applied. Apply copies what it keeps: the caller may reuse txn's
// buffers afterwards. Cost: O(1) per register write and counter
// increment, O(1) per set member or map field touched, plus O(nodes) to
// rehash the context.
func (ks *Keyspace) Apply(txn *Txn) error {
	if txn.Dot.Node == 0 || txn.Dot.Counter == 0 {
		return ErrInvalid
	}
	if ks.ctx.Contains(txn.Dot) {
		return nil
	}
	if !containsContext(&ks.ctx, &txn.Deps) {
		return ErrNotReady
	}
	if !txn.resetsObserved() || !txn.seqsValid(ks) {
		return ErrInvalid
	}
	t := txnHeader{dot: txn.Dot, time: txn.Time, deps: &txn.Deps}
	ks.expired = ks.expired[:0]
	for i := range txn.ops {
		o := &txn.ops[i]
		id, e, existed := ks.entry(o.key)
		wasExpired := existed && e.v.Expired(txn.Time.WallMs)
		applyOp(&e.v, &o.op, &t, &ks.h)
		if wasExpired && !e.v.live() {
			ks.expired = append(ks.expired, o.key)
		}
		ks.settle(id, e, existed)
	}
	ks.ctx.Add(txn.Dot)
	ks.ctxHash = ks.h.context(&ks.ctx)
	return nil
}

// entry returns the entry for key and its slab id, taking a fresh slab
// entry (not yet indexed) if key is absent, and withdraws its
// contributions to sum and live; settle puts them back.
func (ks *Keyspace) entry(key []byte) (uint32, *keyEntry, bool) {
	if ks.index.used > 0 {
		if id, _, ok := ks.index.find(key, ks.index.hash(key), &ks.slab); ok {
			e := ks.slab.at(id)
			ks.sum -= e.hash
			if e.v.live() {
				ks.live--
			}
			return id, e, true
		}
	}
	id := ks.slab.alloc()
	e := ks.slab.at(id)
	e.key = string(key)
	return id, e, false
}

// settle files entry id after a change: drops it if its value is empty
// (not even a hidden counter remains), indexes it if new, and re-adds its
// hash.
func (ks *Keyspace) settle(id uint32, e *keyEntry, existed bool) {
	ks.noteBCounter(e)
	if e.v.empty() {
		if existed {
			ks.index.remove(bytesOf(e.key), &ks.slab)
			ks.order.delete(id)
		}
		ks.slab.release(id)
		return
	}
	if !existed {
		ks.index.insert(bytesOf(e.key), id, &ks.slab)
		ks.order.set(id)
	}
	e.hash = ks.h.key(bytesOf(e.key), &e.v)
	ks.sum += e.hash
	if e.v.live() {
		ks.live++
	}
}

// containsContext reports whether every dot of sub is in c.
func containsContext(c, sub *causal.Context) bool {
	for _, e := range sub.Vector.Entries() {
		have := c.Vector.Get(e.Node)
		if have >= e.Counter {
			continue
		}
		// The gap can only be covered by outliers (state joins).
		if e.Counter-have > uint64(len(c.Outliers())) {
			return false
		}
		for k := have + 1; k <= e.Counter; k++ {
			if !c.Contains(causal.Dot{Node: e.Node, Counter: k}) {
				return false
			}
		}
	}
	for _, d := range sub.Outliers() {
		if !c.Contains(d) {
			return false
		}
	}
	return true
}

// Join joins another whole state into ks (snapshot install, anti-entropy).
// It is the lattice join: commutative, associative and idempotent up to
// canonical encoding. Cost: O(keys of both). other is not changed and not
// aliased.
func (ks *Keyspace) Join(other *Keyspace) {
	if other == ks {
		return
	}
	var onlyHere []string
	ks.order.Scan(func(e *keyEntry) bool {
		if other.index.lookup(bytesOf(e.key), &other.slab) == nil {
			onlyHere = append(onlyHere, e.key)
		}
		return true
	})
	other.order.Scan(func(o *keyEntry) bool {
		ks.joinKey(bytesOf(o.key), &o.v, &other.ctx)
		return true
	})
	for _, key := range onlyHere {
		ks.joinKey(bytesOf(key), nil, &other.ctx)
	}
	ks.MergeContext(&other.ctx)
}

// JoinKey joins one key's state taken from a replica whose context is ctx
// (v nil if that replica has no value at key), for reconciliation that
// transfers only differing keys. The caller must join every key on which
// the two states differ, including keys the other side lacks (v = nil:
// what ctx has seen and the other lacks was removed there), and then merge
// ctx with MergeContext once, after all of them: JoinKey judges "seen" by
// the context as it was before the exchange. v is not aliased.
func (ks *Keyspace) JoinKey(key []byte, v *Value, ctx *causal.Context) {
	ks.joinKey(key, v, ctx)
}

func (ks *Keyspace) joinKey(key []byte, v *Value, ctx *causal.Context) {
	if v == nil && ks.index.lookup(key, &ks.slab) == nil {
		return
	}
	id, e, existed := ks.entry(key)
	joinValue(&e.v, &ks.ctx, v, ctx, &ks.h)
	ks.settle(id, e, existed)
}

// MergeContext adds ctx's dots to the keyspace's context (see JoinKey).
func (ks *Keyspace) MergeContext(ctx *causal.Context) {
	ks.ctx.Merge(ctx)
	ks.ctxHash = ks.h.context(&ks.ctx)
}

// Hash is a 64-bit hash of the whole state — every key's value, hidden
// ones included, and the context — maintained incrementally: O(1) to
// read. Equal states have equal hashes.
func (ks *Keyspace) Hash() uint64 { return mix(ks.sum, ks.ctxHash) }

// KeyHash is the hash of one key and its value (0 if absent), a function
// of the key's canonical encoding (see hasher). The keyspace hash is
// derived from the sum of key hashes and the context.
func (ks *Keyspace) KeyHash(key []byte) uint64 {
	if e := ks.index.lookup(key, &ks.slab); e != nil {
		return e.hash
	}
	return 0
}

// Compact drops metadata made redundant by the collapsed cut: every dot in
// collapsed is known to every member. It never changes what reads return.
//
// It currently drops nothing, by design. The only metadata this model
// keeps beyond the live entries is the per-node resets of deleted
// counters (O(writers) varints per deleted counter key, kept as a hidden
// value). No rule for dropping them is safe without coordination: a node
// that has dropped a reset continues its cumulative sum from zero, a node
// that has not yet dropped it still subtracts the reset, and the two
// disagree on the next increment; and since different replicas learn the
// collapsed cut at different times, a state-changing compaction would
// also make replicas with equal contexts hash differently. Register and
// set entries need their dots (a concurrent writer that did not observe
// them must not remove them), so they are not compactable either; nor are
// list and text tombstones here: an insertion made concurrently with a
// deletion may still arrive naming the deleted element as its origin, and
// the collapsed cut alone does not prove that every such insertion has
// arrived (package seq's doc).
func (ks *Keyspace) Compact(collapsed *causal.VersionVector) {}
