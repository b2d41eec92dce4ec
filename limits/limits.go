package limits

import (
	"errors"
	"fmt"
)

// The table. Derived limits are sums of named terms, one comment each.
const (
	// MaxValueBytes bounds one register value, set member or map field
	// value, in bytes. A client write with a larger value is refused
	// before anything is applied (crdt.ErrTooLarge; RESP and HTTP answer
	// with an error); decoders refuse one too.
	MaxValueBytes = 8 << 20

	// TxnRoomBytes is what one transaction may hold besides one maximal
	// value: other keys and values, set members, counter resets, its dot,
	// timestamp and causal dependencies.
	TxnRoomBytes = 4 << 20

	// MaxTxnBytes bounds one encoded transaction (crdt.Txn.AppendBinary),
	// in bytes. replica.Propose refuses a larger one with
	// replica.ErrTxnTooLarge before applying or emitting anything. Two
	// values of 9 MiB in one transaction are above it.
	MaxTxnBytes = MaxValueBytes + // one maximal value
		TxnRoomBytes // everything else the transaction carries

	// RecordHeaderBytes bounds what a log record adds to what it carries:
	// the record kind byte, and for a repair chunk record its repair id,
	// offset and total (uvarints).
	RecordHeaderBytes = 64 << 10

	// MaxRecordBytes bounds one log record payload, in bytes: the
	// storage log's default (storage.DefaultMaxRecordBytes) and what the
	// replica emits. A transaction record is one kind byte plus the
	// encoded transaction; a repair is split into chunk records.
	MaxRecordBytes = MaxTxnBytes + // the largest transaction
		RecordHeaderBytes // record kind and chunk header

	// MessageHeaderBytes bounds what a replica message adds around the
	// record-sized data it carries: the type byte, the applied-vector
	// delta (at most 2 × causal.MaxVectorEntries entries of node
	// reference and counter delta, under 200 KiB), counts, the link
	// dictionary references of a transaction's keys (at most
	// crdt.MaxTxnKeys × 3 bytes beyond the binary encoding) and the delta
	// of its dependencies against the previous transaction on the link.
	MessageHeaderBytes = 1 << 20

	// MaxFrameBytes bounds a wire frame's length field (type byte plus
	// payload), in bytes: wire.DefaultMaxFrameBytes, announced in the
	// Hello. A frame above the receiver's limit closes the link. It must
	// hold the largest record plus a message header (Check).
	MaxFrameBytes = 16 << 20

	// FrameEnvelopeBytes is what a frame occupies on the byte stream
	// beyond its length field's count: the 4-byte length and the 4-byte
	// checksum.
	FrameEnvelopeBytes = 8

	// MinPeerWindowBytes is the least number of bytes a driver's per-peer
	// send queue or in-flight window must admit: one frame of the largest
	// size with its envelope. A smaller window could never send that
	// frame; a driver refuses to start with one.
	MinPeerWindowBytes = MaxFrameBytes + // the largest frame
		FrameEnvelopeBytes // its length field and checksum

	// ChunkHeaderBytes bounds the header of a repair chunk record or a
	// snapshot chunk message beyond its chunk bytes (ids, offset, total,
	// hash, length).
	ChunkHeaderBytes = 64

	// MaxRepairChunkBytes bounds the payload bytes of one repair chunk
	// record and of one fragment of a key value in a reconciliation
	// answer. A repair larger than one chunk is staged in several chunk
	// records and applied at a commit record.
	MaxRepairChunkBytes = 1 << 20

	// MaxRepairStagedBytes bounds the encoded bytes of one repair (all
	// its chunks), held in memory until its commit. A reconciliation
	// whose difference grows beyond it is abandoned and the repair falls
	// back to a snapshot transfer.
	MaxRepairStagedBytes = 64 << 20

	// MaxSnapshotChunkBytes bounds the bytes of one snapshot chunk, the
	// unit of a snapshot transfer pulled by a joining node.
	MaxSnapshotChunkBytes = 1 << 20
)

// ErrNesting is returned by Check when the table does not nest.
var ErrNesting = errors.New("limits: table does not nest")

// Check asserts the nesting of the table: value ≤ transaction ≤ record ≤
// frame, chunks with their headers within records and frames, and the
// per-peer window at least one frame. Drivers call it at start; a failure
// is a build with inconsistent constants.
func Check() error {
	return check(table{
		value: MaxValueBytes, txn: MaxTxnBytes, record: MaxRecordBytes, frame: MaxFrameBytes,
		recordHeader: RecordHeaderBytes, messageHeader: MessageHeaderBytes, chunkHeader: ChunkHeaderBytes,
		repairChunk: MaxRepairChunkBytes, repairStaged: MaxRepairStagedBytes,
		snapshotChunk: MaxSnapshotChunkBytes, window: MinPeerWindowBytes,
	})
}

// table is the table as values, so tests can check that check catches a
// table that does not nest.
type table struct {
	value, txn, record, frame                int
	recordHeader, messageHeader, chunkHeader int
	repairChunk, repairStaged, snapshotChunk int
	window                                   int
}

func check(t table) error {
	rules := []struct {
		ok   bool
		what string
	}{
		{t.value > 0, "MaxValueBytes > 0"},
		{t.value <= t.txn, "MaxValueBytes ≤ MaxTxnBytes"},
		{t.txn+1 <= t.record, "MaxTxnBytes + record kind ≤ MaxRecordBytes"},
		{t.record+t.messageHeader <= t.frame, "MaxRecordBytes + MessageHeaderBytes ≤ MaxFrameBytes"},
		{t.repairChunk > 0 && t.repairChunk+t.chunkHeader <= t.record, "MaxRepairChunkBytes + ChunkHeaderBytes ≤ MaxRecordBytes"},
		{t.repairChunk+t.chunkHeader+t.messageHeader <= t.frame, "MaxRepairChunkBytes + headers ≤ MaxFrameBytes"},
		{t.snapshotChunk > 0 && t.snapshotChunk+t.chunkHeader <= t.record, "MaxSnapshotChunkBytes + ChunkHeaderBytes ≤ MaxRecordBytes"},
		{t.snapshotChunk+t.chunkHeader+t.messageHeader <= t.frame, "MaxSnapshotChunkBytes + headers ≤ MaxFrameBytes"},
		{t.repairStaged >= t.record, "MaxRepairStagedBytes ≥ MaxRecordBytes"},
		{t.window >= t.frame+FrameEnvelopeBytes, "MinPeerWindowBytes ≥ MaxFrameBytes + FrameEnvelopeBytes"},
	}
	for _, r := range rules {
		if !r.ok {
			return fmt.Errorf("%w: want %s", ErrNesting, r.what)
		}
	}
	return nil
}
