package replica

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

func TestProposeReplicates(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	tok := c.set("n1", "k", "v")
	c.incr("n2", "c", 5)
	c.deliver()
	for _, n := range c.names {
		if got := c.get(n, "k"); got != "v" {
			t.Fatalf("%s: k = %q", n, got)
		}
		if got := c.get(n, "c"); got != "5" {
			t.Fatalf("%s: c = %q", n, got)
		}
	}
	c.requireConverged()
	if got := c.node("n1").r.AppliedBy(tok); got != 3 {
		t.Fatalf("AppliedBy = %d, want 3", got)
	}
	c.tick(1)
	for _, n := range c.names {
		if !c.node(n).r.Collapsed(tok) {
			t.Fatalf("%s: token not collapsed after acks: cut %v", n, c.node(n).r.CollapsedVector())
		}
	}
}

func TestRestoreReplaysRecords(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	c.set("n1", "a", "1")
	c.incr("n2", "b", 2)
	c.deliver()
	c.set("n1", "a", "3")
	c.deliver()
	n1 := c.node("n1")
	r, err := Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	if r.Keyspace().Hash() != n1.r.Keyspace().Hash() {
		t.Fatalf("restored hash %016x, live %016x", r.Keyspace().Hash(), n1.r.Keyspace().Hash())
	}
	if r.Status().Retained != 3 {
		t.Fatalf("retained log after restore holds %d txns, want the 3 replayed", r.Status().Retained)
	}
	// The restored node continues its own dot sequence.
	tok, err := r.Propose(func(b *crdt.Builder) error { return b.Set([]byte("x"), []byte("y")) })
	if err != nil || tok.Counter != 3 {
		t.Fatalf("next dot %v, err %v; want counter 3", tok, err)
	}
	if _, err := Restore(n1.cfg, nil, [][]byte{{99}}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("bad record: err = %v", err)
	}
}

func TestCausalBufferHoldsOutOfOrder(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	// n1 writes a, then b; n2 sees both; n2 writes c after them. n3 gets
	// n2's c before n1's writes: it must wait for them.
	c.partition([]string{"n1"}, []string{"n3"})
	c.set("n1", "a", "1")
	c.set("n1", "b", "2")
	c.deliver()
	tok := c.set("n2", "c", "3")
	c.deliver()
	n3 := c.node("n3")
	if got := c.get("n3", "c"); got != "<nil>" {
		t.Fatalf("n3 applied c before its causal past: %q", got)
	}
	if n3.r.Status().Pending != 1 {
		t.Fatalf("pending = %d, want 1", n3.r.Status().Pending)
	}
	if n3.r.AppliedBy(tok) != 0 && n3.r.Keyspace().Context().Contains(tok) {
		t.Fatal("buffered txn counted as applied")
	}
	c.heal()
	c.tick(3 * DefaultDigestTicks)
	for _, k := range []string{"a", "b", "c"} {
		if got := c.get("n3", k); got == "<nil>" {
			t.Fatalf("n3: %s missing after heal", k)
		}
	}
	if n3.r.Status().Pending != 0 {
		t.Fatal("buffer not drained")
	}
	c.requireConverged()
}

func TestCausalBufferFullDrops(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	for _, n := range c.nodes {
		n.r.cfg.MaxPendingTxns = 2
	}
	c.partition([]string{"n1"}, []string{"n3"})
	c.set("n1", "a", "1")
	c.deliver()
	for i := 0; i < 4; i++ {
		c.set("n2", fmt.Sprintf("k%d", i), "v")
		c.deliver()
	}
	n3 := c.node("n3")
	if n3.r.Status().Pending != 2 {
		t.Fatalf("pending = %d, want the limit 2", n3.r.Status().Pending)
	}
	if !n3.hasEvent(EventBufferFull, id("n2")) {
		t.Fatalf("no buffer-full event: %v", n3.events)
	}
	c.heal()
	c.tick(5 * DefaultDigestTicks)
	c.requireConverged()
	if got := c.get("n3", "k3"); got != "v" {
		t.Fatalf("dropped txn not fetched later: %q", got)
	}
}

func TestClockAheadRefused(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	n1 := c.node("n1")
	// n1's physical clock runs two minutes ahead.
	n1.r.Tick(c.nowMs + 120_000)
	tok := c.set("n1", "k", "v")
	c.deliver()
	n2 := c.node("n2")
	if got := c.get("n2", "k"); got != "<nil>" {
		t.Fatalf("far-ahead txn applied: %q", got)
	}
	if !n2.hasEvent(EventClockRefused, tok.Node) {
		t.Fatalf("no clock-refused event: %v", n2.events)
	}
	// Once n2's clock catches up, anti-entropy delivers it.
	c.nowMs += 120_000
	c.tick(3 * DefaultDigestTicks)
	if got := c.get("n2", "k"); got != "v" {
		t.Fatalf("txn not applied once within bound: %q", got)
	}
}

