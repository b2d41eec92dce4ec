package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/spooksystems/spook/storage/vfs"
)

// crashStoreOptions uses tiny segments so a short workload rolls over,
// snapshots and trims many times.
var crashStoreOptions = StoreOptions{Log: LogOptions{MaxSegmentBytes: 160}}

func snapshotDataFor(index uint64) []byte { return []byte(fmt.Sprintf("state-after-%d", index)) }

// acked is what a workload was told is durable.
type acked struct {
	appendedIndex uint64 // highest index Append returned
	syncedIndex   uint64 // highest index a successful Sync covered
	snapshotIndex uint64 // highest index a successful WriteSnapshot stored
}

// runWorkload appends, syncs and snapshots on fsys, with choices drawn
// from seed, and returns what was acknowledged before the first error
// that failed the log. Snapshot errors that leave the log usable are
// survived, as a node would (it retries at the next snapshot).
func runWorkload(t *testing.T, fsys vfs.FS, seed uint64, records int) acked {
	var a acked
	s, err := OpenStore(fsys, "/d", crashStoreOptions)
	if err != nil {
		return a
	}
	defer abandon(s)
	rng := rand.New(rand.NewPCG(seed, 1))
	log := s.Log()
	for a.appendedIndex < uint64(records) {
		for range 1 + rng.IntN(4) {
			i, err := log.Append(payloadFor(a.appendedIndex + 1))
			if err != nil {
				checkFailed(t, log, err)
				return a
			}
			if i != a.appendedIndex+1 {
				t.Fatalf("Append returned index %d after %d", i, a.appendedIndex)
			}
			a.appendedIndex = i
		}
		if rng.IntN(3) > 0 {
			target := a.appendedIndex
			if err := log.Sync(); err != nil {
				checkFailed(t, log, err)
				return a
			}
			a.syncedIndex = target
		}
		if rng.IntN(12) == 0 {
			index := a.appendedIndex - uint64(rng.IntN(3))
			err := s.WriteSnapshot(index, snapshotDataFor(index))
			if err == nil {
				a.syncedIndex = max(a.syncedIndex, a.appendedIndex)
				a.snapshotIndex = max(a.snapshotIndex, index)
			} else if log.Err() != nil {
				checkFailed(t, log, err)
				return a
			}
		}
	}
	if err := s.Close(); err == nil {
		a.syncedIndex = a.appendedIndex
	}
	return a
}

// abandon releases what the kernel releases when a process dies: the
// directory lock. Nothing else runs, as in a crash.
func abandon(s *Store) {
	if s != nil {
		s.lock.Close()
	}
}

// checkFailed asserts fail-stop: after an error, writes keep failing.
func checkFailed(t *testing.T, l *Log, err error) {
	t.Helper()
	if _, err2 := l.Append([]byte("after")); err2 == nil {
		t.Fatalf("Append succeeded after %v", err)
	}
	if err2 := l.Sync(); err2 == nil {
		t.Fatalf("Sync succeeded after %v", err)
	}
}

// checkRecovered opens the store on fsys and checks it against a: every
// acknowledged record and snapshot is there, and what is there is exactly
// a prefix of what was appended (no hole, no garbage).
func checkRecovered(fsys vfs.FS, a acked) (RecoveryReport, error) {
	s, err := OpenStore(fsys, "/d", crashStoreOptions)
	if err != nil {
		return RecoveryReport{}, fmt.Errorf("reopen: %w", err)
	}
	defer s.Close()
	return s.Recovery(), checkStore(s, a)
}

