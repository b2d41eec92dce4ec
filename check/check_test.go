package check

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

const (
	nodeA causal.NodeID = 1
	nodeB causal.NodeID = 2
)

// txn makes a transaction on base (its Deps are base's context) and does
// not apply it.
func txn(t *testing.T, base *crdt.Keyspace, d causal.Dot, fn func(b *crdt.Builder) error) *crdt.Txn {
	t.Helper()
	b := base.Begin(d, causal.Timestamp{WallMs: 1000 + d.Counter, Logical: uint32(d.Node)})
	if err := fn(b); err != nil {
		t.Fatal(err)
	}
	return b.Finish()
}

func apply(t *testing.T, ks *crdt.Keyspace, txns ...*crdt.Txn) {
	t.Helper()
	for _, x := range txns {
		if err := ks.Apply(x); err != nil {
			t.Fatal(err)
		}
	}
}

// world is a small history of three writes applied to two keyspaces.
type world struct {
	h      History
	a, b   *crdt.Keyspace
	states []State
}

func newWorld(t *testing.T) *world {
	w := &world{a: crdt.NewKeyspace(), b: crdt.NewKeyspace()}
	t1 := txn(t, w.a, causal.Dot{Node: nodeA, Counter: 1}, func(b *crdt.Builder) error {
		_, err := b.Increment([]byte("c/1"), 5)
		if err == nil {
			err = b.Set([]byte("p/1/a"), []byte("x"))
		}
		if err == nil {
			err = b.Set([]byte("p/1/b"), []byte("x"))
		}
		return err
	})
	apply(t, w.a, t1)
	t2 := txn(t, w.a, causal.Dot{Node: nodeA, Counter: 2}, func(b *crdt.Builder) error {
		_, err := b.Increment([]byte("c/1"), -2)
		return err
	})
	// t3 is concurrent with t2: made on a state that has only t1.
	base := crdt.NewKeyspace()
	apply(t, base, t1)
	t3 := txn(t, base, causal.Dot{Node: nodeB, Counter: 1}, func(b *crdt.Builder) error {
		_, err := b.SetAdd([]byte("s/1"), []byte("m"))
		return err
	})
	apply(t, w.a, t2, t3)
	apply(t, w.b, t1, t3, t2) // another causal order
	w.h.AddWrite(&Write{Dot: t1.Dot, Txn: t1, Acked: true, Increments: []Increment{{"c/1", 5}}})
	w.h.AddWrite(&Write{Dot: t2.Dot, Txn: t2, Acked: true, Increments: []Increment{{"c/1", -2}}})
	w.h.AddWrite(&Write{Dot: t3.Dot, Txn: t3, Acked: false})
	w.states = []State{{Node: nodeA, Name: "a", Keyspace: w.a}, {Node: nodeB, Name: "b", Keyspace: w.b}}
	return w
}

func TestChecksPassOnAConsistentWorld(t *testing.T) {
	w := newWorld(t)
	var rep Report
	Converged(&rep, w.states)
	LostWrites(&rep, &w.h, w.states)
	Counters(&rep, &w.h, w.states)
	Oracle(&rep, &w.h, w.states, nil)
	w.h.Cut.Set(nodeA, 2)
	CollapseFinal(&rep, &w.h, w.states)
	if !rep.OK() {
		t.Fatalf("consistent world flagged:\n%s", rep.String())
	}
}

func TestLostWriteIsCaught(t *testing.T) {
	w := newWorld(t)
	// A forged acknowledged write that no replica holds.
	w.h.AddWrite(&Write{Dot: causal.Dot{Node: nodeB, Counter: 9}, Acked: true})
	var rep Report
	LostWrites(&rep, &w.h, w.states)
	if !rep.Has(CheckLostWrite) || len(rep.Failures) != 2 {
		t.Fatalf("forged lost write: want one failure per state, got:\n%s", rep.String())
	}
	// The same write from a node destroyed for good is exempt while no
	// replica holds it.
	w.h.Exempt = map[causal.NodeID]bool{nodeB: true}
	rep = Report{}
	LostWrites(&rep, &w.h, w.states)
	if !rep.OK() {
		t.Fatalf("exempt write flagged:\n%s", rep.String())
	}
}