func TestReadOnlyAndInternalKeys(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	_, err := c.node("n1").r.Propose(func(b *crdt.Builder) error {
		return b.Set([]byte(MemberPrefix+"x"), []byte("v"))
	})
	if !errors.Is(err, ErrInternalKey) {
		t.Fatalf("internal key write: err = %v", err)
	}
	if _, err := c.node("n2").r.Leave(); err != nil {
		t.Fatal(err)
	}
	c.deliver()
	if _, err := c.node("n2").r.Propose(func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write after leave: err = %v", err)
	}
	if !c.node("n1").hasEvent(EventMemberLeft, id("n2")) {
		t.Fatal("n1 did not see n2 leave")
	}
	if !IsInternalKey([]byte(MemberPrefix)) || IsInternalKey([]byte("user")) {
		t.Fatal("IsInternalKey")
	}
	if tok, err := c.node("n1").r.Propose(func(b *crdt.Builder) error { return nil }); err != nil || !tok.IsZero() {
		t.Fatalf("empty txn: %v %v", tok, err)
	}
}

func TestFailureDetectorAndRemoval(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	c.tick(5)
	c.node("n3").down = true
	tok := c.set("n1", "k", "v")
	c.tick(DefaultProbeTicks*4 + DefaultSuspectTicks)
	n1 := c.node("n1")
	if !n1.hasEvent(EventPeerSuspect, id("n3")) || !n1.hasEvent(EventPeerUnreachable, id("n3")) {
		t.Fatalf("n3 not suspected then unreachable: %v", n1.events)
	}
	if n1.r.Collapsed(tok) {
		t.Fatal("collapsed while a member is unreachable")
	}
	// Local writes continue.
	c.set("n1", "k2", "v2")
	if _, err := n1.r.Remove(id("n3")); err != nil {
		t.Fatal(err)
	}
	c.tick(2)
	for _, n := range []string{"n1", "n2"} {
		if !c.node(n).r.Collapsed(tok) {
			t.Fatalf("%s: not collapsed after removal; cut %v", n, c.node(n).r.CollapsedVector())
		}
	}
	if !c.node("n2").hasEvent(EventMemberRemoved, id("n3")) {
		t.Fatal("n2 did not see the removal")
	}
	// n3 comes back: its old writes still apply, and it learns it was removed.
	c.node("n3").down = false
	c.tick(4 * DefaultDigestTicks)
	if c.node("n3").r.state != NodeRemoved {
		t.Fatalf("n3 state %s, want removed", c.node("n3").r.state)
	}
}

func TestIndirectProbeAvoidsFalseSuspicion(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	// Only the n1↔n2 link is broken; n3 can reach both.
	c.partition([]string{"n1"}, []string{"n2"})
	c.tick(DefaultProbeTicks * 10)
	n1 := c.node("n1")
	if n1.hasEvent(EventPeerSuspect, id("n2")) {
		t.Fatalf("n2 suspected although reachable through n3: %v", n1.events)
	}
}

func TestDivergenceRepaired(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	for i := 0; i < 200; i++ {
		c.set("n1", fmt.Sprintf("key%03d", i), "v")
	}
	c.deliver()
	c.requireConverged()
	c.corrupt("n2", "key007", "garbage")
	if c.converged() {
		t.Fatal("corruption did not change the hash")
	}
	c.tick(6 * DefaultDigestTicks)
	c.requireConverged()
	for _, n := range c.names {
		if got := c.node(n).r.Keyspace().Len(); got != 200 {
			t.Fatalf("%s holds %d keys after repair, want 200", n, got)
		}
	}
	div, rep := false, false
	for _, n := range c.nodes {
		div = div || n.hasEvent(EventDivergence, 0)
		rep = rep || n.hasEvent(EventRepaired, 0)
	}
	if !div || !rep {
		t.Fatal("no divergence / repaired events")
	}
	if c.bytesBy[MsgSyncKeys] > 2000 {
		t.Fatalf("repair of one key shipped %d bytes of keys", c.bytesBy[MsgSyncKeys])
	}
}

