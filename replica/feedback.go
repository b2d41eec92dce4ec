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
	r.settleCut()
}

// SetDurable tells the replica that every transaction in v (an applied
// vector it had) is durable here: a crash of this node cannot take it
// back. From the first call on, the collapsed cut counts this node by the
// durable vector rather than by what is applied in memory, so a
// transaction is never reported collapsed while a crash of this node
// could still lose it. A driver without a disk reports each applied
// vector at once. Drivers that never call it (tests) keep the in-memory
// cut.
func (r *Replica) SetDurable(v *causal.VersionVector) {
	if r.durableSet && r.durable.Equal(v) {
		return
	}
	if r.durableSet && v.Dominates(&r.durable) {
		// This node's term of the cut can only rise: settleCut notes
		// whether it held the cut down.
		r.selfDirty = true
	} else {
		r.cutDirty = true
	}
	r.noteDurable(&r.durable, v)
	r.durable.CopyFrom(v) // never handed out: its storage is reused
	r.durableSet = true
}