func checkStore(s *Store, a acked) error {
	covered := uint64(0)
	if snap := s.Snapshot(); snap != nil {
		if !bytes.Equal(snap.Data, snapshotDataFor(snap.Index)) {
			return fmt.Errorf("snapshot %d holds %q", snap.Index, snap.Data)
		}
		covered = snap.Index
	}
	if covered < a.snapshotIndex {
		return fmt.Errorf("snapshot at %d acknowledged, newest loaded is %d", a.snapshotIndex, covered)
	}
	next := covered + 1
	err := s.Replay(func(index uint64, payload []byte) error {
		if index != next {
			return fmt.Errorf("replay gave index %d, want %d", index, next)
		}
		if !bytes.Equal(payload, payloadFor(index)) {
			return fmt.Errorf("record %d holds %q", index, payload)
		}
		next++
		return nil
	})
	if err != nil {
		return err
	}
	last := next - 1
	if last < a.syncedIndex {
		return fmt.Errorf("records up to %d were synced, recovery ends at %d", a.syncedIndex, last)
	}
	if last > a.appendedIndex {
		return fmt.Errorf("recovery ends at %d, only %d were appended", last, a.appendedIndex)
	}
	return nil
}

const (
	crashWorkloadRecords = 120
	crashTornSeeds       = 6 // torn-tail draws per crash point
)

// TestCrashPointSweep crashes a workload after each of its mutating FS
// calls in turn, several torn-tail draws each, recovers, checks, then
// crashes again at a random point during that recovery and checks again.
func TestCrashPointSweep(t *testing.T) {
	points, truncated, removed := 0, 0, 0
	for _, workloadSeed := range []uint64{1, 2, 3} {
		counter := vfs.NewErrorFS(vfs.NewMemFS(), vfs.Injection{Ops: vfs.OpMutating})
		full := runWorkload(t, counter, workloadSeed, crashWorkloadRecords)
		if full.syncedIndex < crashWorkloadRecords || full.syncedIndex != full.appendedIndex {
			t.Fatalf("clean run acknowledged %+v", full)
		}
		calls := counter.Calls()
		for k := 0; k <= calls; k++ {
			mem := vfs.NewMemFS()
			efs := vfs.NewErrorFS(mem, vfs.Injection{Ops: vfs.OpMutating, At: k + 1, Sticky: true})
			a := runWorkload(t, efs, workloadSeed, crashWorkloadRecords)
			for tornSeed := range int64(crashTornSeeds) {
				points++
				crashed := mem.Crash(int64(k)*crashTornSeeds + tornSeed)
				// A second crash somewhere during recovery.
				rng := rand.New(rand.NewPCG(uint64(k), uint64(tornSeed)))
				during := vfs.NewErrorFS(crashed, vfs.Injection{Ops: vfs.OpMutating, At: 1 + rng.IntN(16), Sticky: true})
				if s, err := OpenStore(during, "/d", crashStoreOptions); err == nil {
					abandon(s)
				}
				again := crashed.Crash(rng.Int64())
				if _, err := checkRecovered(again, a); err != nil {
					t.Fatalf("workload %d, crash after call %d of %d, torn seed %d, then a crash in recovery: %v",
						workloadSeed, k, calls, tornSeed, err)
				}
				report, err := checkRecovered(crashed, a)
				if err != nil {
					t.Fatalf("workload %d, crash after call %d of %d, torn seed %d: %v", workloadSeed, k, calls, tornSeed, err)
				}
				if report.TruncatedBytes > 0 {
					truncated++
				}
				if report.RemovedFile != "" {
					removed++
				}
			}
		}
	}
	if points < 2000 {
		t.Fatalf("only %d crash points; the brief asks for at least 2,000", points)
	}
	// The crash model must actually produce torn tails and torn headers,
	// or the sweep proves little.
	if truncated < points/20 || removed == 0 {
		t.Fatalf("only %d torn tails cut and %d torn segments removed in %d crash points", truncated, removed, points)
	}
	t.Logf("%d crash points: %d torn tails cut, %d torn segments removed", points, truncated, removed)
}

