package sim

import (
	"fmt"

	"github.com/spooksystems/spook/limits"
)

// durable is a node's disk as the simulator drives it. Two models
// implement it: recordDisk (whole records, fast; most seeds) and
// storeDisk (package storage's log and snapshots over its crash-simulating
// MemFS, with torn bytes and log recovery; some seeds).
type durable interface {
	// append adds records, unsynced. It keeps the slices.
	append(recs [][]byte) error
	// installSnapshot makes snap the base state, durable at once.
	installSnapshot(snap []byte) error
	// sync makes everything appended durable and returns how many records
	// became durable.
	sync() (int, error)
	// unsynced is how many records a crash could lose.
	unsynced() int
	// total counts every record ever appended (a position that stays
	// valid across snapshots); syncedTotal is the durable position.
	total() int
	syncedTotal() int
	// crash turns the disk into its state after a power loss, drawing torn
	// writes from g, and returns how many records were lost.
	crash(g *rng) (lost int, err error)
	// load returns what a restarting node reads: the snapshot (nil if
	// none) and the records after it.
	load() (snapshot []byte, records [][]byte, err error)
}

var (
	_ durable = (*recordDisk)(nil)
	_ durable = (*storeDisk)(nil)
)

// recordDisk is one node's durable storage as the simulator models it: the
// newest snapshot the replica emitted and the records it asked to persist
// since, in order, of which a prefix is synced. A crash keeps the synced
// prefix and a random number of the unsynced records after it (a torn
// write: the device got some of them out before power was lost, never a
// hole) and drops the rest. The storage package's log recovers to exactly
// such a prefix after a torn tail (a partial last record is truncated),
// so modelling whole records loses nothing the replica could observe and
// keeps the simulator fast. A snapshot is durable as soon as it is
// installed: storage writes it to a temporary file, syncs it and renames
// it into place.
type recordDisk struct {
	snapshot []byte
	records  [][]byte // emitted after snapshot
	synced   int      // records[:synced] survive any crash
	base     int      // records appended before records[0] (replaced by snapshots)
}

// total counts every record ever appended: a position that stays valid
// across snapshots, for "durable up to" bookkeeping.
func (d *recordDisk) total() int { return d.base + len(d.records) }

// syncedTotal is the total position up to which records are durable.
func (d *recordDisk) syncedTotal() int { return d.base + d.synced }

// append adds records, unsynced. The slices are kept: the caller must not
// modify them afterwards. Like package storage's log, it refuses a record
// above limits.MaxRecordBytes (and keeps none of the batch from it on):
// a replica that emits one has acknowledged what it cannot persist.
func (d *recordDisk) append(recs [][]byte) error {
	for i, r := range recs {
		if len(r) > limits.MaxRecordBytes {
			d.records = append(d.records, recs[:i]...)
			return fmt.Errorf("sim: record too large: %d bytes > %d", len(r), limits.MaxRecordBytes)
		}
	}
	d.records = append(d.records, recs...)
	return nil
}

// installSnapshot makes snap the base state; earlier records are covered
// by it and dropped.
func (d *recordDisk) installSnapshot(snap []byte) error {
	d.snapshot = snap
	d.base += len(d.records)
	clear(d.records)
	d.records = d.records[:0]
	d.synced = 0
	return nil
}

// sync makes every record appended so far durable and returns how many
// became durable.
func (d *recordDisk) sync() (int, error) {
	n := len(d.records) - d.synced
	d.synced = len(d.records)
	return n, nil
}

// unsynced is the number of records a crash could lose.
func (d *recordDisk) unsynced() int { return len(d.records) - d.synced }

// crash drops unsynced records except a torn prefix of them drawn from g,
// and returns how many records were lost.
func (d *recordDisk) crash(g *rng) (lost int, err error) {
	kept := d.synced + g.intn(d.unsynced()+1)
	lost = len(d.records) - kept
	clear(d.records[kept:])
	d.records = d.records[:kept]
	d.synced = kept // what survived a crash is on the platter
	return lost, nil
}

func (d *recordDisk) load() ([]byte, [][]byte, error) { return d.snapshot, d.records, nil }
