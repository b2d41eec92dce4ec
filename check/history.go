package check

import (
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Increment is one counter increment a transaction made.
type Increment struct {
	Key string
	By  int64
}

// Write is one transaction a client proposed and the replica accepted
// (Propose returned a token). Whether it survives is for the checkers to
// find out: an unacknowledged write may or may not be applied in the end;
// an acknowledged one must be.
type Write struct {
	Dot     causal.Dot
	Txn     *crdt.Txn // the transaction as the replica made it; nil if unknown
	Session int
	Step    int  // when it was proposed
	Acked   bool // the client saw the acknowledgement (it was durable)
	// Increments lists every counter increment the transaction made, so
	// Counters can check counter values by arithmetic alone.
	Increments []Increment
	// Internal marks a dot the replica used for one of its own
	// transactions (a membership change); the history does not hold it,
	// and the oracle treats it as content it does not judge.
	Internal bool
}

// PairRead is one read of a transaction pair's two keys, made at one
// instant on one replica. A and B are the register values (all siblings,
// sorted) of the two keys.
type PairRead struct {
	Step int
	Node causal.NodeID
	Pair string
	A, B []string
}

// SessionRead is one read of a session's own counter.
type SessionRead struct {
	Step    int
	Session int
	Node    causal.NodeID
	Key     string
	Value   int64
	// AckedSum is the sum of the session's increments of Key acknowledged
	// before the read: read-your-writes demands Value ≥ AckedSum.
	AckedSum int64
}

// CausalRead is one read, on one replica at one instant, of a session's
// causal mark (the number of own-counter increments the session had
// proposed when it set the mark, -1 if unset or unreadable) and of its
// own counter. The increments are in the mark's causal past, so Count ≥
// Mark on any replica that respects causal order.
type CausalRead struct {
	Step    int
	Node    causal.NodeID
	Session int
	Mark    int64
	Count   int64
}

// ExpiryRead is one read of an expiring key on one replica, as a client
// reads it: hidden once its deadline is at or before the replica's clock.
// TrueMs is the simulated true time of the read (no node's clock);
// BoundMs bounds every node's clock error at that moment.
type ExpiryRead struct {
	Step     int
	Node     causal.NodeID
	Key      string
	TrueMs   uint64
	ReaderMs uint64 // the reading replica's clock
	BoundMs  int64  // the largest distance of any node's clock from true time then
	Visible  bool
	Expired  bool  // not visible because its deadline had passed on the reader's clock
	Deadline int64 // of the visible value; -1 if none (or not visible)
}

// History is what the simulator recorded while driving the replicas. The
// zero value is empty and ready to use.
type History struct {
	Writes    []*Write
	byDot     map[causal.Dot]*Write
	PairReads []PairRead
	Sessions  []SessionRead
	Causal    []CausalRead
	Expiry    []ExpiryRead
	// Cut is the join of every collapsed cut any replica reported during
	// the run: every dot in it was called collapsed by someone.
	Cut         causal.VersionVector
	ReusedDots  []causal.Dot // dots proposed twice (after a crash lost the first)
	ReusedAcked []causal.Dot // ... whose first proposal had been acknowledged
	// Exempt names nodes destroyed for good (never restarted). A write
	// acknowledged by such a node was durable only on its disk until it
	// replicated; if it never did, losing it is the documented price of a
	// local acknowledgement (clients that need more use WAIT), so
	// LostWrites does not flag it.
	Exempt map[causal.NodeID]bool
}

// AddWrite records a proposed transaction. A dot proposed a second time
// replaces the first (the replica reused a counter after a crash lost the
// first proposal); it is noted in ReusedDots, and in ReusedAcked if the
// first had been acknowledged, which is a lost write.
func (h *History) AddWrite(w *Write) {
	if h.byDot == nil {
		h.byDot = make(map[causal.Dot]*Write)
	}
	if old, ok := h.byDot[w.Dot]; ok {
		h.ReusedDots = append(h.ReusedDots, w.Dot)
		if old.Acked {
			h.ReusedAcked = append(h.ReusedAcked, w.Dot)
		}
		*old = *w
		return
	}
	h.byDot[w.Dot] = w
	h.Writes = append(h.Writes, w)
}

// AddInternal records that dot d names one of the replica's own
// transactions (Leave, Remove). If a client write with that dot was
// recorded (a crash lost it before it was durable, and the counter was
// used again), it is replaced, as AddWrite replaces.
func (h *History) AddInternal(d causal.Dot) {
	h.AddWrite(&Write{Dot: d, Internal: true})
}

// Write returns the recorded write with dot d, or nil.
func (h *History) Write(d causal.Dot) *Write { return h.byDot[d] }

// Ack marks the write with dot d acknowledged. It returns false if no
// such write was recorded.
func (h *History) Ack(d causal.Dot) bool {
	w := h.byDot[d]
	if w == nil {
		return false
	}
	w.Acked = true
	return true
}

// State is what the checkers read from one live replica at the end of a
// run (or at one instant during it).
type State struct {
	Node     causal.NodeID
	Name     string
	Keyspace *crdt.Keyspace
	// Collapsed reports whether the replica calls dot collapsed; nil if
	// the caller does not check collapse.
	Collapsed func(d causal.Dot) bool
}
