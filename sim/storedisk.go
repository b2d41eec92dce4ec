package sim

import (
	"fmt"

	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// storeDir is where a simulated node keeps its data on its MemFS.
const storeDir = "/data"

// storeDisk is a node's disk as production has it: package storage's
// Store (segmented log plus snapshots) over the crash-simulating MemFS.
// A crash keeps, per file, what was synced plus a random torn (possibly
// garbled) prefix of the rest; reopening runs the log's real recovery.
// Small segments make roll-over and multi-segment recovery happen in
// short runs.
type storeDisk struct {
	fs    *vfs.MemFS
	store *storage.Store
}

// storeSegmentBytes is the segment size of simulated logs: small, so a
// run of a thousand steps rolls over many segments.
const storeSegmentBytes = 16 << 10

func storeOptions() storage.StoreOptions {
	return storage.StoreOptions{Log: storage.LogOptions{MaxSegmentBytes: storeSegmentBytes}}
}

func newStoreDisk() (*storeDisk, error) {
	fs := vfs.NewMemFS()
	st, err := storage.OpenStore(fs, storeDir, storeOptions())
	if err != nil {
		return nil, err
	}
	return &storeDisk{fs: fs, store: st}, nil
}

func (d *storeDisk) append(recs [][]byte) error {
	for _, r := range recs {
		if _, err := d.store.Log().Append(r); err != nil {
			return err
		}
	}
	return nil
}

func (d *storeDisk) installSnapshot(snap []byte) error {
	return d.store.WriteSnapshot(d.store.Log().LastIndex(), snap)
}

func (d *storeDisk) sync() (int, error) {
	before := d.store.Log().SyncedIndex()
	err := d.store.Log().Sync()
	return int(d.store.Log().SyncedIndex() - before), err
}

func (d *storeDisk) unsynced() int {
	return int(d.store.Log().LastIndex() - d.store.Log().SyncedIndex())
}

func (d *storeDisk) total() int       { return int(d.store.Log().LastIndex()) }
func (d *storeDisk) syncedTotal() int { return int(d.store.Log().SyncedIndex()) }

func (d *storeDisk) crash(g *rng) (int, error) {
	before := d.total()
	// The old Store is abandoned, not closed: a crash runs no code.
	d.fs = d.fs.Crash(int64(g.uint64() >> 1))
	st, err := storage.OpenStore(d.fs, storeDir, storeOptions())
	if err != nil {
		return 0, fmt.Errorf("sim: reopen store after crash: %w", err)
	}
	d.store = st
	return before - d.total(), nil
}

func (d *storeDisk) load() ([]byte, [][]byte, error) {
	var snap []byte
	if s := d.store.Snapshot(); s != nil {
		snap = s.Data
	}
	var recs [][]byte
	err := d.store.Replay(func(_ uint64, payload []byte) error {
		recs = append(recs, append([]byte(nil), payload...))
		return nil
	})
	return snap, recs, err
}
