package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sync"

	"github.com/spooksystems/spook/storage/vfs"
)

// StoreOptions configures a Store. The zero value is valid.
type StoreOptions struct {
	// Log configures the log; its FirstIndex is set by OpenStore.
	Log LogOptions
	// Snapshot configures snapshot writes.
	Snapshot SnapshotOptions
	// KeepLog keeps every record: WriteSnapshot no longer trims the log
	// behind the snapshots it keeps. Audit mode sets it, and its
	// retention policy trims with TrimLog (docs/audit.md, "Retention");
	// restarts still replay only the records after the newest snapshot.
	KeepLog bool
}

// lockName is the file in a data directory that OpenStore locks.
const lockName = "LOCK"

// Store is a data directory: a log in dir/log and snapshots in dir/snap,
// locked against a second user by dir/LOCK.
// A snapshot at index i stands for the records 1..i; recovery is "load
// the newest valid snapshot, then replay the log after it".
//
// Store is safe for concurrent use as far as its Log is; WriteSnapshot
// calls must not overlap each other.
type Store struct {
	fs      vfs.FS
	snapDir string
	opts    StoreOptions
	log     *Log
	skipped []error
	lock    io.Closer // held from open to Close

	mu       sync.Mutex
	snapshot *Snapshot // guarded by mu
}

// OpenStore opens (or creates) the data directory dir. It loads the
// newest valid snapshot and opens the log, and checks they fit together:
// the log must hold every record after the snapshot. A log that starts
// later is refused with a *CorruptionError (records are missing). A data
// directory another Store holds is refused with vfs.ErrLocked.
func OpenStore(fsys vfs.FS, dir string, opts StoreOptions) (*Store, error) {
	s := &Store{fs: fsys, snapDir: path.Join(dir, "snap"), opts: opts}
	if err := ensureDir(fsys, dir); err != nil {
		return nil, err
	}
	lock, err := fsys.Lock(path.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("storage: lock data directory %s: %w", dir, err)
	}
	if err := s.open(dir, opts); err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func (s *Store) open(dir string, opts StoreOptions) error {
	fsys := s.fs
	snap, skipped, err := LoadSnapshot(fsys, s.snapDir)
	if err != nil {
		return err
	}
	s.snapshot, s.skipped = snap, skipped
	logOpts := opts.Log
	logOpts.FirstIndex = 1
	if snap != nil {
		logOpts.FirstIndex = snap.Index + 1
	}
	logDir := path.Join(dir, "log")
	log, err := OpenLog(fsys, logDir, logOpts)
	if err != nil {
		return err
	}
	if snap != nil {
		first, last := log.FirstIndex(), log.LastIndex()
		if first > snap.Index+1 || last < snap.Index {
			log.Close()
			return &CorruptionError{What: "log", File: logDir,
				Reason: fmt.Sprintf("holds indexes %d..%d, snapshot %s needs every record after %d", first, last, snap.File, snap.Index)}
		}
	} else if first := log.FirstIndex(); first != 1 {
		log.Close()
		return &CorruptionError{What: "log", File: logDir,
			Reason: fmt.Sprintf("starts at index %d and no valid snapshot covers the records before it", first)}
	}
	s.log = log
	return nil
}

// Log is the store's log. Append and Sync on it; do not TruncateFront it
// directly (WriteSnapshot does so safely).
func (s *Store) Log() *Log { return s.log }

// Snapshot is the newest snapshot: the one loaded at open, or the last
// one WriteSnapshot stored since, or nil. Replay starts after it. After a
// WriteSnapshot its Data is the slice passed to WriteSnapshot, which the
// caller must therefore not modify afterwards.
func (s *Store) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot
}

// Recovery reports what opening the log repaired.
func (s *Store) Recovery() RecoveryReport { return s.log.Recovery() }

// ReleaseSnapshotData drops the store's reference to the newest
// snapshot's Data (which can be large) once the caller has restored from
// it; Snapshot then returns its Index and File with nil Data, and Replay
// is unaffected.
func (s *Store) ReleaseSnapshotData() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapshot != nil {
		s.snapshot = &Snapshot{Index: s.snapshot.Index, File: s.snapshot.File}
	}
}

// SkippedSnapshots lists the invalid snapshot files OpenStore passed over.
func (s *Store) SkippedSnapshots() []error { return s.skipped }

// Replay calls fn for every record after the loaded snapshot (all records
// if there is none), in order. payload is valid only during the call.
func (s *Store) Replay(fn func(index uint64, payload []byte) error) error {
	from := s.log.FirstIndex()
	if snap := s.Snapshot(); snap != nil {
		from = snap.Index + 1
	}
	return s.log.Iterate(from, fn)
}

// WriteSnapshot stores data as the state after record index (index must
// not exceed Log().LastIndex()). It first syncs the log, so a snapshot is
// never durable ahead of the records it covers; then writes the snapshot
// durably and removes the oldest; then trims the log below the oldest
// snapshot kept, so a fallback to it on load still finds every later
// record.
func (s *Store) WriteSnapshot(index uint64, data []byte) error {
	if last := s.log.LastIndex(); index > last {
		return fmt.Errorf("%w: snapshot index %d beyond the log's last index %d", ErrOptions, index, last)
	}
	if err := s.log.Sync(); err != nil {
		return err
	}
	kept, err := WriteSnapshot(s.fs, s.snapDir, index, data, s.opts.Snapshot)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.snapshot == nil || index >= s.snapshot.Index {
		s.snapshot = &Snapshot{Index: index, Data: data, File: path.Join(s.snapDir, snapshotName(index))}
	}
	s.mu.Unlock()
	if s.opts.KeepLog {
		return nil
	}
	return s.log.TruncateFront(kept[0] + 1)
}

// TrimLog removes the log's segments whose records all have indexes below
// index (audit retention, docs/audit.md), but never a record after the
// oldest snapshot the directory holds, so a fallback to it on open still
// finds every later record. keep, when set, is called with each
// segment's path before its removal (archive it there, durably); an
// error from it stops the trim. It returns the index the log now starts
// at. Only whole segments go: records below index may remain.
func (s *Store) TrimLog(index uint64, keep func(path string) error) (uint64, error) {
	names, err := s.fs.ReadDir(s.snapDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s.log.FirstIndex(), err
	}
	oldest := uint64(0)
	for _, name := range names {
		if i, ok := parseSnapshotName(name); ok && (oldest == 0 || i < oldest) {
			oldest = i
		}
	}
	index = min(index, oldest+1)
	err = s.log.truncateFront(index, keep)
	return s.log.FirstIndex(), err
}

// Close closes the log (syncing it) and releases the directory lock.
func (s *Store) Close() error {
	err := s.log.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}
