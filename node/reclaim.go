package node

import (
	"bytes"
	"context"
	"time"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// Reclaiming expired keys. Every replica hides a key once its deadline
// has passed (crdt.Value.Expired); one node removes it with an ordinary
// DEL transaction (crdt.Builder.Reclaim), so an expiry costs one
// transaction cluster-wide, not one per node. The reclaimer is the node
// that wrote the deadline (crdt.Value.DeadlineOwner). If that node is no
// longer an alive member, the alive member with the smallest id takes
// over ReclaimGrace after the deadline. Two nodes reclaiming one key (the
// owner's DEL had not arrived yet) is harmless: both DELs remove what
// they observed.
const (
	// ReclaimEvery is how often a node examines the next MaxReclaimScan
	// keys, resuming where it stopped: a keyspace of K keys is swept every
	// K/MaxReclaimScan × ReclaimEvery (10 s per million keys).
	ReclaimEvery = 100 * time.Millisecond
	// MaxReclaimScan is how many keys one round steps over (examining
	// those with a deadline), under the read lock.
	MaxReclaimScan = 10000
	// MaxReclaimKeys is how many keys one round deletes, in one
	// transaction; the rest wait for the next sweep.
	MaxReclaimKeys = 512
	// ReclaimGrace is how long after a deadline a node other than its
	// owner waits before reclaiming the key (owner gone or partitioned).
	ReclaimGrace = 10 * time.Second
)

// reclaimLoop runs reclaim rounds until the node stops.
func (n *Node) reclaimLoop() {
	defer n.wg.Done()
	t := time.NewTicker(ReclaimEvery)
	defer t.Stop()
	var cursor []byte
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		cursor = n.reclaimRound(cursor)
	}
}

// reclaimRound examines up to MaxReclaimScan keys from cursor, deletes
// the expired ones this node is responsible for, and returns where the
// next round starts (nil: from the beginning).
func (n *Node) reclaimRound(cursor []byte) []byte {
	now := uint64(n.cfg.now().UnixMilli())
	grace := uint64(ReclaimGrace.Milliseconds())
	var keys [][]byte
	var next []byte
	n.mu.RLock()
	self := n.ID()
	alive := map[causal.NodeID]bool{}
	var takeover causal.NodeID
	for _, m := range n.r.Members() {
		if m.State == replica.StateAlive {
			alive[m.ID] = true
			if takeover == 0 || m.ID < takeover {
				takeover = m.ID
			}
		}
	}
	next = n.r.Keyspace().RangeExpiring(cursor, MaxReclaimScan, func(key []byte, v *crdt.Value) bool {
		if !v.Reclaimable(now) {
			return true
		}
		d, _ := v.Deadline()
		if reclaims(self, v.DeadlineOwner(), alive, takeover, d, grace, now) {
			keys = append(keys, bytes.Clone(key))
		}
		return len(keys) < MaxReclaimKeys // full: the next round resumes after this key
	})
	n.mu.RUnlock()
	if len(keys) == 0 {
		return next
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReclaimEvery*10)
	defer cancel()
	// A refusal (read-only, stopping) leaves the keys for a later sweep.
	_, _ = n.Update(ctx, func(b *crdt.Builder) error {
		for _, k := range keys {
			if _, err := b.Reclaim(k); err != nil {
				return err
			}
		}
		return nil
	})
	return next
}

// reclaims decides whether node self deletes an expired key whose
// deadline d was written by owner: the owner does; if the owner is not an
// alive member, the smallest alive member (takeover) does once the grace
// period after the deadline has passed.
func reclaims(self, owner causal.NodeID, alive map[causal.NodeID]bool, takeover causal.NodeID, d, grace, now uint64) bool {
	if owner == self {
		return true
	}
	return !alive[owner] && takeover == self && d+grace <= now
}