// TestErrorInjectionSweep fails each FS call of a workload in turn (a
// partial write where the call is a Write) and checks that the store
// either carries on or fails for good, and that reopening, with or
// without a power loss after, loses nothing acknowledged.
func TestErrorInjectionSweep(t *testing.T) {
	const seed = 3
	counter := vfs.NewErrorFS(vfs.NewMemFS(), vfs.Injection{Ops: vfs.OpAll})
	runWorkload(t, counter, seed, crashWorkloadRecords)
	calls := counter.Calls()
	failedLogs := 0
	for n := 1; n <= calls; n++ {
		mem := vfs.NewMemFS()
		efs := vfs.NewErrorFS(mem, vfs.Injection{Ops: vfs.OpAll, At: n, PartialWrite: true})
		a := runWorkload(t, efs, seed, crashWorkloadRecords)
		if efs.Failures() != 1 {
			t.Fatalf("call %d: %d failures injected", n, efs.Failures())
		}
		if a.appendedIndex < crashWorkloadRecords {
			failedLogs++
		}
		if _, err := checkRecovered(mem.Crash(int64(n)), a); err != nil {
			t.Fatalf("error at call %d of %d, then a crash: %v", n, calls, err)
		}
		if _, err := checkRecovered(mem, a); err != nil {
			t.Fatalf("error at call %d of %d: %v", n, calls, err)
		}
	}
	if failedLogs == 0 {
		t.Fatal("no injected error ever failed the log: the sweep tests nothing")
	}
	t.Logf("%d calls swept, %d failed the log", calls, failedLogs)
}

func TestCrashSweepDetectsLoss(t *testing.T) {
	// The checker itself must fail when an acknowledged record is gone.
	mem := vfs.NewMemFS()
	a := runWorkload(t, mem, 1, 20)
	a.appendedIndex++
	a.syncedIndex = a.appendedIndex
	if _, err := checkRecovered(mem, a); err == nil {
		t.Fatal("checker accepted a lost record")
	}
}

// TestRecoveryErrorSweep fails each FS call of a recovery in turn (open,
// cut a torn tail, replay) on a crashed disk. The open must fail with the
// error or recover correctly; either way, a later clean open must lose
// nothing acknowledged.
func TestRecoveryErrorSweep(t *testing.T) {
	// A disk with a torn tail: crash the workload at a point where the
	// last segment holds unsynced bytes, found by trying seeds.
	var (
		disk *vfs.MemFS
		a    acked
	)
	for k := 40; disk == nil && k < 400; k++ {
		mem := vfs.NewMemFS()
		a = runWorkload(t, vfs.NewErrorFS(mem, vfs.Injection{Ops: vfs.OpMutating, At: k, Sticky: true}), 1, crashWorkloadRecords)
		for seed := range int64(8) {
			c := mem.Crash(seed)
			probe := c.Crash(0) // recover a copy, to see whether a cut is needed
			if report, err := checkRecovered(probe, a); err == nil && report.TruncatedBytes > 0 {
				disk = c
				break
			}
		}
	}
	if disk == nil {
		t.Fatal("no crash point produced a torn tail")
	}
	counter := vfs.NewErrorFS(disk.Crash(0), vfs.Injection{Ops: vfs.OpAll})
	if _, err := checkRecovered(counter, a); err != nil {
		t.Fatal(err)
	}
	calls := counter.Calls()
	for n := 1; n <= calls; n++ {
		d := disk.Crash(0) // an identical copy
		efs := vfs.NewErrorFS(d, vfs.Injection{Ops: vfs.OpAll, At: n, PartialWrite: true})
		if _, err := checkRecovered(efs, a); err != nil && !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("recovery with call %d of %d failing: %v", n, calls, err)
		}
		if _, err := checkRecovered(d.Crash(int64(n)), a); err != nil {
			t.Fatalf("recovery after call %d of %d failed, then a crash: %v", n, calls, err)
		}
		if _, err := checkRecovered(d, a); err != nil {
			t.Fatalf("recovery after call %d of %d failed: %v", n, calls, err)
		}
	}
	t.Logf("%d recovery calls swept", calls)
}
