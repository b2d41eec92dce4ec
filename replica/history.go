package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// StateBuilder rebuilds the state at a checkpoint from a member's
// history (spook audit replay, point-in-time reads): fed the records in
// order, it applies exactly the transactions whose dot is in Cut. A
// collapsed cut is causally closed (a member applies a transaction's
// dependencies before it, so what every member applied includes them),
// and the log's order is an order in which they were applied, so each
// applies; and the same set of transactions gives the same state on
// every member, whatever their order. A history with repair records, or
// of a member that joined by snapshot, cannot be rebuilt this way (their
// state came without transactions).
type StateBuilder struct {
	Cut causal.VersionVector
	ks  *crdt.Keyspace
}

// Record applies the record at index if it is a transaction in Cut.
func (b *StateBuilder) Record(index uint64, rec []byte) error {
	if b.ks == nil {
		b.ks = crdt.NewKeyspace()
	}
	switch {
	case len(rec) == 0:
		return fmt.Errorf("%w: record %d is empty", ErrHistory, index)
	case rec[0] == recordJoin || rec[0] == recordRepairCommit:
		return fmt.Errorf("%w: record %d is a repair: the state before it came without transactions", ErrHistory, index)
	case rec[0] == recordJoinHeads:
		return fmt.Errorf("%w: record %d: this member joined by snapshot: the state before it came without transactions", ErrHistory, index)
	case rec[0] != recordSignedTxn && rec[0] != recordLinkedTxn && rec[0] != recordTxn:
		return nil
	}
	txn, err := decodeTxnRecord(rec)
	if err != nil {
		return fmt.Errorf("%w: record %d: %v", ErrHistory, index, err)
	}
	if !b.Cut.Contains(txn.Dot) {
		return nil
	}
	if err := b.ks.Apply(txn); err != nil {
		return fmt.Errorf("%w: record %d (transaction %s): %v", ErrHistory, index, txn.Dot, err)
	}
	return nil
}

// Keyspace returns the state rebuilt so far. It is complete once every
// record was fed and Keyspace().Context().Vector equals Cut.
func (b *StateBuilder) Keyspace() *crdt.Keyspace {
	if b.ks == nil {
		b.ks = crdt.NewKeyspace()
	}
	return b.ks
}
