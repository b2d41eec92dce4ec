package replica

import (
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// TestBCounterForgedDecrementWaitsForRights: in audit mode a replica
// applies a member's bounded-counter decrement only when the member's
// rights, as this replica sees them, cover it. n2 (compromised) forges a
// decrement of 5 on a copy of its state where n1 gave it 10 rights at
// n1's next dot; n1's real next transaction gives nothing, so when the
// decrement's causal past is applied it is still not covered: n1 and n3
// hold it and the counter stays at 10. Once n1 really gives n2 5 rights,
// the decrement is covered and applies everywhere; the counter never
// goes below its floor and every node's rights stay at or above zero.
func TestBCounterForgedDecrementWaitsForRights(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for _, name := range c.names {
		n := c.node(name)
		n.cfg.BCounterRebalanceTicks = -1 // no rights move but those the test makes
		r, err := New(n.cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.r = r
	}
	key := []byte("stock")
	c.propose("n1", func(b *crdt.Builder) error { return b.BCounterCreate(key, 0, 10) })
	c.deliver()

	n2 := c.node("n2").r
	_, fake, err := decodeSnapshot(encodeSnapshot(n2.bootstrap, n2.ks))
	if err != nil {
		t.Fatal(err)
	}
	ts := causal.Timestamp{WallMs: c.nowMs}
	giftDot := causal.Dot{Node: id("n1"), Counter: fake.Context().Vector.Get(id("n1")) + 1}
	b := fake.Begin(giftDot, ts)
	if err := b.BCounterTransfer(key, id("n2"), 10); err != nil {
		t.Fatal(err)
	}
	if err := fake.Apply(b.Finish()); err != nil {
		t.Fatal(err)
	}
	dot := causal.Dot{Node: id("n2"), Counter: n2.ks.Context().Vector.Get(id("n2")) + 1}
	b = fake.Begin(dot, ts)
	if _, err := b.BCounterDecrement(key, 5); err != nil {
		t.Fatal(err)
	}
	forged := b.Finish()
	var prev audit.Hash
	if h, ok := n2.chains.Head(uint64(dot.Node)); ok {
		prev = h.Hash
	}
	h := audit.TxnHash(n2.cfg.Cluster, uint64(dot.Node), dot.Counter, prev, forged.AppendBinary(nil))
	forged.Seal = audit.Sign(testKey("n2"), prev, h)

	value := func(name string) int64 {
		v := c.node(name).r.ks.Get(key)
		bc, ok := v.BCounter()
		if !ok {
			t.Fatalf("%s: no bounded counter", name)
		}
		return bc.Value
	}
	stepOver(c, "n2", "n1", forged)
	stepOver(c, "n2", "n3", forged)
	c.set("n1", "x", "not a gift") // n1's real next transaction: the forged one's past is complete
	c.deliver()
	for _, name := range []string{"n1", "n3"} {
		if !c.node(name).r.ks.Context().Contains(giftDot) {
			t.Fatalf("%s lacks n1's next transaction", name)
		}
		if c.node(name).r.ks.Context().Contains(dot) || value(name) != 10 {
			t.Fatalf("%s applied n2's decrement without rights: value %d", name, value(name))
		}
	}
	if _, err := c.node("n1").r.Propose(func(b *crdt.Builder) error { return b.BCounterTransfer(key, id("n2"), 5) }); err != nil {
		t.Fatal(err)
	}
	c.deliver()
	for _, name := range []string{"n1", "n3"} {
		r := c.node(name).r
		if !r.ks.Context().Contains(dot) || value(name) != 5 {
			t.Fatalf("%s: n2's decrement, covered now, not applied: value %d", name, value(name))
		}
		if rights := r.ks.Get(key).BCounterRights(id("n2")); rights < 0 {
			t.Fatalf("%s: n2 holds %d rights", name, rights)
		}
	}
}