func TestJoinBySnapshot(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for i := 0; i < 50; i++ {
		c.incr("n1", fmt.Sprintf("c%d", i), int64(i))
	}
	c.deliver()
	n3 := c.add(Config{Name: "n3", Addr: "n3:7000", Join: []Peer{{Name: "n2"}}, Seed: 3, NowMs: c.nowMs})
	if _, err := n3.r.Propose(func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("joining node accepted a write: %v", err)
	}
	c.tick(2)
	if n3.r.state != NodeMember || !n3.hasEvent(EventJoined, id("n2")) {
		t.Fatalf("n3 state %s, events %v", n3.r.state, n3.events)
	}
	c.set("n3", "hello", "world")
	c.set("n1", "after", "join")
	c.tick(3 * DefaultDigestTicks)
	c.requireConverged()
	if got := c.get("n1", "hello"); got != "world" {
		t.Fatalf("n1 missing n3's write: %q", got)
	}
	if got := c.get("n3", "c49"); got != "49" {
		t.Fatalf("n3 missing snapshot data: %q", got)
	}
	if !c.node("n1").hasEvent(EventMemberJoined, id("n3")) {
		t.Fatal("n1 did not see n3 join")
	}
	if len(c.node("n1").r.Members()) != 3 {
		t.Fatalf("members %v", c.node("n1").r.Members())
	}
	// n3 restarts from what it persisted.
	r, err := Restore(n3.cfg, n3.snapshot, n3.records)
	if err != nil {
		t.Fatal(err)
	}
	if r.state != NodeMember || r.Keyspace().Hash() != n3.r.Keyspace().Hash() {
		t.Fatalf("restored joiner: state %s", r.state)
	}
	tok := c.set("n1", "final", "x")
	c.tick(DefaultProbeTicks * 4)
	if !c.node("n1").r.Collapsed(tok) {
		t.Fatalf("not collapsed with the joined member: cut %v", c.node("n1").r.CollapsedVector())
	}
}

func TestTooFarBehindReconciles(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for _, n := range c.nodes {
		n.r.cfg.MaxRetainedTxns = 10
	}
	c.partition([]string{"n1"}, []string{"n2"})
	for i := 0; i < 100; i++ {
		c.set("n1", fmt.Sprintf("k%d", i), "v")
	}
	c.deliver()
	c.heal()
	c.tick(6 * DefaultDigestTicks)
	c.requireConverged()
	if !c.node("n1").hasEvent(EventCatchUpTooFar, id("n2")) {
		t.Fatal("no too-far event")
	}
	if !c.node("n2").hasEvent(EventRepaired, id("n1")) {
		t.Fatalf("n2 not repaired: %v", c.node("n2").events)
	}
	for _, n := range c.names {
		if got := c.node(n).r.Keyspace().Len(); got != 100 {
			t.Fatalf("%s holds %d keys after reconciliation, want 100", n, got)
		}
	}
	a1, a2 := c.node("n1").r.Applied(), c.node("n2").r.Applied()
	if !a1.Equal(&a2) {
		t.Fatal("applied vectors differ after reconciliation")
	}
}

func TestBusyPeerRepairFallsBackToSnapshot(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for i := 0; i < 300; i++ {
		c.set("n1", fmt.Sprintf("k%d", i), "v")
	}
	c.deliver()
	c.partition([]string{"n1"}, []string{"n2"})
	for i := 0; i < 50; i++ {
		c.set("n1", fmt.Sprintf("k%d", i), "w")
	}
	c.deliver()
	c.node("n1").r.resetLog() // n2 is now beyond n1's retained log
	c.heal()
	// n1 writes whenever it answers a reconciliation request: every
	// session sees it change.
	c.before = func(p payload) {
		if p.typ == MsgSyncReq {
			c.incr("n1", "busy", 1)
		}
	}
	c.tick(6 * DefaultDigestTicks)
	c.before = nil
	n2 := c.node("n2")
	if !n2.hasEvent(EventRepairAborted, id("n1")) {
		t.Fatalf("no aborted session: %v", n2.events)
	}
	found := false
	for _, e := range n2.events {
		found = found || (e.Type == EventRepaired && strings.HasPrefix(e.Reason, "snapshot transfer"))
	}
	if !found {
		t.Fatalf("no snapshot repair: %v", n2.events)
	}
	c.tick(2)
	c.requireConverged()
	if got := c.get("n2", "k7"); got != "w" {
		t.Fatalf("k7 = %q after repair", got)
	}
	if n2.snapshot == nil {
		t.Fatal("repair snapshot not persisted")
	}
	r, err := Restore(n2.cfg, n2.snapshot, n2.records)
	if err != nil || r.Keyspace().Hash() != n2.r.Keyspace().Hash() {
		t.Fatalf("restore after repair snapshot: %v", err)
	}
}

