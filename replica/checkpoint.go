package replica

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// Checkpoints (audit mode). Members do not observe the same sequence of
// collapsed cuts, and two members that append the same transactions in a
// different order get different trees, so the cuts a checkpoint covers
// are agreed through the replicated state: one member, the checkpointer
// (the bootstrap member with the lowest id, the same on every node),
// writes the internal key CheckpointKey with (index, cut) whenever its
// collapsed cut has moved, at most every Audit.CheckpointTicks. Every
// member applies those writes in the checkpointer's order (causal
// delivery), and for each appends to its checkpoint log the transactions
// in cut but not in the previous checkpoint's cut, ordered by origin id
// then counter (audit.Leaves): equal cuts, equal leaves, equal roots. It
// then signs the tree head and logs it as a checkpoint record (kind 8:
// 0x08 | signed note, see audit.Checkpoint.Text).
//
// A member holds the hash of each applied transaction until a checkpoint
// covers it (at most MaxCheckpointPendingTxns). One that received dots
// without their transactions (reconciliation, a snapshot from before
// them) or overflowed that bound cannot compute the next checkpoint: it
// raises EventCheckpointGap once and stops checkpointing; its signed
// transaction chains are unaffected.
const (
	// CheckpointKey is the internal key the checkpointer writes.
	CheckpointKey = InternalPrefix + "audit/checkpoint"
	// DefaultCheckpointTicks: one checkpoint a second at most (10 ms
	// ticks) bounds how long a collapsed transaction waits for its proof.
	DefaultCheckpointTicks = 100
	// MaxCheckpointPendingTxns bounds the transaction hashes a member
	// holds for checkpoints to come (48 bytes and a map entry each); past
	// it the member stops checkpointing (EventCheckpointGap).
	MaxCheckpointPendingTxns = 1 << 20

	recordCheckpoint byte = 8
)

// checkpointState is a member's checkpoint log: the frontier of its
// tree, the last checkpoint, and the hashes of applied transactions no
// checkpoint covers yet.
type checkpointState struct {
	tree    audit.Frontier
	index   uint64
	cut     causal.VersionVector
	pending map[causal.Dot]audit.Hash
	// gap, once set, says why this member stopped checkpointing.
	gap        string
	proposedAt uint64 // tick of the last checkpoint proposed
	// proposed is the dot of the last checkpoint this node proposed: a
	// cut that moved by that transaction alone is no reason for another
	// (a quiet cluster would checkpoint its own checkpoints for ever).
	proposed causal.Dot
}

// checkpointer is the member that writes CheckpointKey.
func (r *Replica) checkpointer() causal.NodeID { return checkpointerOf(r.bootstrap) }

// checkpointerOf is the checkpointer of a cluster whose initial member
// list is bootstrap: its member with the lowest id.
func checkpointerOf(bootstrap []Peer) causal.NodeID {
	var low causal.NodeID
	for _, p := range bootstrap {
		if low == 0 || p.ID < low {
			low = p.ID
		}
	}
	return low
}

// notePending records an applied sealed transaction's hash for the next
// checkpoint.
func (r *Replica) notePending(dot causal.Dot, h audit.Hash) {
	cp := &r.checkpoints
	if cp.gap != "" || cp.cut.Contains(dot) {
		return
	}
	if len(cp.pending) >= MaxCheckpointPendingTxns {
		r.checkpointGap(fmt.Sprintf("%d transactions wait for a checkpoint (MaxCheckpointPendingTxns)", len(cp.pending)))
		return
	}
	if cp.pending == nil {
		cp.pending = map[causal.Dot]audit.Hash{}
	}
	cp.pending[dot] = h
}

func (r *Replica) checkpointGap(why string) {
	cp := &r.checkpoints
	cp.gap, cp.pending = why, nil
	r.event(EventCheckpointGap, 0, causal.Dot{}, why)
}

// tickCheckpoint proposes a checkpoint if this node is the checkpointer
// and its collapsed cut moved since the last one.
func (r *Replica) tickCheckpoint() {
	cp := &r.checkpoints
	if !r.cfg.Audit.enabled() || r.state != NodeMember || r.checkpointer() != r.id || cp.gap != "" ||
		r.tick-cp.proposedAt < uint64(r.cfg.Audit.CheckpointTicks) {
		return
	}
	cut := r.CollapsedVector()
	cut.Merge(&cp.cut)
	if !r.cutMovedByWrites(&cut) {
		return
	}
	cp.proposedAt = r.tick
	value := codec.AppendUvarint(nil, cp.index+1)
	value = cut.AppendBinary(value)
	dot, err := r.propose(func(b *crdt.Builder) error { return b.Set([]byte(CheckpointKey), value) }, true)
	if err != nil {
		r.checkpointGap("proposing a checkpoint: " + err.Error())
		return
	}
	cp.proposed = dot
}

// cutMovedByWrites reports whether cut holds a transaction the last
// checkpoint does not, other than the last checkpoint's own.
func (r *Replica) cutMovedByWrites(cut *causal.VersionVector) bool {
	cp := &r.checkpoints
	for _, e := range cut.Entries() {
		had := cp.cut.Get(e.Node)
		if e.Counter == had {
			continue
		}
		if e.Node == cp.proposed.Node && had+1 == e.Counter && e.Counter == cp.proposed.Counter {
			continue
		}
		return true
	}
	return false
}

