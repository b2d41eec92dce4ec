package replica

import (
	"bytes"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
)

// KeyHistory collects, record by record, the transactions of a history
// whose operations touch Key, in log order. A key's value (of any type)
// is the merge of the operations on it, and each transaction's operation
// on a key depends only on that key's state and the transaction's
// causal context: so the value at a checkpoint is the merge of exactly
// the operations on Key of the transactions in its cut that touch Key.
// Records that are not signed transactions are skipped; the verifier
// (HistoryVerifier) checks them.
type KeyHistory struct {
	Key  []byte
	Dots []causal.Dot
}

// Record notes the record's transaction if it touches Key.
func (k *KeyHistory) Record(_ uint64, rec []byte) error {
	if len(rec) == 0 || (rec[0] != recordSignedTxn && rec[0] != recordLinkedTxn) {
		return nil
	}
	txn, err := decodeTxnRecord(rec)
	if err != nil {
		return err
	}
	touches := false
	txn.Keys(func(key []byte) bool {
		touches = bytes.Equal(key, k.Key)
		return !touches
	})
	if touches {
		k.Dots = append(k.Dots, txn.Dot)
	}
	return nil
}

// LeafProofIn proves that transaction dot is in the tree of checkpoint
// index (KeepProofs): its leaf index and data and the RFC 6962 inclusion
// proof against that checkpoint's root (tlog.CheckRecord accepts it).
func (v *HistoryVerifier) LeafProofIn(dot causal.Dot, index uint64) (int64, []byte, tlog.RecordProof, error) {
	c, ok := v.Checkpoint(index)
	if !ok {
		return 0, nil, nil, fmt.Errorf("%w: no checkpoint %d", audit.ErrCheckpoint, index)
	}
	i, ok := v.leafIndex[dot]
	if !ok {
		if err := v.droppedErr(dot); err != nil {
			return 0, nil, nil, err
		}
		return 0, nil, nil, fmt.Errorf("%w: transaction %s is in no checkpoint yet", audit.ErrCheckpoint, dot)
	}
	if i >= c.N {
		return 0, nil, nil, fmt.Errorf("%w: transaction %s (leaf %d) is not in checkpoint %d (%d leaves)", audit.ErrCheckpoint, dot, i, index, c.N)
	}
	data, err := v.tree.LeafData(i)
	if err != nil {
		return 0, nil, nil, err
	}
	p, err := v.tree.ProveLeaf(i, c.N)
	return i, data, p, err
}
