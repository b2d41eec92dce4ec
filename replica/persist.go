package replica

import (
	"fmt"
	"slices"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/limits"
)

// Persisted formats. Records and snapshots are opaque to the driver; their
// first byte is a kind, append only (bytes are length-prefixed with a
// uvarint):
//
//	record, kind 1 (txn):    0x01 | crdt.Txn.AppendBinary
//	record, kind 2 (join):   0x02 | join body
//	join body:               join context (causal.Context) | merge flag byte | [merge context] |
//	                         count uvarint | count × (key bytes | present byte | [crdt value bytes])
//	snapshot:                0x03 | bootstrap count uvarint |
//	                         count × (id uvarint | name bytes | addr bytes) |
//	                         crdt.Keyspace.AppendBinary (rest)
//	snapshot, kind 10:       0x0a | as kind 3, each peer followed by its region bytes
//	                         (written only when some bootstrap peer has a region)
//	record, kind 4 (chunk):  0x04 | repair id uvarint | offset uvarint | total uvarint | chunk (rest)
//	record, kind 5 (commit): 0x05 | repair id uvarint | total uvarint
//	record, kind 6 and snapshot kind 7: audit mode (audit.go)
//	record, kind 9 (join heads): audit mode (audit.go)
//	record, kinds 11 (linked txn) and 12 (head seal): audit mode (audit.go)
//
// A join record is what a reconciliation did: JoinKey of each key with the
// join context and, when the merge flag is 1, MergeContext of the merge
// context after the keys. A join body too large for one record (above
// limits.MaxRecordBytes) is written as chunk records of at most
// limits.MaxRepairChunkBytes each, in order from offset 0, followed by a
// commit record; replay stages the chunks (at most
// limits.MaxRepairStagedBytes) and applies the body only at its commit.
// Chunks without their commit (a crash in between) are discarded: the
// repair had not happened, and runs again later.
const (
	recordTxn    byte = 1
	recordJoin   byte = 2
	snapshotKind byte = 3
	// snapshotRegionsKind is snapshotKind with a region per bootstrap
	// peer. A bootstrap list without regions is written as kind 3, so
	// snapshots of clusters without regions keep their format. (Kind 8
	// is audit mode's checkpoint record, audit.go; 9 is left to audit
	// mode too.)
	snapshotRegionsKind byte = 10
	// recordRepairChunk and recordRepairCommit stage a repair too large
	// for one record: see encodeRepair.
	recordRepairChunk  byte = 4
	recordRepairCommit byte = 5

	// maxBootstrapPeers bounds the initial member list a snapshot holds.
	maxBootstrapPeers = 4096
	// maxNameBytes bounds a node name or address in a snapshot or record.
	maxNameBytes = 1024
)

// maxRecordScratch bounds, in bytes, the encoding buffer a replica keeps
// between transaction records; a larger record's buffer is dropped after
// use rather than held.
const maxRecordScratch = 64 << 10

// txnRecord encodes a transaction record. The retained log keeps it for
// as long as peers may need it and counts its capacity, so it is encoded
// into the replica's scratch buffer (append grows it once, not once per
// record) and copied out at its size: one allocation per record.
func (r *Replica) txnRecord(txn *crdt.Txn) []byte {
	buf := appendTxnRecord(r.recScratch[:0], txn)
	rec := slices.Clip(append([]byte(nil), buf...))
	if cap(buf) <= maxRecordScratch {
		r.recScratch = buf
	} else {
		r.recScratch = nil
	}
	return rec
}

// appendTxnRecord appends txn's transaction record: kind 1 without a
// seal, kind 6 with one, kind 11 with a link (audit.go), then
// crdt.Txn.AppendBinary. Bundles of version 2 carry the same bytes.
func appendTxnRecord(dst []byte, txn *crdt.Txn) []byte {
	switch {
	case audit.Linked(txn.Seal):
		dst = append(append(dst, recordLinkedTxn), txn.Seal...)
	case txn.Seal != nil:
		dst = append(append(dst, recordSignedTxn), txn.Seal...)
	default:
		dst = append(dst, recordTxn)
	}
	return txn.AppendBinary(dst)
}

