package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/invariants"
	"github.com/spooksystems/spook/limits"
)

// Invariants of the replica, checked when a Ready is handed out: the
// point where the replica's promises become the driver's input. A
// violation is a bug in this package (never bad input, which is refused
// with an error), so it panics. Cheap checks always run; those that cost
// O(state) run only with the invariants build tag (make test, the
// simulator's CI run).

// invariantSampleReadys is how often (in Readys) the O(retained log)
// recount runs with the invariants tag: often enough to catch a drift
// within a test, rarely enough that 100,000 retained transactions do not
// make a test quadratic.
const invariantSampleReadys = 256

// assertf panics with a formatted invariant violation.
func assertf(format string, args ...any) {
	panic(fmt.Sprintf("replica: invariant violated: "+format, args...))
}

// checkReady checks rd, about to be handed to the driver, and the state
// behind it.
func (r *Replica) checkReady(rd *Ready) {
	// Every record fits the log (Propose and the repair chunking bound
	// them; a larger one would fail the log for good).
	for i, rec := range rd.Records {
		if len(rec) == 0 || len(rec) > limits.MaxRecordBytes {
			assertf("record %d of %d bytes (limit %d)", i, len(rec), limits.MaxRecordBytes)
		}
	}
	// The causal buffer and the retained log stay within their bounds.
	if len(r.pending) > r.cfg.MaxPendingTxns || r.pendingBytes < 0 || r.pendingBytes > r.cfg.MaxPendingBytes {
		assertf("causal buffer holds %d txns, %d bytes (limits %d, %d)",
			len(r.pending), r.pendingBytes, r.cfg.MaxPendingTxns, r.cfg.MaxPendingBytes)
	}
	if r.logBytes < 0 || r.logBytes > r.cfg.MaxRetainedBytes || len(r.log) > r.cfg.MaxRetainedTxns {
		assertf("retained log holds %d txns, %d bytes (limits %d, %d)",
			len(r.log), r.logBytes, r.cfg.MaxRetainedTxns, r.cfg.MaxRetainedBytes)
	}
	if len(r.held) > MaxHeldTxns || r.heldBytes < 0 || r.heldBytes > MaxHeldBytes {
		assertf("unsigned hold holds %d txns, %d bytes (limits %d, %d)", len(r.held), r.heldBytes, MaxHeldTxns, MaxHeldBytes)
	}
	if j := &r.join; len(j.inflight) > r.cfg.MaxSnapshotChunksInFlight+1 {
		// +1: the re-request of offset 0 after a restart.
		assertf("%d snapshot chunk requests in flight (limit %d)", len(j.inflight), r.cfg.MaxSnapshotChunksInFlight)
	}
	if len(r.pins) > r.cfg.MaxSnapshotPins {
		assertf("%d pinned snapshots (limit %d)", len(r.pins), r.cfg.MaxSnapshotPins)
	}
	if !invariants.Enabled {
		return
	}
	applied := r.ks.Context().Vector
	// The applied vector never goes back: a peer told of a dot must find
	// it here for good (a Restore starts a new replica).
	if !applied.Dominates(&r.lastApplied) {
		assertf("applied vector went back from %v to %v", r.lastApplied, applied)
	}
	r.lastApplied = applied.Clone()
	// No message claims more than this Ready's records and earlier ones
	// hold: every record is emitted when its transaction is applied, so
	// the applied vector now covers every claim, and the driver persists
	// this Ready's records before it sends these messages.
	for i := range rd.Messages {
		m := &rd.Messages[i].Message
		if !applied.Dominates(&m.Applied) {
			assertf("message %d (%s to %s) claims %v, beyond the applied %v",
				i, m.Type, rd.Messages[i].To, m.Applied, applied)
		}
	}
	// The retained log's count is what its entries hold, oldest first
	// and above the floor.
	r.readys++
	if r.readys%invariantSampleReadys == 0 {
		sum := 0
		for _, e := range r.log {
			sum += logEntryBytes(e.record)
			if e.dot.Counter <= r.floor.Get(e.dot.Node) {
				assertf("retained %s at or below the floor %v", e.dot, r.floor)
			}
		}
		if sum != r.logBytes {
			assertf("retained log counts %d bytes, its entries hold %d", r.logBytes, sum)
		}
	}
}

// invariantState is what the checks remember between Readys (with the
// invariants tag).
type invariantState struct {
	lastApplied causal.VersionVector
	readys      uint64
}

// checkCut recomputes the collapsed cut from every term (invariants
// builds only: O(members × vector)) and asserts the incremental one
// (settleCut, noteRise) equals it.
func (r *Replica) checkCut() {
	full := r.selfTerm()
	for _, id := range r.order {
		if p := r.peers[id]; p.status == StateAlive {
			full.Meet(&p.applied)
		}
	}
	if !full.Equal(&r.cut) {
		assertf("incremental collapsed cut %v, recomputed %v", &r.cut, &full)
	}
	// The region cut meets a subset of the cluster cut's terms.
	if region := r.RegionCollapsedVector(); !region.Dominates(&r.cut) {
		assertf("region collapsed cut %v below the cluster cut %v", &region, &r.cut)
	}
}
