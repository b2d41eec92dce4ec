package replica

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// aOnly is the policy of these tests: n1 may write "a/" only, every
// other node everything.
func aOnly() []byte {
	return signedPolicy(testKey("operator"), 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""},
		[2]string{"n4", ""})
}

// rightsJoinerCluster is a rights cluster of the members, plus a node
// n4 (audit key known to all) that joins through the peers join, in
// order, once the returned start is called.
func rightsJoinerCluster(t *testing.T, join []string, members ...string) (*cluster, func() *testNode) {
	c := &cluster{t: t, nodes: map[string]*testNode{}, byID: map[causal.NodeID]*testNode{},
		codecs: map[link]*LinkCodec{}, cut: map[link]bool{}, nowMs: testStartMs,
		bytesBy: map[MessageType]int{}, msgsBy: map[MessageType]int{}}
	keys := audit.Keys{}
	var peers []Peer
	for _, n := range append([]string{"n4"}, members...) {
		keys[uint64(id(n))] = testKey(n).Public().(ed25519.PublicKey)
	}
	for _, n := range members {
		peers = append(peers, Peer{Name: n, Addr: n + ":7000"})
	}
	auditCfg := func(n string) AuditConfig {
		return AuditConfig{Keys: keys, SigningKey: testKey(n), Operator: testKey("operator").Public().(ed25519.PublicKey)}
	}
	for i, n := range members {
		c.add(Config{Name: n, Addr: n + ":7000", Members: peers, Seed: uint64(i + 1), NowMs: c.nowMs, Audit: auditCfg(n)})
	}
	start := func() *testNode {
		var jp []Peer
		for _, n := range join {
			jp = append(jp, Peer{Name: n, Addr: n + ":7000"})
		}
		return c.add(Config{Name: "n4", Addr: "n4:7000", Join: jp, Seed: 4, NowMs: c.nowMs, Audit: auditCfg("n4")})
	}
	return c, start
}

// repairRefused returns the first EventRightsRefused of name about peer
// that refused a repair, or fails.
func repairRefused(c *cluster, name, peer string) Event {
	c.t.Helper()
	for _, e := range c.node(name).events {
		if e.Type == EventRightsRefused && e.Node == id(peer) && strings.Contains(e.Reason, "repair") {
			return e
		}
	}
	c.t.Fatalf("%s: no %s event for a repair from %s: %v", name, EventRightsRefused, peer, c.node(name).events)
	return Event{}
}

// hasRepairRecord reports whether name logged a repair (a join record or
// a repair commit).
func hasRepairRecord(n *testNode) bool {
	for _, rec := range n.records {
		if rec[0] == recordJoin || rec[0] == recordRepairCommit {
			return true
		}
	}
	return false
}

// trimBehind makes bad's retained log forget its forged transaction:
// bad keeps MaxRetainedTxns 4 and writes 8 more keys within its rights,
// so a peer that refused the forged transaction can only be repaired
// from bad by reconciliation.
func trimBehind(c *cluster, bad string) {
	c.node(bad).r.cfg.MaxRetainedTxns = 4
	for i := range 8 {
		c.set(bad, fmt.Sprintf("a/%d", i), "fine")
	}
	c.deliver()
}

