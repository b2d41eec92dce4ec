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
	// chunkTick is when the last chunk arrived: a transfer still making
	// progress is not restarted by the retry timer.
	chunkTick uint64
	buf       []byte
	total     uint64
	hash      uint64          // state hash of the snapshot being assembled
	got       map[uint64]bool // chunk offsets received (transports may reorder or duplicate)
	gotLen    uint64          // bytes received in distinct chunks
	// repair marks a transfer requested by a member to repair its state
	// (after reconciliation kept failing), not to join.
	repair bool
}

// requestRepairSnapshot asks peer for its whole state, to be joined into
// ours: the fallback when reconciliation against a busy peer keeps
// aborting or the difference is too large to buffer.
func (r *Replica) requestRepairSnapshot(peer causal.NodeID) {
	j := &r.join
	j.reset(peer, r.tick)
	j.repair = true
	r.send(peer, Message{Type: MsgSnapshotReq})
}

// reset starts a transfer from peer.
func (j *joinState) reset(peer causal.NodeID, tick uint64) {
	*j = joinState{next: j.next, from: peer, askTick: tick, asked: true}
}

// tickJoin asks a join peer for a snapshot, and the next one after
// JoinRetryTicks without one.
func (r *Replica) tickJoin() {
	j := &r.join
	if j.asked && r.tick-max(j.askTick, j.chunkTick) < uint64(r.cfg.JoinRetryTicks) {
		return
	}
	p := r.cfg.Join[j.next%len(r.cfg.Join)]
	j.next++
	j.reset(p.ID, r.tick)
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
		r.send(from, Message{Type: MsgSnapshot, Offset: uint64(off), Total: total, Hash: r.snapHash, Chunk: b[off:end]})
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
	j.chunkTick = r.tick
	// Chunks may arrive in any order, or twice: place each at its offset.
	if j.buf == nil {
		j.buf, j.total, j.hash, j.got, j.gotLen = make([]byte, m.Total), m.Total, m.Hash, map[uint64]bool{}, 0
	}
	if m.Total != j.total || m.Hash != j.hash {
		// Another transfer's chunk (the peer's state changed and it was
		// asked again): start over at the next request.
		j.buf, j.got = nil, nil
		return nil
	}
	if !j.got[m.Offset] {
		j.got[m.Offset] = true
		j.gotLen += uint64(copy(j.buf[m.Offset:], m.Chunk))
	}
	if j.gotLen < j.total {
		return nil
	}
	snap := j.buf
	j.buf, j.got = nil, nil
	boot, ks, err := decodeSnapshot(snap)
	if err != nil {
		// Each chunk was a valid message; what they assemble is refused.
		// The transfer is dropped and retried, and nothing else changes.
		r.event(EventMessageRefused, from, causal.Dot{}, err.Error())
		return nil
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