// joinRecord is a decoded join record.
type joinRecord struct {
	ctx  *causal.Context // nil: no MergeContext
	keys []KeyValue
	// joinCtx is the context each key was joined with.
	joinCtx *causal.Context
}

// encodeJoinRecord writes keys joined with joinCtx, then (if merge is
// non-nil) the context merged after them. joinCtx is written first.
func encodeJoinRecord(joinCtx *causal.Context, keys []KeyValue, merge *causal.Context) []byte {
	b := []byte{recordJoin}
	b = joinCtx.AppendBinary(b)
	if merge != nil {
		b = append(b, 1)
		b = merge.AppendBinary(b)
	} else {
		b = append(b, 0)
	}
	b = codec.AppendUvarint(b, uint64(len(keys)))
	for _, kv := range keys {
		b = codec.AppendBytes(b, kv.Key)
		if kv.Value == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = codec.AppendBytes(b, kv.Value)
		}
	}
	return b
}

func decodeJoinRecord(b []byte) (joinRecord, error) {
	r := codec.NewReader(b)
	var jr joinRecord
	jc := causal.DecodeContext(r)
	jr.joinCtx = &jc
	if r.Byte("merge flag") == 1 {
		c := causal.DecodeContext(r)
		jr.ctx = &c
	}
	n := r.Count("join keys", crdt.MaxKeys, 2)
	for i := 0; i < n && r.Err() == nil; i++ {
		kv := KeyValue{Key: r.Bytes("join key", crdt.MaxKeyBytes)}
		if r.Byte("join value flag") == 1 {
			kv.Value = r.Bytes("join value", maxValueEncodingBytes)
		}
		jr.keys = append(jr.keys, kv)
	}
	if err := r.Finish(); err != nil {
		return joinRecord{}, err
	}
	return jr, nil
}

// encodeRepair returns the records of a repair: one join record if its
// body fits limits.MaxRecordBytes, else chunk records and a commit
// record. id names the repair (its session id).
func encodeRepair(id uint64, joinCtx *causal.Context, keys []KeyValue, merge *causal.Context) [][]byte {
	rec := encodeJoinRecord(joinCtx, keys, merge)
	if len(rec) <= limits.MaxRecordBytes {
		return [][]byte{rec}
	}
	body := rec[1:]
	total := uint64(len(body))
	var out [][]byte
	for off := 0; off < len(body); off += limits.MaxRepairChunkBytes {
		end := min(off+limits.MaxRepairChunkBytes, len(body))
		c := make([]byte, 0, limits.ChunkHeaderBytes+end-off)
		c = append(c, recordRepairChunk)
		c = codec.AppendUvarint(c, id)
		c = codec.AppendUvarint(c, uint64(off))
		c = codec.AppendUvarint(c, total)
		out = append(out, append(c, body[off:end]...))
	}
	c := []byte{recordRepairCommit}
	c = codec.AppendUvarint(c, id)
	return append(out, codec.AppendUvarint(c, total))
}

// repairStage holds the chunk records of a repair during replay, until
// its commit record.
type repairStage struct {
	id    uint64
	total uint64
	body  []byte
}

// stageChunk adds a chunk record to st. A chunk that does not continue
// the staged repair (another id, a gap) starts over from it if it is the
// first chunk of a repair, and is dropped otherwise.
func (st *repairStage) stageChunk(rec []byte) error {
	r := codec.NewReader(rec)
	id, off, total := r.Uvarint("repair id"), r.Uvarint("chunk offset"), r.Uvarint("repair total")
	if err := r.Err(); err != nil {
		return err
	}
	chunk := rec[r.Offset():]
	if total > limits.MaxRepairStagedBytes || len(chunk) > limits.MaxRepairChunkBytes ||
		off+uint64(len(chunk)) > total || len(chunk) == 0 {
		return fmt.Errorf("repair chunk %d+%d of %d: outside the limits", off, len(chunk), total)
	}
	if off == 0 {
		*st = repairStage{id: id, total: total, body: make([]byte, 0, total)}
	}
	if st.body == nil || id != st.id || total != st.total || off != uint64(len(st.body)) {
		*st = repairStage{} // a torn repair's remains: dropped
		return nil
	}
	st.body = append(st.body, chunk...)
	return nil
}

