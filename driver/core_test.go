package driver

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// pair returns a Core for node a of a two-node cluster {a, b} and b's
// replica, both started at the same time.
func pair(t *testing.T, cfg Config) (*Core, *replica.Replica) {
	t.Helper()
	members := []replica.Peer{{Name: "a"}, {Name: "b"}}
	ra, err := replica.New(replica.Config{Name: "a", Members: members, NowMs: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := replica.New(replica.Config{Name: "b", Members: members, NowMs: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, ra), rb
}

func set(key, value string) func(b *crdt.Builder) error {
	return func(b *crdt.Builder) error { return b.Set([]byte(key), []byte(value)) }
}

func txnSends(out Output) int {
	n := 0
	for _, e := range out.Send {
		if e.Message.Type == replica.MsgTxns {
			n++
		}
	}
	return n
}

// TestBatchAnswersAtOnceSendsAfterSync: under batch a write is answered in
// the Output that carries its record, and the message pushing it leaves
// only after Synced covers that record.
func TestBatchAnswersAtOnceSendsAfterSync(t *testing.T) {
	c, _ := pair(t, Config{Policy: Batch})
	if _, err := c.Propose(7, set("k", "v")); err != nil {
		t.Fatal(err)
	}
	out := c.Ready()
	if len(out.Records) != 1 || out.SyncTo != 1 {
		t.Fatalf("records %d, SyncTo %d; want 1 and 1", len(out.Records), out.SyncTo)
	}
	if len(out.Done) != 1 || out.Done[0] != 7 {
		t.Fatalf("Done = %v, want [7] at once under batch", out.Done)
	}
	if len(out.Send) != 0 || len(out.Changes) != 0 {
		t.Fatalf("sent %d messages and published %d changes before the sync", len(out.Send), len(out.Changes))
	}
	c.Synced(out.SyncTo)
	out = c.Ready()
	if txnSends(out) != 1 || len(out.Changes) != 1 {
		t.Fatalf("after Synced: %d txn messages, %d changes; want 1 and 1", txnSends(out), len(out.Changes))
	}
}

// TestAlwaysAnswersAfterSync: under always the answer waits for the sync.
func TestAlwaysAnswersAfterSync(t *testing.T) {
	c, _ := pair(t, Config{Policy: Always})
	c.Propose(1, set("k", "v"))
	c.Propose(2, set("k2", "v"))
	out := c.Ready()
	if len(out.Done) != 0 {
		t.Fatalf("answered %v before the sync", out.Done)
	}
	c.Propose(3, set("k3", "v")) // arrives during the sync: waits for the next
	out2 := c.Ready()
	c.Synced(out.SyncTo)
	out3 := c.Ready()
	if fmt.Sprint(out3.Done) != "[1 2]" {
		t.Fatalf("after the first sync Done = %v, want [1 2]", out3.Done)
	}
	c.Synced(out2.SyncTo)
	if out4 := c.Ready(); fmt.Sprint(out4.Done) != "[3]" {
		t.Fatalf("after the second sync Done = %v, want [3]", out4.Done)
	}
}

// TestFailReportsUnknown: a write applied but not yet durable when the node
// fails is reported Unknown, never done and never "no write was made";
// later input is refused and nothing more is emitted.
func TestFailReportsUnknown(t *testing.T) {
	c, _ := pair(t, Config{Policy: Always})
	c.Propose(1, set("k", "v"))
	c.Ready()
	cause := errors.New("fsync: input/output error")
	c.Fail(cause)
	out := c.Ready()
	if fmt.Sprint(out.Unknown) != "[1]" || len(out.Done) != 0 || len(out.Send) != 0 {
		t.Fatalf("after Fail: Unknown %v Done %v Send %d; want [1], none, none", out.Unknown, out.Done, len(out.Send))
	}
	if _, err := c.Propose(2, set("k", "w")); !errors.Is(err, ErrFailed) || !errors.Is(err, cause) {
		t.Fatalf("Propose after Fail: %v, want ErrFailed wrapping the cause", err)
	}
	if err := c.Step(causal.NodeIDFromName("b"), replica.Message{Type: replica.MsgAck}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Step after Fail: %v, want ErrFailed", err)
	}
	c.Tick(1e12 + 10)
	if c.HasReady() {
		t.Fatalf("a failed Core has output: %+v", c.Ready())
	}
}

// TestWindowDropsAndReleases: pushes beyond the window are not sent (the
// replica sends a digest instead); the peer's acknowledgement opens it.
func TestWindowDropsAndReleases(t *testing.T) {
	c, rb := pair(t, Config{Policy: None, MaxWindowBytes: 200})
	a := causal.NodeIDFromName("a")
	var sent []replica.Envelope
	for i := range 10 {
		c.Propose(Ticket(i), set(fmt.Sprintf("key%d", i), "a value of some length"))
		out := c.Ready()
		sent = append(sent, out.Send...)
	}
	pushed, digests := 0, 0
	for _, e := range sent {
		switch e.Message.Type {
		case replica.MsgTxns:
			pushed++
		case replica.MsgDigest:
			digests++
		}
	}
	if pushed == 0 || pushed == 10 || digests == 0 {
		t.Fatalf("pushed %d of 10 batches with %d digests; want some dropped for a 200-byte window", pushed, digests)
	}
	if c.Dropped() != uint64(10-pushed) {
		t.Fatalf("Dropped() = %d, want %d", c.Dropped(), 10-pushed)
	}
	// b applies what it got and acknowledges: the window opens again.
	for _, e := range sent {
		rb.Step(a, e.Message)
	}
	if err := c.Step(causal.NodeIDFromName("b"), replica.Message{Type: replica.MsgAck, Applied: rb.Applied()}); err != nil {
		t.Fatal(err)
	}
	c.Propose(99, set("later", "v"))
	if out := c.Ready(); txnSends(out) != 1 {
		t.Fatalf("after the acknowledgement %d txn messages, want 1", txnSends(out))
	}
}

// TestLargeBatchTravelsAlone: a batch larger than the whole window is sent
// into an empty window, so a transaction at the size limit always moves.
func TestLargeBatchTravelsAlone(t *testing.T) {
	c, _ := pair(t, Config{Policy: None, MaxWindowBytes: 64})
	c.Propose(1, set("big", string(make([]byte, 1000))))
	if out := c.Ready(); txnSends(out) != 1 {
		t.Fatalf("a batch larger than the window was not sent into an empty window")
	}
}

// TestCollapseWaitsForLocalDurability: in a cluster of one, a write is
// on every member once applied, but it is collapsed ("present for good")
// only once it is durable here: a crash before the fsync takes it back.
// The simulator found this (seed 4882640220984781251, 500 steps: the
// last member left collapsed a write its crash then lost).
func TestCollapseWaitsForLocalDurability(t *testing.T) {
	r, err := replica.New(replica.Config{Name: "solo", NowMs: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Policy: Batch}, r)
	tok, err := c.Propose(1, set("k", "v"))
	if err != nil {
		t.Fatal(err)
	}
	out := c.Ready()
	if r.Collapsed(tok) {
		t.Fatal("a write is collapsed before its record is durable")
	}
	c.Synced(out.SyncTo)
	c.Ready()
	if !r.Collapsed(tok) {
		t.Fatal("a durable write in a cluster of one is not collapsed")
	}
}

// TestFlightWaitsForEveryOrigin: a batch in flight is released only once
// the peer's applied vector holds the highest dot of each origin in it,
// the first origin's kept inline and any others' beside it.
func TestFlightWaitsForEveryOrigin(t *testing.T) {
	a, b := causal.NodeIDFromName("a"), causal.NodeIDFromName("b")
	txns := []*crdt.Txn{
		{Dot: causal.Dot{Node: a, Counter: 3}},
		{Dot: causal.Dot{Node: b, Counter: 7}},
		{Dot: causal.Dot{Node: a, Counter: 4}},
		{Dot: causal.Dot{Node: b, Counter: 8}},
	}
	first, more := lastDots(txns)
	f := flight{first: first, more: more}
	if first != (causal.Dot{Node: a, Counter: 4}) || len(more) != 1 || more[0] != (causal.Dot{Node: b, Counter: 8}) {
		t.Fatalf("lastDots = %v %v", first, more)
	}
	var v causal.VersionVector
	v.Set(a, 4)
	v.Set(b, 7)
	if covered(&v, f) {
		t.Fatal("released with b's last dot missing")
	}
	v.Set(b, 8)
	if !covered(&v, f) {
		t.Fatal("not released with every origin's last dot applied")
	}
	if first, more := lastDots(nil); !covered(&causal.VersionVector{}, flight{first: first, more: more}) {
		t.Fatal("an empty batch waits for something")
	}
}

// TestWindowTimeoutsReportInPeerOrder: when several peers' windows stall
// in one tick, the drops are reported (and their digests sent) in
// ascending peer order, not in map order, so a run is reproducible: the
// simulator found one seed with two outcomes.
func TestWindowTimeoutsReportInPeerOrder(t *testing.T) {
	var members []replica.Peer
	for i := range 9 {
		members = append(members, replica.Peer{Name: fmt.Sprintf("n%d", i)})
	}
	r, err := replica.New(replica.Config{Name: "n0", Members: members, NowMs: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{Policy: None, MaxWindowBytes: 1 << 20, WindowTimeoutTicks: 2}, r)
	c.Propose(1, set("k", "v"))
	if out := c.Ready(); txnSends(out) != 8 {
		t.Fatalf("%d txn messages, want one per peer (8)", txnSends(out))
	}
	for i := range 4 {
		c.Tick(1e12 + uint64(i+1))
	}
	var order []causal.NodeID
	for _, e := range c.Ready().Send {
		if e.Message.Type == replica.MsgDigest {
			order = append(order, e.To)
		}
	}
	if len(order) != 8 {
		t.Fatalf("%d digests after the windows stalled, want 8", len(order))
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("digests in the order %v, want ascending peer ids", order)
		}
	}
}