// TestRepairRightsReconciliation: n1 may write "a/" only, and writes
// "b/x" anyway (a compromised member, or one started without the
// operator key: it does not check its own writes). Every peer refuses
// the transaction; once n1's retained log no longer holds it, its peers
// are repaired from n1 by reconciliation, which must not bring "b/x"
// either: the repair is refused whole (no key joined, no record), with
// an event naming n1, and n2 does not try n1 again at once.
func TestRepairRightsReconciliation(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	forged := inject(c, "n1", setFn("b/x", "forged"))
	c.deliver()
	requireRefused(c, forged.Dot, "n2", "n3")
	trimBehind(c, "n1")
	before := c.node("n2").r.ks.Hash()
	c.tick(10 * DefaultDigestTicks)
	for _, name := range []string{"n2", "n3"} {
		n := c.node(name)
		if got := c.get(name, "b/x"); got != "<nil>" || n.r.ks.Context().Contains(forged.Dot) {
			t.Fatalf("%s: b/x=%q after repairs from n1: state outside n1's rights got in", name, got)
		}
		if !n.hasEvent(EventRepairStarted, id("n1")) {
			t.Fatalf("%s never repaired from n1: %v", name, n.events)
		}
		e := repairRefused(c, name, "n1")
		if e.Dot != forged.Dot || !strings.Contains(e.Reason, `"b/x"`) {
			t.Fatalf("%s: refusal %v, want the writer %s and the key b/x", name, e, forged.Dot)
		}
		if hasRepairRecord(n) {
			t.Fatalf("%s logged a refused repair", name)
		}
	}
	if c.node("n2").r.ks.Hash() != before {
		t.Fatal("n2's state changed by a refused repair")
	}
	// n2's persisted state replays (a refused repair left nothing to
	// replay).
	n2 := c.node("n2")
	if r, err := Restore(n2.cfg, n2.snapshot, n2.records); err != nil || r.ks.Hash() != n2.r.ks.Hash() {
		t.Fatalf("restore after refused repairs: %v", err)
	}
	// Refused repairs are not retried at every digest.
	started := 0
	for _, e := range n2.events {
		if e.Type == EventRepairStarted && e.Node == id("n1") {
			started++
		}
	}
	if started > 2 {
		t.Fatalf("n2 started %d repairs from n1 in %d digest periods", started, 10)
	}
}

// TestRepairRightsRemoval: a removal outside the remover's rights does
// not reach a correct replica by repair either: n1 (rights on "a/" only)
// deletes n3's "b/y"; a peer repaired from n1 keeps "b/y".
func TestRepairRightsRemoval(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	c.set("n3", "b/y", "n3's")
	c.deliver()
	del := inject(c, "n1", func(b *crdt.Builder) error { return b.Delete([]byte("b/y")) })
	c.deliver()
	requireRefused(c, del.Dot, "n2", "n3")
	c.node("n2").r.startSync(id("n1"), "test")
	c.deliver()
	if got := c.get("n2", "b/y"); got != "n3's" {
		t.Fatalf("n2: b/y=%q after a repair from n1, which deleted it without rights", got)
	}
	e := repairRefused(c, "n2", "n1")
	if !strings.Contains(e.Reason, "remov") {
		t.Fatalf("refusal %q does not say it is a removal", e.Reason)
	}
}

