// Package storage makes a node's history durable: a segmented,
// append-only log of records and snapshot files, both over the vfs.FS
// seam so every byte can be crash-tested on vfs.MemFS. Records and
// snapshots are opaque bytes here; the replica encodes them.
//
// # Use
//
//	store, err := storage.OpenStore(vfs.OS{}, dataDir, storage.StoreOptions{}) // locks dataDir/LOCK
//	if snap := store.Snapshot(); snap != nil { restore(snap.Data) }
//	store.ReleaseSnapshotData()
//	err = store.Replay(func(index uint64, payload []byte) error { return apply(payload) })
//	index, err := store.Log().Append(record) // buffered; not yet durable
//	err = store.Log().Flush()                // handed to the OS: survives a process crash
//	err = store.Log().Sync()                 // fsynced: survives a power loss
//	err = store.WriteSnapshot(index, state)  // then the log is trimmed behind it
//	err = store.Close()
//
// Tests use vfs.MemFS instead of vfs.OS to crash the disk at will, and
// vfs.ErrorFS to fail any call.
//
// Log and snapshot functions can be used alone (OpenLog, WriteSnapshot,
// LoadSnapshot). When Sync is called is the caller's decision: SyncPolicy
// names the three policies a node offers (always, batch, none) and what
// each promises; docs/durability.md has the full contract.
//
// # Log format
//
// The log is a directory of segment files, each named by the index of its
// first record in 20 decimal digits: 00000000000000000001.seg. Records
// have consecutive indexes across segments; an index is not stored per
// record but implied by its position. Integers are little-endian.
//
//	segment file:
//	+--------------------+----------+----------+-----
//	| header (24 bytes)  | record 1 | record 2 | ...
//	+--------------------+----------+----------+-----
//
//	segment header:
//	+-----------+-------------+-----------------+-----------------------+
//	| magic (8) | version (4) | first index (8) | crc32c of the 20 bytes|
//	| "spooklog"| uint32 = 1  | uint64          | before it (4)         |
//	+-----------+-------------+-----------------+-----------------------+
//
//	record:
//	+------------+------------------+------------------------+---------+
//	| length (4) | crc32c of the    | crc32c of the 8 bytes  | payload |
//	| uint32     | payload (4)      | before it (4)          |         |
//	+------------+------------------+------------------------+---------+
//
// CRC-32C is the Castagnoli polynomial. length is at most
// LogOptions.MaxRecordBytes; a larger value is "impossible". The header
// has its own checksum so that recovery can test any offset for a record
// start in O(1), whatever length the bytes there claim. A segment is
// started when the next record would take the active one past
// LogOptions.MaxSegmentBytes: the old segment is synced and closed, the
// new one created, its header synced, and the directory synced, before
// any record goes into it. So only the last segment can have a tail that
// was never synced.
//
// # Recovery
//
// OpenLog reads every segment. In any segment but the last, every byte
// must be a valid record; in the last, the first invalid record (too
// short, bad header checksum, impossible length, payload checksum
// mismatch) ends the valid prefix. If a valid record follows it at any
// offset in the file, the damage is not a torn write and OpenLog fails with a *CorruptionError (errors.Is
// ErrCorrupt) naming file and offset:
//
//	storage: corrupt record in log/00000000000000000012.seg at offset 4096: checksum mismatch followed by valid records
//
// Otherwise it is a torn tail (a crash during an unsynced write): it is
// truncated away and the truncation synced, and RecoveryReport says so.
// A last segment whose header is torn held no record yet and is removed.
// Segments must be contiguous (each starts where the previous ends) and
// agree with their names. Recovery is idempotent: a crash during it is
// recovered by the next open.
//
// # Snapshot format
//
// A snapshot is a file 00000000000000000042.snap in the snapshot
// directory, named by the index of the last record it covers:
//
//	+-----------+-------------+-----------+-----------------+
//	| magic (8) | version (4) | index (8) | data length (8) |
//	| "spooksnp"| uint32 = 1  | uint64    | uint64          |
//	+-----------+-------------+-----------+-----------------+
//	| crc32c of data (4) | crc32c of the 32 header bytes before it (4) |
//	+--------------------+---------------------------------------------+
//	| data (data length bytes)                                         |
//	+------------------------------------------------------------------+
//
// WriteSnapshot writes name.tmp, syncs it, renames it and syncs the
// directory, then keeps the newest SnapshotOptions.Kept (default 2).
// LoadSnapshot returns the newest one whose checks pass and reports the
// others it passed over.
//
// # Identity
//
// A data directory records whose it is in IDENTITY (format in
// identity.go): the node's name and cluster, written at its first start,
// and the time an operator removed the node, once it learns it.
// CheckIdentity refuses a directory reopened under another node name or
// cluster with ErrIdentityMismatch, naming both, so a copied or mistyped
// directory never passes for another node's history.
//
// # Failure
//
// The Log is fail-stop: the first FS error while writing fails it for
// good, and every later write returns that error (see Log). Operating
// errors are returned, never panicked; sentinels are listed in errors.go.
package storage