// commit returns the staged join body if rec commits it, or nil.
func (st *repairStage) commit(rec []byte) ([]byte, error) {
	r := codec.NewReader(rec)
	id, total := r.Uvarint("repair id"), r.Uvarint("repair total")
	if err := r.Finish(); err != nil {
		return nil, err
	}
	body := st.body
	ok := body != nil && id == st.id && total == st.total && uint64(len(body)) == total
	*st = repairStage{}
	if !ok {
		return nil, nil
	}
	return body, nil
}

// maxValueEncodingBytes bounds one encoded value in a join record or a
// MsgSyncKeys entry: a value may hold up to crdt.MaxSetMembers members,
// but one shipped value is refused above this size (1 GiB).
const maxValueEncodingBytes = 1 << 30

func encodeSnapshot(bootstrap []Peer, ks *crdt.Keyspace) []byte {
	kind := snapshotKind
	for _, p := range bootstrap {
		if p.Region != "" {
			kind = snapshotRegionsKind
		}
	}
	b := []byte{kind}
	b = codec.AppendUvarint(b, uint64(len(bootstrap)))
	for _, p := range bootstrap {
		b = codec.AppendUvarint(b, uint64(p.ID))
		b = codec.AppendString(b, p.Name)
		b = codec.AppendString(b, p.Addr)
		if kind == snapshotRegionsKind {
			b = codec.AppendString(b, p.Region)
		}
	}
	return ks.AppendBinary(b)
}

func decodeSnapshot(b []byte) ([]Peer, *crdt.Keyspace, error) {
	b, err := splitAuditHeads(b, nil) // audit mode's heads (audit.go)
	if err != nil {
		return nil, nil, err
	}
	r := codec.NewReader(b)
	kind := r.Byte("snapshot kind")
	if r.Err() == nil && kind != snapshotKind && kind != snapshotRegionsKind {
		r.Fail("snapshot kind", codec.ErrInvalid)
	}
	n := r.Count("bootstrap peers", maxBootstrapPeers, 3)
	peers := make([]Peer, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		p := Peer{ID: causal.NodeID(r.Uvarint("peer id"))}
		p.Name = string(r.Bytes("peer name", maxNameBytes))
		p.Addr = string(r.Bytes("peer addr", maxNameBytes))
		if kind == snapshotRegionsKind {
			p.Region = string(r.Bytes("peer region", MaxRegionBytes))
			if r.Err() == nil && validRegion(p.Region) != nil {
				r.Fail("peer region", codec.ErrInvalid)
			}
		}
		if r.Err() == nil && p.ID == 0 {
			r.Fail("peer id", codec.ErrInvalid)
		}
		peers = append(peers, p)
	}
	if r.Err() == nil && n == 0 {
		r.Fail("bootstrap peers: none", codec.ErrInvalid)
	}
	if err := r.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: snapshot: %w", ErrBadRecord, err)
	}
	ks, err := crdt.DecodeKeyspace(b[r.Offset():])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: snapshot keyspace: %w", ErrBadRecord, err)
	}
	return peers, ks, nil
}

// decodeRetained decodes a retained log entry's transaction. The record
// was encoded (or replayed and decoded) by this replica, so it decodes.
func decodeRetained(e logEntry) *crdt.Txn {
	txn, err := decodeTxnRecord(e.record)
	if err != nil {
		panic(fmt.Sprintf("replica: retained record of %s does not decode: %v", e.dot, err))
	}
	return txn
}