func TestReusedAckedDotIsALostWrite(t *testing.T) {
	var h History
	d := causal.Dot{Node: nodeA, Counter: 1}
	h.AddWrite(&Write{Dot: d})
	h.Ack(d)
	h.AddWrite(&Write{Dot: d})
	var rep Report
	LostWrites(&rep, &h, nil)
	if !rep.Has(CheckLostWrite) || len(h.ReusedDots) != 1 {
		t.Fatalf("reused acknowledged dot not flagged: %s", rep.String())
	}
}

func TestDivergenceIsCaught(t *testing.T) {
	w := newWorld(t)
	// b misses t2: hashes differ, the counter on b is 5, the oracle
	// (built from a's context) disagrees with b, and t2 is lost on b.
	b := crdt.NewKeyspace()
	apply(t, b, w.h.Writes[0].Txn, w.h.Writes[2].Txn)
	w.states[1].Keyspace = b
	var rep Report
	Converged(&rep, w.states)
	LostWrites(&rep, &w.h, w.states)
	Oracle(&rep, &w.h, w.states, nil)
	for _, c := range []string{CheckConverged, CheckLostWrite, CheckOracle} {
		if !rep.Has(c) {
			t.Errorf("missing %s failure:\n%s", c, rep.String())
		}
	}
	// Counters judges each state by what it applied: b is self-consistent.
	rep = Report{}
	Counters(&rep, &w.h, w.states)
	if !rep.OK() {
		t.Fatalf("counters flagged a self-consistent state:\n%s", rep.String())
	}
	// A wrong increment record is caught.
	w.h.Writes[0].Increments[0].By = 6
	Counters(&rep, &w.h, w.states)
	if !rep.Has(CheckCounter) {
		t.Fatal("wrong counter not flagged")
	}
}

func TestAtomicAndSessionReads(t *testing.T) {
	var h History
	h.PairReads = []PairRead{
		{Step: 1, Pair: "p/1", A: []string{"x"}, B: []string{"x"}},
		{Step: 2, Pair: "p/1", A: nil, B: nil},
		{Step: 3, Pair: "p/2", A: []string{"x", "y"}, B: []string{"x"}},
	}
	h.Sessions = []SessionRead{
		{Step: 1, Session: 1, Key: "own/1", Value: 2, AckedSum: 2},
		{Step: 2, Session: 1, Key: "own/1", Value: 3, AckedSum: 2},
		{Step: 3, Session: 1, Key: "own/1", Value: 2, AckedSum: 2}, // went backwards
		{Step: 4, Session: 2, Key: "own/2", Value: 0, AckedSum: 1}, // lost its own write
	}
	var rep Report
	Atomic(&rep, &h)
	Sessions(&rep, &h)
	if len(rep.Failures) != 3 {
		t.Fatalf("want 3 failures (one atomic, two session), got:\n%s", rep.String())
	}
	s := rep.String()
	if !strings.Contains(s, "partly visible") || !strings.Contains(s, "monotonic") || !strings.Contains(s, "read-your-writes") {
		t.Fatalf("failures do not name their invariants:\n%s", s)
	}
}

func TestCollapsePresent(t *testing.T) {
	w := newWorld(t)
	var cut causal.VersionVector
	cut.Set(nodeA, 2)
	cut.Set(nodeB, 1)
	var rep Report
	CollapsePresent(&rep, 1, "a", &cut, w.states)
	if !rep.OK() {
		t.Fatalf("present cut flagged: %s", rep.String())
	}
	cut.Set(nodeB, 2)
	CollapsePresent(&rep, 1, "a", &cut, w.states)
	if !rep.Has(CheckCollapse) {
		t.Fatal("a cut beyond what members applied was not flagged")
	}
}

func TestCollapsedEverywhere(t *testing.T) {
	w := newWorld(t)
	all := func(causal.Dot) bool { return true }
	none := func(d causal.Dot) bool { return d.Node != nodeA }
	w.states[0].Collapsed, w.states[1].Collapsed = all, all
	var rep Report
	CollapsedEverywhere(&rep, &w.h, w.states)
	if !rep.OK() {
		t.Fatalf("all collapsed, still flagged: %s", rep.String())
	}
	w.states[1].Collapsed = none
	CollapsedEverywhere(&rep, &w.h, w.states)
	if !rep.Has(CheckCollapse) || len(rep.Failures) != 1 {
		t.Fatalf("an uncollapsed acknowledged write on b: %s", rep.String())
	}
}

