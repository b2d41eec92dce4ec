package crdt

import (
	"github.com/spooksystems/spook/causal"
)

// Txn is one transaction: the unit of atomicity, replication and logging.
// Its operations are private; they are made by a Builder or a decoder and
// read back through Keys, AppendBody and AppendBinary.
type Txn struct {
	Dot  causal.Dot
	Time causal.Timestamp
	// Deps is the causal past the transaction was made in: the origin's
	// context when it began. The entries a transaction removes are exactly
	// those whose dot lies in Deps.
	Deps causal.Context
	// Seal is the origin's signature of the transaction in audit mode
	// (package audit: previous hash and ed25519 signature), nil
	// otherwise. It is not part of the transaction's encoding: the
	// replica carries it in its own record kind and link header flag.
	Seal []byte

	ops []keyOp // sorted by key, no duplicates, none empty
}

// keyOp is the operation of a transaction on one key.
type keyOp struct {
	key []byte
	op  valueOp
}

// Operation flags: the first byte of every encoded operation (the "tag").
// Bits are part of the wire format: append only.
const (
	opRegClear     uint8 = 1 << 0 // remove the observed register entries
	opRegSet       uint8 = 1 << 1 // add a register entry: value follows
	opCounterReset uint8 = 1 << 2 // reset the observed counter entries: list follows
	opCounterInc   uint8 = 1 << 3 // the writer's new cumulative sum follows
	opSet          uint8 = 1 << 4 // set operation follows
	opMap          uint8 = 1 << 5 // map operation follows (top level only)
	opExpiry       uint8 = 1 << 6 // remove the observed expiry entries; a deadline (0: none) follows (top level only)
	opExt          uint8 = 1 << 7 // an extension byte (ext… flags) follows the tag (top level only)

	opMaskTop    = opRegClear | opRegSet | opCounterReset | opCounterInc | opSet | opMap | opExpiry | opExt
	opMaskNested = opMaskTop &^ (opMap | opExpiry | opExt) // MaxNesting: a field holds no map; fields have no expiry or extension
)

// Extension flags: the byte after a tag (operation tag opExt, value tag
// tagExt) that has run out of bits. Each names a component type added
// after the first five; its operation or state follows the older parts, in
// bit order. Bits are part of the wire and disk formats: append only.
// extMask lists the bits this version understands; a decoder refuses the
// others, and an extension byte of zero.
const (
	extList     uint8 = 1 << 0 // list: sequence of byte strings (TypeList)
	extText     uint8 = 1 << 1 // text: sequence of code points (TypeText)
	extZSet     uint8 = 1 << 2 // sorted set (TypeZSet)
	extStream   uint8 = 1 << 3 // stream (TypeStream)
	extBCounter uint8 = 1 << 4 // bounded counter (TypeBCounter)

	extMask uint8 = extList | extText | extZSet | extStream | extBCounter
)

// valueOp is the operation on one value (a key or a map field). Every
// entry it creates carries the transaction's dot and time; every removal
// is "the observed entries" (dots in Deps), except counters, whose clear
// lists the observed (k, sum) per node because a receiver may already hold
// a later entry of that node.
//
// Within one transaction the parts commute: removals only touch dots in
// Deps, additions carry the transaction's own dot, which Deps lacks.
type valueOp struct {
	flags    uint8          // opRegClear, opRegSet, opCounterInc, opExpiry only
	value    []byte         // opRegSet
	sum      int64          // opCounterInc
	deadline uint64         // opExpiry: the new deadline in hybrid-clock ms, 0 for none
	resets   []counterReset // sorted by node; non-empty means opCounterReset
	set      *setOp         // non-nil means opSet
	mp       *mapOp         // non-nil means opMap
	list     *listOp        // non-nil means extList (sequence.go)
	text     *textOp        // non-nil means extText (sequence.go)
	zset     *zsetOp        // non-nil means extZSet (zset.go)
	stream   *streamOp      // non-nil means extStream (stream.go)
	bcounter *bcounterOp    // non-nil means extBCounter (bcounter.go)
}

// tag is the encoded flag byte of op.
func (op *valueOp) tag() uint8 {
	t := op.flags
	if len(op.resets) > 0 {
		t |= opCounterReset
	}
	if op.set != nil {
		t |= opSet
	}
	if op.mp != nil {
		t |= opMap
	}
	if op.extTag() != 0 {
		t |= opExt
	}
	return t
}

// extTag is the extension byte of op: the ext… flag of each extension
// component op changes. Zero means no extension byte is written.
func (op *valueOp) extTag() uint8 {
	t := seqOpExt(op)
	if op.zset != nil {
		t |= extZSet
	}
	if op.stream != nil {
		t |= extStream
	}
	if op.bcounter != nil {
		t |= extBCounter
	}
	return t
}

