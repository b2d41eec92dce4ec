package replica

import (
	"fmt"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// joinState is a snapshot transfer in progress: a joining node's, or a
// member's repair transfer.
type joinState struct {
	next    int           // index in Config.Join of the next peer to ask
	from    causal.NodeID // peer asked last
	askTick uint64
	asked   bool
	buf     []byte
	total   uint64
	// repair marks a transfer requested by a member to repair its state
	// (after reconciliation kept failing), not to join.
	repair bool
}

// requestRepairSnapshot asks peer for its whole state, to be joined into
// ours: the fallback when reconciliation against a busy peer keeps
// aborting or the difference is too large to buffer.
func (r *Replica) requestRepairSnapshot(peer causal.NodeID) {
	j := &r.join
	j.from, j.askTick, j.asked, j.buf, j.total, j.repair = peer, r.tick, true, nil, 0, true
	r.send(peer, Message{Type: MsgSnapshotReq})
}

// tickJoin asks a join peer for a snapshot, and the next one after
// JoinRetryTicks without one.
func (r *Replica) tickJoin() {
	j := &r.join
	if j.asked && r.tick-j.askTick < uint64(r.cfg.JoinRetryTicks) {
		return
	}
	p := r.cfg.Join[j.next%len(r.cfg.Join)]
	j.next++
	j.from, j.askTick, j.asked, j.buf, j.total = p.ID, r.tick, true, nil, 0
	r.send(p.ID, Message{Type: MsgSnapshotReq})
}

// stepSnapshotReq sends the whole state in chunks of at most MaxBatchBytes.
func (r *Replica) stepSnapshotReq(from causal.NodeID) {
	if r.state != NodeMember && r.state != NodeLeft {
		return
	}
	if r.snapshot == nil || r.snapHash != r.ks.Hash() {
		r.snapshot, r.snapHash = encodeSnapshot(r.bootstrapForSnapshot(), r.ks), r.ks.Hash()
	}
	b := r.snapshot
	total := uint64(len(b))
	for off := 0; off < len(b); off += r.cfg.MaxBatchBytes {
		end := min(off+r.cfg.MaxBatchBytes, len(b))
		r.send(from, Message{Type: MsgSnapshot, Offset: uint64(off), Total: total, Chunk: b[off:end]})
	}
}

// bootstrapForSnapshot is the member list a joining node starts from.
func (r *Replica) bootstrapForSnapshot() []Peer { return r.bootstrap }

// stepSnapshot assembles snapshot chunks and installs the snapshot.
func (r *Replica) stepSnapshot(from causal.NodeID, m *Message) error {
	j := &r.join
	if from != j.from || (r.state != NodeJoining && !(j.repair && r.state == NodeMember)) {
		return nil // late or unasked: ignore
	}
	if m.Offset == 0 {
		j.buf, j.total = make([]byte, 0, min(m.Total, uint64(r.cfg.MaxBatchBytes)*4)), m.Total
	}
	if m.Offset != uint64(len(j.buf)) || m.Total != j.total {
		j.buf, j.total = nil, 0
		return fmt.Errorf("%w: snapshot chunk at %d of %d, expected %d of %d",
			ErrBadMessage, m.Offset, m.Total, len(j.buf), j.total)
	}
	j.buf = append(j.buf, m.Chunk...)
	if uint64(len(j.buf)) < j.total {
		return nil
	}
	snap := j.buf
	j.buf, j.total = nil, 0
	boot, ks, err := decodeSnapshot(snap)
	if err != nil {
		r.event(EventMessageRefused, from, causal.Dot{}, err.Error())
		return fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if j.repair {
		j.repair = false
		r.joinSnapshot(from, ks)
		return nil
	}
	r.bootstrap, r.ks = boot, ks
	r.ready.Snapshot = snap
	r.ready.Records = nil // superseded by the snapshot
	r.resetLog()
	r.state = NodeMember
	r.refreshMembers(false)
	if r.state != NodeMember {
		return nil // this ID was removed or left before: stay read-only
	}
	if rec := r.memberRecord(r.id); rec == nil || rec.status == statusMember {
		if _, err := r.proposeMembership(r.id, r.cfg.Name, r.cfg.Addr, statusMember); err != nil {
			return err
		}
	}
	r.refreshMembers(false)
	r.event(EventJoined, from, causal.Dot{}, fmt.Sprintf("snapshot of %d bytes, %d keys", len(snap), r.ks.Len()))
	// Catch up on what the snapshot's sender applied since.
	r.fetchSentAt[from] = r.tick
	r.send(from, Message{Type: MsgFetch})
	r.cutDirty = true
	return nil
}

// joinSnapshot joins a peer's whole state into ours in one step, reports
// the keys whose state changed, and persists the result as a snapshot.
func (r *Replica) joinSnapshot(from causal.NodeID, other *crdt.Keyspace) {
	if s := r.sync; s != nil {
		r.abortSync("replaced by a snapshot transfer")
	}
	before := map[string]uint64{}
	var keys []string
	note := func(k []byte, _ *crdt.Value) bool {
		if _, ok := before[string(k)]; !ok {
			before[string(k)] = r.ks.KeyHash(k)
			keys = append(keys, string(k))
		}
		return true
	}
	r.ks.Range(nil, note)
	other.Range(nil, note)
	r.ks.Join(other)
	slices.Sort(keys)
	for _, k := range keys {
		if IsInternalKey([]byte(k)) {
			r.membersDirty = true
			continue
		}
		if r.ks.KeyHash([]byte(k)) == before[k] {
			continue
		}
		ch := Change{Key: []byte(k), Origin: from, Type: crdt.TypeNone, Deleted: true}
		if v := r.ks.Get([]byte(k)); v != nil {
			ch.Type, ch.Deleted = v.Type(), false
		}
		r.ready.Changes = append(r.ready.Changes, ch)
	}
	// The whole state is the new base: it includes every record so far.
	r.ready.Snapshot = encodeSnapshot(r.bootstrap, r.ks)
	r.ready.Records = nil
	r.resetLog()
	r.drainPending()
	r.refreshMembers(true)
	r.cutDirty = true
	r.event(EventRepaired, from, causal.Dot{}, fmt.Sprintf("snapshot transfer: %d keys changed", len(r.ready.Changes)))
}
