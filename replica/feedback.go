package replica

import (
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// ReportDropped tells the replica that messages to peer were lost or not
// sent (a full flow-control window, a full queue, a broken link). The
// replica answers with a digest to the peer at once, so the peer learns
// what it lacks and fetches it (from the retained log, or by
// reconciliation) at its own pace rather than at the next digest round.
// It is the driver's counterpart of raft's ReportUnreachable.
func (r *Replica) ReportDropped(peer causal.NodeID) {
	if r.state != NodeMember {
		return
	}
	if p, ok := r.peers[peer]; !ok || p.status != StateAlive {
		return
	}
	r.send(peer, Message{Type: MsgDigest, Hash: r.ks.Hash()})
}

// sendTxns sends a batch of transactions whose records total bytes.
func (r *Replica) sendTxns(to causal.NodeID, txns []*crdt.Txn, bytes int) {
	r.send(to, Message{Type: MsgTxns, Txns: txns})
	r.ready.Messages[len(r.ready.Messages)-1].Bytes = bytes
}

// Settle finishes work the replica defers until it is read (the collapsed
// cut is recomputed lazily). After Settle, and until the next call that
// changes the replica, its read methods (Status, Collapsed, AppliedBy,
// Members, Keyspace) change nothing, so a driver may let several
// goroutines read concurrently.
func (r *Replica) Settle() {
	if r.cutDirty {
		r.recomputeCut()
	}
}