// empty reports whether op changes nothing (slots the Builder emptied
// included).
func (op *valueOp) empty() bool {
	if op.flags != 0 || len(op.resets) > 0 || !op.list.empty() || !op.text.empty() || !zsetOpEmpty(op.zset) {
		return false
	}
	if op.stream != nil && !op.stream.empty() {
		return false
	}
	if !op.bcounter.empty() {
		return false
	}
	if op.set != nil {
		if op.set.observed {
			return false
		}
		for i := range op.set.members {
			if !op.set.members[i].empty() {
				return false
			}
		}
	}
	if op.mp != nil {
		if op.mp.observed {
			return false
		}
		for i := range op.mp.fields {
			if !op.mp.fields[i].op.empty() {
				return false
			}
		}
	}
	return true
}

// setOp is the operation on a set component.
type setOp struct {
	observed bool       // remove every observed member dot (DEL, SET)
	members  []memberOp // sorted by member once finished
}

// memberOp removes the member's observed dots and/or adds it.
type memberOp struct {
	member   []byte
	observed bool
	add      bool
}

func (m *memberOp) empty() bool { return !m.observed && !m.add }

// mapOp is the operation on a map component.
type mapOp struct {
	observed bool      // remove the observed register and set entries of every field
	fields   []fieldOp // sorted by name once finished
}

// fieldOp is the operation on one map field: a nested valueOp without map.
type fieldOp struct {
	name []byte
	op   valueOp
}

// txnHeader is what applying an operation needs from its transaction.
type txnHeader struct {
	dot  causal.Dot
	time causal.Timestamp
	deps *causal.Context
}

// applyOp applies op to v. It cannot fail: a transaction is validated when
// it is built or decoded, and Apply checks readiness first, which is what
// makes Apply atomic.
func applyOp(v *Value, op *valueOp, t *txnHeader, h *hasher) {
	switch {
	case op.flags&opRegSet != 0:
		v.reg.write(op.flags&opRegClear != 0, regDelta{dot: t.dot, time: t.time, value: op.value}, t.deps)
	case op.flags&opRegClear != 0:
		v.reg.clear(t.deps)
	}
	if len(op.resets) > 0 || op.flags&opCounterInc != 0 {
		if v.ctr() == nil {
			v.putCtr(&counter{})
		}
		for _, r := range op.resets {
			v.ctr().reset(r)
		}
		if op.flags&opCounterInc != 0 {
			v.ctr().increment(counterDelta{node: t.dot.Node, k: t.dot.Counter, sum: op.sum})
		}
	}
	if op.set != nil {
		if v.oset() == nil {
			v.putSet(newSet())
		}
		if op.set.observed {
			v.oset().clearObserved(t.deps, h)
		}
		for i := range op.set.members {
			m := &op.set.members[i]
			if m.empty() {
				continue
			}
			v.oset().joinMember(setDelta{member: m.member, observed: m.observed, add: m.add, dot: t.dot}, t.deps, h)
		}
		if len(v.oset().members) == 0 {
			v.putSet(nil)
		}
	}
	if op.mp != nil {
		if v.omap() == nil {
			v.putMap(newMap())
		}
		if op.mp.observed {
			v.omap().clearObserved(t.deps, h)
		}
		for i := range op.mp.fields {
			f := &op.mp.fields[i]
			if f.op.empty() {
				continue
			}
			v.omap().applyField(f.name, &f.op, t, h)
		}
		if len(v.omap().fields) == 0 {
			v.putMap(nil)
		}
	}
	applyExpiry(v, op, t)
	applySeqs(v, op, t)
	applyZSet(v, op, t, h)
	applyStream(v, op.stream, t, h)
	applyBCounter(v, op.bcounter, t)
}

// Keys calls fn with each key the transaction touches, in bytewise order.
// The slices alias the transaction.
func (t *Txn) Keys(fn func(key []byte) bool) {
	for i := range t.ops {
		if !fn(t.ops[i].key) {
			return
		}
	}
}

// Len is the number of keys the transaction touches; zero for an empty
// transaction (which changes nothing and need not be committed).
func (t *Txn) Len() int { return len(t.ops) }

// resetsObserved reports whether every counter reset names an increment
// in Deps: a writer can only have observed what its causal past holds.
// Apply checks it before changing anything, so a hostile transaction
// cannot plant a counter entry outside the context.
func (t *Txn) resetsObserved() bool {
	for i := range t.ops {
		if !resetsIn(&t.ops[i].op, &t.Deps) || !zsetResetsIn(&t.ops[i].op, &t.Deps, t.Dot.Node) ||
			!bcounterOpValid(&t.ops[i].op, &t.Deps, t.Dot) {
			return false
		}
	}
	return true
}

func resetsIn(op *valueOp, deps *causal.Context) bool {
	for _, r := range op.resets {
		if !deps.Contains(causal.Dot{Node: r.node, Counter: r.k}) {
			return false
		}
	}
	if op.mp != nil {
		for i := range op.mp.fields {
			if !resetsIn(&op.mp.fields[i].op, deps) {
				return false
			}
		}
	}
	return true
}
