package node

import (
	"fmt"
	"sync"

	"github.com/spooksystems/spook/storage"
)

// MaxDiskQueueBytes bounds the record bytes handed to the disk goroutine
// and not yet written. Beyond it the loop takes no new client requests or
// peer messages until the disk catches up (it still ticks and takes
// completed syncs), so a slow disk slows writers instead of growing
// memory. 256 MiB holds several records at the largest size.
const MaxDiskQueueBytes = 256 << 20

// disk writes the log on its own goroutine under the fsync policies batch
// and always, so the loop never waits for the disk: it appends what the
// loop hands over in order, fsyncs once per round (group commit: records
// handed over during one fsync share the next), writes periodic
// snapshots once the records they cover are durable, and reports each
// round to the loop (Node.synced). Under policy none the loop appends
// itself, since records must reach the operating system before the
// messages that advertise them leave, which happens at once.
type disk struct {
	store *storage.Store

	mu          sync.Mutex
	jobs        []diskJob
	queuedBytes int
	wake        chan struct{} // capacity 1

	lastIndex uint64 // index of the last record appended (disk goroutine only)
}

// diskJob is one Output's share of disk work, in order: a join snapshot,
// records, then the position to report once they are durable.
type diskJob struct {
	snapshot []byte
	records  [][]byte
	upTo     uint64       // the core's SyncTo covering these records (0: none asked)
	periodic *snapshotJob // a periodic snapshot of the state after these records
}

func (j *diskJob) bytes() int {
	n := len(j.snapshot)
	for _, r := range j.records {
		n += len(r)
	}
	return n
}

func newDisk(store *storage.Store) *disk {
	return &disk{store: store, wake: make(chan struct{}, 1), lastIndex: store.Log().LastIndex()}
}

// submit hands a job to the disk goroutine. Called by the loop.
func (d *disk) submit(j diskJob) {
	d.mu.Lock()
	d.jobs = append(d.jobs, j)
	d.queuedBytes += j.bytes()
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// full reports whether the loop should stop taking new work.
func (d *disk) full() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queuedBytes > MaxDiskQueueBytes
}

// run is the disk goroutine. It ends once the loop has ended and every job
// handed over is written and synced.
func (n *Node) runDisk(d *disk) {
	defer n.wg.Done()
	loopDone := n.loopDone
	for {
		// Once the loop has ended nothing more is handed over: drain
		// what is queued without waiting for a wake-up, then stop.
		if loopDone != nil {
			select {
			case <-d.wake:
			case <-loopDone:
				loopDone = nil
			}
		}
		d.mu.Lock()
		jobs := d.jobs
		d.jobs = nil
		d.mu.Unlock()
		if len(jobs) == 0 {
			if loopDone == nil {
				return
			}
			continue
		}
		done := d.round(n, jobs)
		d.mu.Lock()
		for i := range jobs {
			d.queuedBytes -= jobs[i].bytes()
		}
		d.mu.Unlock()
		if loopDone != nil {
			select {
			case n.synced <- done:
			case <-n.loopDone:
			}
		}
	}
}

// round writes jobs, fsyncs once, writes periodic snapshots, and returns
// what to report. After an error nothing more is written (fail-stop).
func (d *disk) round(n *Node, jobs []diskJob) syncDone {
	var done syncDone
	var periodic []*snapshotJob
	for i := range jobs {
		j := &jobs[i]
		if j.snapshot != nil {
			// A joining node's installed state replaces everything before it.
			if err := d.store.WriteSnapshot(d.lastIndex, j.snapshot); err != nil {
				return syncDone{err: fmt.Errorf("write join snapshot: %w", err)}
			}
		}
		for _, rec := range j.records {
			idx, err := d.store.Log().Append(rec)
			if err != nil {
				return syncDone{err: fmt.Errorf("append log record: %w", err)}
			}
			d.lastIndex = idx
		}
		if j.periodic != nil {
			j.periodic.index = d.lastIndex
			periodic = append(periodic, j.periodic)
		}
		done.upTo = max(done.upTo, j.upTo)
	}
	if err := d.store.Log().Sync(); err != nil {
		return syncDone{err: fmt.Errorf("sync log: %w", err)}
	}
	for _, job := range periodic {
		if err := d.store.WriteSnapshot(job.index, job.data); err != nil {
			return syncDone{err: fmt.Errorf("write snapshot: %w", err)}
		}
		n.log.Info("snapshot written", "index", job.index, "bytes", len(job.data))
	}
	return done
}
