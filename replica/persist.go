package replica

import (
	"fmt"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// Persisted formats. Records and snapshots are opaque to the driver; their
// first byte is a kind, append only:
//
//	record, kind 1 (txn):  0x01 | crdt.Txn.AppendBinary
//	record, kind 2 (join): 0x02 | has-context byte | [causal.Context] |
//	                       count uvarint | count × (key bytes | present byte | [crdt value bytes])
//	snapshot:              0x03 | bootstrap count uvarint |
//	                       count × (id uvarint | name bytes | addr bytes) |
//	                       crdt.Keyspace.AppendBinary (rest)
//
// A join record is what a reconciliation did: JoinKey of each key with the
// context (or, without one, the pinned context given with a later record)
// and, when has-context is set, MergeContext of it after the keys.
const (
	recordTxn    byte = 1
	recordJoin   byte = 2
	snapshotKind byte = 3

	// maxBootstrapPeers bounds the initial member list a snapshot holds.
	maxBootstrapPeers = 4096
	// maxNameBytes bounds a node name or address in a snapshot or record.
	maxNameBytes = 1024
)

// encodeTxnRecord encodes a transaction record. The retained log keeps
// it for as long as peers may need it and counts its capacity, so a
// buffer that append grew well beyond the record is trimmed to size.
func encodeTxnRecord(txn *crdt.Txn) []byte {
	rec := txn.AppendBinary([]byte{recordTxn})
	if cap(rec)-len(rec) > len(rec)/8 {
		rec = slices.Clip(append([]byte(nil), rec...))
	}
	return rec
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

// maxValueEncodingBytes bounds one encoded value in a join record or a
// MsgSyncKeys entry: a value may hold up to crdt.MaxSetMembers members,
// but one shipped value is refused above this size (1 GiB).
const maxValueEncodingBytes = 1 << 30

func encodeSnapshot(bootstrap []Peer, ks *crdt.Keyspace) []byte {
	b := []byte{snapshotKind}
	b = codec.AppendUvarint(b, uint64(len(bootstrap)))
	for _, p := range bootstrap {
		b = codec.AppendUvarint(b, uint64(p.ID))
		b = codec.AppendString(b, p.Name)
		b = codec.AppendString(b, p.Addr)
	}
	return ks.AppendBinary(b)
}

func decodeSnapshot(b []byte) ([]Peer, *crdt.Keyspace, error) {
	r := codec.NewReader(b)
	if k := r.Byte("snapshot kind"); r.Err() == nil && k != snapshotKind {
		r.Fail("snapshot kind", codec.ErrInvalid)
	}
	n := r.Count("bootstrap peers", maxBootstrapPeers, 3)
	peers := make([]Peer, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		p := Peer{ID: causal.NodeID(r.Uvarint("peer id"))}
		p.Name = string(r.Bytes("peer name", maxNameBytes))
		p.Addr = string(r.Bytes("peer addr", maxNameBytes))
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
	txn, err := crdt.DecodeTxn(e.record[1:])
	if err != nil {
		panic(fmt.Sprintf("replica: retained record of %s does not decode: %v", e.dot, err))
	}
	return txn
}
