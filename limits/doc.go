// Package limits is the one table of Spook's size limits that nest: a
// value inside a transaction, a transaction inside a log record, a record
// inside a wire frame, repair and snapshot chunks inside records and
// frames, and a frame inside the per-peer window of a driver. Every
// package that enforces one of these bounds (crdt, storage, wire, replica,
// the drivers) takes it from here, so raising one cannot silently break
// another: Check asserts the nesting, a test runs it, and a driver calls it
// at start.
//
// The chain, with the default figures:
//
//	MaxValueBytes         8 MiB   a register value, set member or map field value
//	  ≤ MaxTxnBytes      12 MiB   one encoded transaction (crdt.Txn.AppendBinary)
//	  ≤ MaxRecordBytes   12 MiB + 64 KiB   one log record payload (storage)
//	  ≤ MaxFrameBytes    16 MiB   one wire frame's length field (type + payload)
//	  ≤ MinPeerWindowBytes        what a driver must be able to queue per peer
//
//	MaxRepairChunkBytes   1 MiB   + header ≤ MaxRecordBytes and ≤ MaxFrameBytes
//	MaxSnapshotChunkBytes 1 MiB   + header ≤ MaxRecordBytes and ≤ MaxFrameBytes
//
// What happens when each is reached is documented on the constant. The
// package is pure: constants and arithmetic, no imports beyond errors and
// fmt.
package limits
