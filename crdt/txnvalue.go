package crdt

import "bytes"

// RegisterSet returns the value t writes on key when its operation there
// is a plain register write (Builder.Set: the register's observed entries
// cleared and one value set, no other component touched). It reports
// false when t does not touch key or does anything else to it. The
// replica uses it to check a transaction's content before applying it
// (write-rights policies, replica's policy.go).
func (t *Txn) RegisterSet(key []byte) ([]byte, bool) {
	for i := range t.ops {
		if !bytes.Equal(t.ops[i].key, key) {
			continue
		}
		op := &t.ops[i].op
		if op.tag()&^opRegClear != opRegSet {
			return nil, false
		}
		return op.value, true
	}
	return nil, false
}

// Ready reports whether txn's causal past is applied: whether Apply
// would take it now (rather than answer ErrNotReady), if it is not
// already applied.
func (ks *Keyspace) Ready(txn *Txn) bool { return containsContext(&ks.ctx, &txn.Deps) }

// MapFieldSets calls fn with each field t sets on key and the value it
// sets, when t's operation there is plain map field writes
// (Builder.MapSet: for each field, its observed entries cleared and one
// register value set; nothing else at the key or the field). It reports
// false, calling fn for nothing, when t does not touch key or does
// anything else to it. The replica uses it to check writes of internal
// records (replica's internalrights.go).
func (t *Txn) MapFieldSets(key []byte, fn func(field, value []byte)) bool {
	for i := range t.ops {
		if !bytes.Equal(t.ops[i].key, key) {
			continue
		}
		op := &t.ops[i].op
		if op.tag()&^opRegClear != opMap || op.mp.observed {
			return false
		}
		for j := range op.mp.fields {
			if op.mp.fields[j].op.tag()&^opRegClear != opRegSet {
				return false
			}
		}
		for j := range op.mp.fields {
			fn(op.mp.fields[j].name, op.mp.fields[j].op.value)
		}
		return true
	}
	return false
}