// TestRepairRightsSnapshot: the same forged state does not reach a
// correct replica by snapshot transfer: not a member's repair transfer
// from n1, not a joiner that pulls n1's snapshot (it refuses it, and
// joins from the next join peer instead).
func TestRepairRightsSnapshot(t *testing.T) {
	c, startJoiner := rightsJoinerCluster(t, []string{"n1", "n2"}, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	forged := inject(c, "n1", setFn("b/x", "forged"))
	c.deliver()
	requireRefused(c, forged.Dot, "n2", "n3")

	c.node("n2").r.requestRepairSnapshot(id("n1"))
	c.tick(DefaultDigestTicks)
	if got := c.get("n2", "b/x"); got != "<nil>" {
		t.Fatalf("n2: b/x=%q after a snapshot repair from n1", got)
	}
	repairRefused(c, "n2", "n1")

	n4 := startJoiner()
	c.tick(4 * DefaultJoinRetryTicks)
	if n4.r.state != NodeMember {
		t.Fatalf("n4 did not join from n2 after refusing n1's snapshot: %s, %v", n4.r.state, n4.events)
	}
	if got := c.get("n4", "b/x"); got != "<nil>" {
		t.Fatalf("n4: b/x=%q after joining", got)
	}
	repairRefused(c, "n4", "n1")
	if !n4.hasEvent(EventJoined, id("n2")) {
		t.Fatalf("n4 did not join from n2: %v", n4.events)
	}
}

// TestRepairRightsStateBundle: importing a state bundle exported by n1,
// which holds "b/x" outside its rights, fails with ErrNoRights and
// changes nothing.
func TestRepairRightsStateBundle(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	forged := inject(c, "n1", setFn("b/x", "forged"))
	c.deliver()
	requireRefused(c, forged.Dot, "n2")
	file, _ := c.node("n1").r.StateBundle()
	n2 := c.node("n2").r
	before := n2.ks.Hash()
	_, _, _, err := n2.ImportState(file)
	if !errors.Is(err, ErrNoRights) || !errors.Is(err, audit.ErrNoRights) {
		t.Fatalf("ImportState of n1's forged state: %v, want ErrNoRights", err)
	}
	if n2.ks.Hash() != before || n2.HasReady() && n2.ready.Snapshot != nil {
		t.Fatal("a refused state bundle changed the state")
	}
	c.collect()
	repairRefused(c, "n2", "n1")
	if got := c.get("n2", "b/x"); got != "<nil>" {
		t.Fatalf("n2: b/x=%q", got)
	}
}

// TestRepairRightsForgedPolicy: a repair whose state holds, at a policy
// key, a value that is not a policy signed by the operator for that
// version is refused whole: no correct replica ever holds one.
func TestRepairRightsForgedPolicy(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	forged := signedPolicy(testKey("n1"), 2, [2]string{"n1", ""})
	txn := inject(c, "n1", setFn(string(PolicyKey(2)), string(forged)))
	c.deliver()
	requireRefused(c, txn.Dot, "n2")
	c.node("n2").r.startSync(id("n1"), "test")
	c.deliver()
	if v := c.node("n2").r.ks.Get(PolicyKey(2)); v != nil {
		t.Fatalf("n2 holds a forged policy after a repair: %v", v.Siblings())
	}
	repairRefused(c, "n2", "n1")
}

// TestRepairRightsHonest: with a policy in force, repairs whose writers
// are all within their rights, deletions included, still converge: by
// reconciliation after the retained log moved on, by a repair snapshot
// and by a state bundle.
func TestRepairRightsHonest(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", aOnly())
	c.set("n1", "a/old", "1")
	c.set("n3", "b/old", "1")
	c.incr("n3", "b/n", 5)
	c.deliver()
	c.partition([]string{"n2"}, []string{"n1", "n3"})
	for _, name := range []string{"n1", "n3"} {
		c.node(name).r.cfg.MaxRetainedTxns = 4
	}
	c.propose("n1", func(b *crdt.Builder) error { return b.Delete([]byte("a/old")) })
	c.propose("n3", func(b *crdt.Builder) error { return b.Delete([]byte("b/old")) })
	c.propose("n3", func(b *crdt.Builder) error { return b.Delete([]byte("b/n")) })
	for i := range 8 {
		c.set("n1", fmt.Sprintf("a/%d", i), "v")
		c.set("n3", fmt.Sprintf("b/%d", i), "v")
	}
	c.deliver()
	c.heal()
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
	n2 := c.node("n2")
	if !n2.hasEvent(EventRepaired, 0) {
		t.Fatalf("n2 was not repaired: %v", n2.events)
	}
	for _, name := range c.names {
		if n := c.node(name); n.r.RightsRefused() != 0 {
			t.Fatalf("%s refused an honest repair: %v", name, n.events)
		}
	}
	if got := c.get("n2", "a/old") + c.get("n2", "b/old") + c.get("n2", "b/n"); got != "<nil><nil><nil>" {
		t.Fatalf("n2: deletions not repaired: %s", got)
	}

	// A repair snapshot and a state bundle carrying the same writes.
	c.partition([]string{"n2"}, []string{"n1", "n3"})
	c.propose("n1", func(b *crdt.Builder) error { return b.Delete([]byte("a/0")) })
	c.propose("n3", func(b *crdt.Builder) error { return b.Delete([]byte("b/0")) })
	c.deliver()
	file, _ := c.node("n3").r.StateBundle()
	if _, _, changed, err := n2.r.ImportState(file); err != nil || changed != 2 {
		t.Fatalf("ImportState of an honest state: %d changed, %v", changed, err)
	}
	c.heal()
	c.set("n3", "b/after", "v")
	c.deliver()
	n2.r.requestRepairSnapshot(id("n3"))
	c.tick(DefaultDigestTicks)
	c.tick(3 * DefaultDigestTicks)
	c.requireConverged()
	if n2.r.RightsRefused() != 0 {
		t.Fatalf("n2 refused an honest snapshot or bundle: %v", n2.events)
	}
}