// applyCheckpoint runs after a transaction of the checkpointer that
// wrote CheckpointKey was applied: it appends the checkpoint's leaves,
// signs the new tree head and logs it.
func (r *Replica) applyCheckpoint() {
	cp := &r.checkpoints
	if cp.gap != "" {
		return
	}
	var raw []byte
	ok := false
	if v := r.ks.Get([]byte(CheckpointKey)); v != nil {
		raw, ok = v.Register()
	}
	if !ok {
		r.checkpointGap("checkpoint key holds no register")
		return
	}
	rd := codec.NewReader(raw)
	index := rd.Uvarint("checkpoint index")
	cut := causal.DecodeVersionVector(rd)
	if err := rd.Finish(); err != nil || index != cp.index+1 || !cut.Dominates(&cp.cut) {
		r.checkpointGap(fmt.Sprintf("checkpoint %d after %d does not follow (%v)", index, cp.index, err))
		return
	}
	leaves, err := audit.Leaves(&cp.cut, &cut, func(origin, counter uint64) (audit.Hash, bool) {
		h, ok := cp.pending[causal.Dot{Node: causal.NodeID(origin), Counter: counter}]
		return h, ok
	})
	if err != nil {
		r.checkpointGap(err.Error())
		return
	}
	for _, l := range leaves {
		if err := cp.tree.Append(l.Data()); err != nil {
			panic(fmt.Sprintf("replica: checkpoint frontier: %v", err))
		}
		delete(cp.pending, causal.Dot{Node: causal.NodeID(l.Origin), Counter: l.Counter})
	}
	cp.index, cp.cut = index, cut
	root, err := cp.tree.Root()
	if err != nil {
		panic(fmt.Sprintf("replica: checkpoint root: %v", err))
	}
	c := audit.Checkpoint{Cluster: r.cfg.Cluster, Index: index, N: cp.tree.N, Root: root, Cut: cut.Clone()}
	signed, err := audit.SignCheckpoint(&c, r.cfg.Name, r.cfg.Audit.SigningKey)
	if err != nil {
		r.checkpointGap("signing checkpoint: " + err.Error())
		return
	}
	r.ready.Records = append(r.ready.Records, append([]byte{recordCheckpoint}, signed...))
}

// LastCheckpoint returns this member's last checkpoint (Index 0: none
// yet) and, if it stopped checkpointing, why.
func (r *Replica) LastCheckpoint() (audit.Checkpoint, string) {
	cp := &r.checkpoints
	root, _ := cp.tree.Root()
	return audit.Checkpoint{Cluster: r.cfg.Cluster, Index: cp.index, N: cp.tree.N, Root: root, Cut: cp.cut.Clone()}, cp.gap
}

// appendCheckpointState and readCheckpointState carry the checkpoint
// log in an audited snapshot (kind 7, after the chain heads):
//
//	index uvarint | cut (causal vector) | tree size uvarint |
//	frontier hashes (32 each, one per set bit of the size) |
//	gap bytes | pending count uvarint | count × (node u64 LE | counter uvarint | hash 32)
func (r *Replica) appendCheckpointState(b []byte) []byte {
	cp := &r.checkpoints
	b = codec.AppendUvarint(b, cp.index)
	b = cp.cut.AppendBinary(b)
	b = codec.AppendUvarint(b, uint64(cp.tree.N))
	for _, h := range cp.tree.Hashes() {
		b = append(b, h[:]...)
	}
	b = codec.AppendString(b, cp.gap)
	dots := make([]causal.Dot, 0, len(cp.pending))
	for d := range cp.pending {
		dots = append(dots, d)
	}
	slices.SortFunc(dots, func(a, b causal.Dot) int {
		if c := cmpID(a.Node, b.Node); c != 0 {
			return c
		}
		return cmp.Compare(a.Counter, b.Counter)
	})
	b = codec.AppendUvarint(b, uint64(len(dots)))
	for _, d := range dots {
		h := cp.pending[d]
		b = binary.LittleEndian.AppendUint64(b, uint64(d.Node))
		b = codec.AppendUvarint(b, d.Counter)
		b = append(b, h[:]...)
	}
	return b
}

func readCheckpointState(rd *codec.Reader) (checkpointState, error) {
	var cp checkpointState
	cp.index = rd.Uvarint("checkpoint index")
	cp.cut = causal.DecodeVersionVector(rd)
	n := rd.Uvarint("checkpoint tree size")
	if rd.Err() == nil && n >= 1<<62 {
		rd.Fail("checkpoint tree size", codec.ErrInvalid)
	}
	var hashes []tlog.Hash
	for l := 0; l < 63 && rd.Err() == nil; l++ {
		if n&(1<<l) != 0 {
			if raw := rd.Raw("frontier hash", audit.HashBytes); raw != nil {
				hashes = append(hashes, tlog.Hash(raw))
			}
		}
	}
	cp.gap = string(rd.Bytes("checkpoint gap", MaxReasonBytes))
	count := rd.Count("pending checkpoint txns", MaxCheckpointPendingTxns, 8+1+audit.HashBytes)
	for i := 0; i < count && rd.Err() == nil; i++ {
		node := rd.Raw("pending node", 8)
		counter := rd.Uvarint("pending counter")
		h := rd.Raw("pending hash", audit.HashBytes)
		if rd.Err() == nil {
			if cp.pending == nil {
				cp.pending = map[causal.Dot]audit.Hash{}
			}
			cp.pending[causal.Dot{Node: causal.NodeID(binary.LittleEndian.Uint64(node)), Counter: counter}] = audit.Hash(h)
		}
	}
	if err := rd.Err(); err != nil {
		return checkpointState{}, err
	}
	tree, err := audit.SetFrontier(int64(n), hashes)
	if err != nil {
		return checkpointState{}, err
	}
	cp.tree = tree
	return cp, nil
}
