package replica

import (
	"fmt"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Snapshot transfer is a pull by the receiver (a joining node, or a member
// repairing its whole state): it asks for the chunk at an offset of a
// snapshot the sender has pinned, keeps at most MaxSnapshotChunksInFlight
// requests outstanding, and asks again for a chunk unanswered after
// SnapshotRetryTicks, so a broken link (frames lost) only delays it: the
// transfer resumes from the chunks it has. The sender answers each request
// with one chunk of at most SnapshotChunkBytes and keeps no per-receiver
// state but the pin.
//
// A snapshot is named by its id, the sender's state hash when it encoded
// it. The sender pins the encoding (at most MaxSnapshotPins, each dropped
// after SnapshotPinTicks without a request), so every chunk of a transfer
// comes from one encoding while the sender's state moves on. A request
// for an id no longer pinned is answered from the current pin at offset
// 0, and the receiver, seeing another id, starts over.

// joinState is a snapshot transfer in progress: a joining node's, or a
// member's repair transfer.
type joinState struct {
	next    int           // index in Config.Join of the next peer to ask
	from    causal.NodeID // peer asked last
	askTick uint64
	asked   bool
	// progressTick is when the last new chunk arrived: a transfer still
	// making progress is not moved to another peer.
	progressTick uint64
	// id names the snapshot being assembled (zero until its first chunk,
	// at offset 0, gives it with its total and chunk size).
	id         uint64
	total      uint64
	chunkBytes uint64
	buf        []byte
	got        map[uint64]bool // chunk offsets received (transports may reorder or duplicate)
	gotLen     uint64          // bytes received in distinct chunks
	// inflight maps the offset of each outstanding request to the tick
	// it was (last) sent; nextOff is the next offset not yet requested.
	inflight map[uint64]uint64
	nextOff  uint64
	// repair marks a transfer requested by a member to repair its state
	// (after reconciliation kept failing), not to join.
	repair bool
}

// snapshotPin is an encoded snapshot kept for receivers pulling it.
type snapshotPin struct {
	id          uint64
	data        []byte
	createdTick uint64
	usedTick    uint64
}

// requestRepairSnapshot asks peer for its whole state, to be joined into
// ours: the fallback when reconciliation against a busy peer keeps
// aborting or the difference is too large to buffer.
func (r *Replica) requestRepairSnapshot(peer causal.NodeID) {
	if r.repairRefusedRecently(peer) {
		return
	}
	r.startTransfer(peer)
	r.join.repair = true
}

// startTransfer starts a snapshot transfer from peer at offset 0.
func (r *Replica) startTransfer(peer causal.NodeID) {
	j := &r.join
	*j = joinState{next: j.next, from: peer, askTick: r.tick, progressTick: r.tick, asked: true,
		inflight: map[uint64]uint64{}}
	r.requestChunk(0)
}

// restartTransfer forgets what was assembled (the sender's pinned
// snapshot changed) and asks for offset 0 again unless it is answered.
func (j *joinState) restartTransfer() {
	*j = joinState{next: j.next, from: j.from, askTick: j.askTick, progressTick: j.progressTick,
		asked: true, repair: j.repair, inflight: map[uint64]uint64{}}
}

// requestChunk asks the transfer's peer for the chunk at off.
func (r *Replica) requestChunk(off uint64) {
	j := &r.join
	j.inflight[off] = r.tick
	r.send(j.from, Message{Type: MsgSnapshotReq, Offset: off, Hash: j.id})
}

// tickJoin drives a joining node's transfer: a first request, re-requests,
// and the next join peer after JoinRetryTicks without progress.
func (r *Replica) tickJoin() {
	j := &r.join
	if !j.asked || r.tick-max(j.askTick, j.progressTick) >= uint64(r.cfg.JoinRetryTicks) {
		p := r.cfg.Join[j.next%len(r.cfg.Join)]
		j.next++
		r.startTransfer(p.ID)
		return
	}
	r.retryChunks()
}

// tickRepairTransfer drives a member's repair transfer: re-requests, and
// giving up after JoinRetryTicks without progress (reconciliation tries
// again at a later digest).
func (r *Replica) tickRepairTransfer() {
	j := &r.join
	if !j.repair || !j.asked {
		return
	}
	if r.tick-j.progressTick >= uint64(r.cfg.JoinRetryTicks) {
		r.event(EventRepairAborted, j.from, causal.Dot{}, "snapshot transfer made no progress")
		*j = joinState{next: j.next}
		return
	}
	r.retryChunks()
}

// retryChunks asks again for every chunk unanswered for
// SnapshotRetryTicks, in offset order.
func (r *Replica) retryChunks() {
	j := &r.join
	var due []uint64
	for off, t := range j.inflight {
		if r.tick-t >= uint64(r.cfg.SnapshotRetryTicks) {
			due = append(due, off)
		}
	}
	slices.Sort(due)
	for _, off := range due {
		r.requestChunk(off)
	}
}

// stepSnapshotReq answers one chunk request from a pinned snapshot.
func (r *Replica) stepSnapshotReq(from causal.NodeID, m *Message) {
	if r.state != NodeMember && r.state != NodeLeft {
		return
	}
	pin := r.pinFor(m.Hash)
	pin.usedTick = r.tick
	off := m.Offset
	if m.Hash != pin.id || off >= uint64(len(pin.data)) {
		off = 0 // another snapshot: the receiver starts over
	}
	end := min(off+uint64(r.cfg.SnapshotChunkBytes), uint64(len(pin.data)))
	r.send(from, Message{Type: MsgSnapshot, Offset: off, Total: uint64(len(pin.data)), Hash: pin.id,
		Chunk: pin.data[off:end]})
}

// pinFor returns the pinned snapshot with id, or else one of the current
// state, encoding and pinning it if there is room for another pin, or
// else the newest pin (an older state, still whole and consistent: the
// receiver catches up on the rest by fetch).
func (r *Replica) pinFor(id uint64) *snapshotPin {
	if id != 0 {
		for i := range r.pins {
			if r.pins[i].id == id {
				return &r.pins[i]
			}
		}
	}
	cur := r.ks.Hash() | 1 // never zero: zero names no snapshot
	for i := range r.pins {
		if r.pins[i].id == cur {
			return &r.pins[i]
		}
	}
	if len(r.pins) < r.cfg.MaxSnapshotPins {
		r.pins = append(r.pins, snapshotPin{id: cur, data: r.appendAuditHeads(encodeSnapshot(r.bootstrapForSnapshot(), r.ks)),
			createdTick: r.tick, usedTick: r.tick})
		return &r.pins[len(r.pins)-1]
	}
	newest := 0
	for i := range r.pins {
		if r.pins[i].createdTick > r.pins[newest].createdTick {
			newest = i
		}
	}
	return &r.pins[newest]
}

// expirePins drops pins unused for SnapshotPinTicks.
func (r *Replica) expirePins() {
	r.pins = slices.DeleteFunc(r.pins, func(p snapshotPin) bool {
		return r.tick-p.usedTick >= uint64(r.cfg.SnapshotPinTicks)
	})
}

// bootstrapForSnapshot is the member list a joining node starts from.
func (r *Replica) bootstrapForSnapshot() []Peer { return r.bootstrap }

// stepSnapshot places a snapshot chunk, asks for more, and installs the
// snapshot once whole.
func (r *Replica) stepSnapshot(from causal.NodeID, m *Message) error {
	j := &r.join
	if !j.asked || from != j.from || (r.state != NodeJoining && !(j.repair && r.state == NodeMember)) {
		return nil // late or unasked: ignore
	}
	if j.id != 0 && (m.Hash != j.id || m.Total != j.total) {
		// The sender's pinned snapshot changed (expired, or it restarted):
		// start over, from this chunk if it is the first.
		j.restartTransfer()
		if m.Offset != 0 {
			r.requestChunk(0)
			return nil
		}
	}
	if j.id == 0 {
		if m.Offset != 0 {
			return nil // a chunk of an abandoned transfer
		}
		j.id, j.total, j.chunkBytes = m.Hash, m.Total, uint64(len(m.Chunk))
		j.buf, j.got, j.nextOff = make([]byte, m.Total), map[uint64]bool{}, j.chunkBytes
	}
	delete(j.inflight, m.Offset)
	if !j.got[m.Offset] {
		j.got[m.Offset] = true
		j.gotLen += uint64(copy(j.buf[m.Offset:], m.Chunk))
		j.progressTick = r.tick
	}
	if j.gotLen < j.total {
		for len(j.inflight) < r.cfg.MaxSnapshotChunksInFlight && j.nextOff < j.total {
			r.requestChunk(j.nextOff)
			j.nextOff += j.chunkBytes
		}
		return nil
	}
	snap := j.buf
	repair := j.repair
	*j = joinState{next: j.next, from: j.from}
	boot, ks, err := decodeSnapshot(snap)
	if err == nil {
		_, err = splitAuditHeads(snap, r)
	}
	if err != nil {
		// Each chunk was a valid message; what they assemble is refused.
		// The transfer is dropped and retried, and nothing else changes.
		r.event(EventMessageRefused, from, causal.Dot{}, err.Error())
		return nil
	}
	judgeBy := r.bootstrap
	if !repair {
		judgeBy = boot // a joining node has no list of its own yet
	}
	if dot, err := r.checkRepairState(ks, judgeBy); err != nil {
		// Write rights (repairrights.go): nothing installed; a joining
		// node asks its next join peer.
		r.refuseRepair(from, "snapshot", dot, err)
		return nil
	}
	if repair {
		r.joinSnapshot(from, ks)
		return nil
	}
	r.bootstrap, r.ks = boot, ks
	r.pol.loaded = false
	r.ready.Snapshot = snap
	r.ready.Records = nil // superseded by the snapshot
	if r.cfg.Audit.enabled() {
		r.ready.Records = append(r.ready.Records, r.joinHeadsRecord())
	}
	r.resetLog()
	r.state = NodeMember
	r.refreshMembers(false)
	r.ov.stale = true
	if r.state != NodeMember {
		return nil // this ID was removed or left before: stay read-only
	}
	if rec := r.memberRecord(r.id); rec == nil || rec.status == statusMember {
		if _, err := r.proposeSelf(); err != nil {
			return err
		}
	}
	r.refreshMembers(false)
	r.ov.stale = true
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
	r.pol.loaded = false
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
	r.ready.Snapshot = r.appendAuditHeads(encodeSnapshot(r.bootstrap, r.ks))
	r.ready.Records = nil
	r.resetLog()
	r.drainPending()
	r.trimLog() // drainPending retained what it applied
	r.refreshMembers(true)
	r.ov.stale = true
	r.cutDirty = true
	r.event(EventRepaired, from, causal.Dot{}, fmt.Sprintf("snapshot transfer: %d keys changed", len(r.ready.Changes)))
}