func TestLostOwnWritesBlockProposals(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	c.set("n1", "a", "1")
	c.deliver()
	n1 := c.node("n1")
	// n1 crashes and loses its unsynced record of n1:1, which n2 applied.
	r, err := Restore(n1.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n1.r, n1.records = r, nil
	for l := range c.codecs {
		delete(c.codecs, l)
	}
	c.tick(DefaultProbeTicks) // hears n2's applied vector
	if _, err := n1.r.Propose(func(b *crdt.Builder) error { return b.Set([]byte("b"), []byte("2")) }); err == nil && n1.r.Keyspace().Context().Vector.Get(n1.r.ID()) == 1 {
		t.Fatal("proposal reused a lost dot")
	}
	c.tick(3 * DefaultDigestTicks) // anti-entropy brings n1:1 back
	tok := c.set("n1", "b", "2")
	if tok.Counter != 2 {
		t.Fatalf("new write got dot %v, want counter 2", tok)
	}
	c.deliver()
	c.requireConverged()
}

// TestDuplicatedAnswersDoNotEndRepairEarly replays every reconciliation
// answer and snapshot chunk twice: a session must still compare every
// differing node before it merges the responder's context.
func TestDuplicatedAnswersDoNotEndRepairEarly(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for i := 0; i < 500; i++ {
		c.set("n1", fmt.Sprintf("k%d", i), "v")
	}
	c.deliver()
	c.partition([]string{"n1"}, []string{"n2"})
	for i := 0; i < 500; i += 7 {
		c.set("n1", fmt.Sprintf("k%d", i), "w")
	}
	c.deliver()
	c.node("n1").r.resetLog()
	c.heal()
	c.dup = func(p payload) bool {
		return p.typ == MsgSyncResp || p.typ == MsgSyncKeys || p.typ == MsgSnapshot
	}
	c.tick(4 * DefaultDigestTicks)
	c.requireConverged()
	for i := 0; i < 500; i += 7 {
		if got := c.get("n2", fmt.Sprintf("k%d", i)); got != "w" {
			t.Fatalf("k%d = %q on n2", i, got)
		}
	}
}

// TestHiddenDifferenceRepaired corrupts a hidden value (a deleted
// counter's resets, under dots the other replica already has). The key
// tree covers hidden values (crdt.Keyspace.RangeState), so reconciliation
// finds and ships the key itself: no whole-state snapshot is needed. (It
// once did not see them, and a replica could miss such a value for good:
// sim seeds 1124, 1504, 2356.)
func TestHiddenDifferenceRepaired(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for i := 0; i < 3; i++ {
		c.set("n1", fmt.Sprintf("k%d", i), "v")
	}
	c.deliver()
	// A keyspace with a hidden counter under dots n2 already has.
	other := crdt.NewKeyspace()
	for i, op := range []func(b *crdt.Builder) error{
		func(b *crdt.Builder) error { _, err := b.Increment([]byte("zz"), 5); return err },
		func(b *crdt.Builder) error { return b.Delete([]byte("zz")) },
	} {
		b := other.Begin(causal.Dot{Node: id("n1"), Counter: uint64(i + 1)}, causal.Timestamp{WallMs: 1})
		if err := op(b); err != nil {
			t.Fatal(err)
		}
		if err := other.Apply(b.Finish()); err != nil {
			t.Fatal(err)
		}
	}
	n2 := c.node("n2").r
	before := n2.Applied()
	n2.Keyspace().Join(other)
	if after := n2.Applied(); !after.Equal(&before) || c.converged() {
		t.Skip("the crdt keeps no hidden state for a deleted counter; nothing to test")
	}
	c.tick(8 * DefaultDigestTicks)
	c.requireConverged()
	for _, n := range c.nodes {
		for _, e := range n.events {
			if e.Type == EventRepaired && strings.HasPrefix(e.Reason, "snapshot transfer") {
				t.Fatalf("repaired by a snapshot transfer, not by reconciling the key: %v", e)
			}
		}
	}
}

// TestDeterministic runs the same faulty workload twice and requires the
// same bytes on every link, in the same order: the replica draws nothing
// from the environment (map order, time, randomness) that could differ.
func TestDeterministic(t *testing.T) {
	trace := func() uint64 {
		c := newCluster(t, "n1", "n2", "n3", "n4")
		var h uint64 = 14695981039346656037
		c.before = func(p payload) {
			for _, b := range p.bytes {
				h = (h ^ uint64(b)) * 1099511628211
			}
		}
		for round := 0; round < 30; round++ {
			for i, n := range c.names {
				c.set(n, fmt.Sprintf("k%d", (round*7+i)%13), fmt.Sprint(round))
				c.incr(n, "hits", int64(i))
			}
			switch round {
			case 5:
				c.partition([]string{"n1", "n2"}, []string{"n3", "n4"})
			case 15:
				c.heal()
				c.corrupt("n4", "k3", "x")
			case 20:
				c.node("n2").down = true
			}
			c.tick(7)
		}
		c.node("n2").down = false
		c.tick(100)
		return h
	}
	a, b := trace(), trace()
	if a != b {
		t.Fatalf("two runs differ: trace %016x vs %016x", a, b)
	}
}