func TestOracleFillsUnknownDependencies(t *testing.T) {
	// A transaction that depends on an internal transaction the history
	// does not hold (a membership change) is still replayed.
	ks := crdt.NewKeyspace()
	internal := txn(t, ks, causal.Dot{Node: nodeB, Counter: 1}, func(b *crdt.Builder) error {
		return b.Set([]byte("\x00internal"), []byte("m"))
	})
	apply(t, ks, internal)
	user := txn(t, ks, causal.Dot{Node: nodeA, Counter: 1}, func(b *crdt.Builder) error {
		return b.Set([]byte("r/1"), []byte("v"))
	})
	apply(t, ks, user)
	var h History
	h.AddWrite(&Write{Dot: user.Dot, Txn: user, Acked: true})
	var rep Report
	isInternal := func(k []byte) bool { return len(k) > 0 && k[0] == 0 }
	Oracle(&rep, &h, []State{{Name: "a", Keyspace: ks}}, isInternal)
	if !rep.OK() {
		t.Fatalf("oracle with an unknown dependency: %s", rep.String())
	}
}

func TestCausalReads(t *testing.T) {
	h := History{Causal: []CausalRead{
		{Step: 1, Session: 1, Mark: -1, Count: 0},
		{Step: 2, Session: 1, Mark: 3, Count: 3},
		{Step: 3, Session: 1, Mark: 3, Count: 5},
		{Step: 4, Session: 2, Mark: 4, Count: 3}, // the mark arrived before its past
	}}
	var rep Report
	Causal(&rep, &h)
	if len(rep.Failures) != 1 || !rep.Has(CheckCausal) {
		t.Fatalf("want exactly the step 4 read flagged, got:\n%s", rep.String())
	}
}

func TestExpiryReads(t *testing.T) {
	h := History{Expiry: []ExpiryRead{
		{Step: 1, Key: "x/0", TrueMs: 1000, ReaderMs: 1000, Visible: true, Deadline: -1},
		{Step: 2, Key: "x/0", TrueMs: 1000, ReaderMs: 850, BoundMs: 200, Visible: true, Deadline: 900}, // clock behind, within the bound
		{Step: 3, Key: "x/0", TrueMs: 2000, ReaderMs: 2000, Visible: false, Expired: true, Deadline: -1},
		{Step: 4, Key: "x/1", TrueMs: 2000, ReaderMs: 1400, BoundMs: 200, Visible: true, Deadline: 1500}, // beyond the bound
		{Step: 5, Key: "x/1", TrueMs: 2000, ReaderMs: 2000, BoundMs: 0, Visible: true, Deadline: 2000},   // its own clock says expired
	}}
	var rep Report
	Expiry(&rep, &h)
	if len(rep.Failures) != 2 || !rep.Has(CheckExpiry) || !strings.Contains(rep.String(), "step 4") || !strings.Contains(rep.String(), "step 5") {
		t.Fatalf("want exactly the step 4 and 5 reads flagged, got:\n%s", rep.String())
	}
}

// A client write lost in a crash, whose dot the replica then used for an
// internal transaction, must not be replayed by the oracle.
func TestInternalDotReplacesALostWrite(t *testing.T) {
	ks := crdt.NewKeyspace()
	d := causal.Dot{Node: nodeA, Counter: 1}
	lost := txn(t, crdt.NewKeyspace(), d, func(b *crdt.Builder) error { return b.Set([]byte("r/1"), []byte("lost")) })
	internal := txn(t, ks, d, func(b *crdt.Builder) error { return b.Set([]byte("\x00members/a"), []byte("left")) })
	apply(t, ks, internal)
	var h History
	h.AddWrite(&Write{Dot: d, Txn: lost})
	h.AddInternal(d)
	if w := h.Write(d); w == nil || !w.Internal || len(h.ReusedDots) != 1 || len(h.ReusedAcked) != 0 {
		t.Fatalf("internal dot not recorded as a reuse of an unacknowledged write: %+v", h)
	}
	var rep Report
	isInternal := func(k []byte) bool { return len(k) > 0 && k[0] == 0 }
	Oracle(&rep, &h, []State{{Name: "a", Keyspace: ks}}, isInternal)
	if !rep.OK() {
		t.Fatalf("oracle replayed a write whose dot now names an internal transaction: %s", rep.String())
	}
}
