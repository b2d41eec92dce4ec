package replica

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// newRightsCluster is newAuditCluster with write rights on: every node
// holds the test operator's public key.
func newRightsCluster(t testing.TB, names ...string) *cluster {
	return newNamedRightsCluster(t, "", names...)
}

// newNamedRightsCluster is newRightsCluster with the cluster name name.
func newNamedRightsCluster(t testing.TB, name string, names ...string) *cluster {
	c := newAuditCluster(t, names...)
	for _, node := range c.names {
		n := c.node(node)
		n.cfg.Audit.Operator = testKey("operator").Public().(ed25519.PublicKey)
		n.cfg.Cluster = name
		r, err := New(n.cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.r = r
	}
	return c
}

// signedPolicy is a legacy v1 policy document (naming no cluster) of
// version v granting each node rules[i][0] the prefix rules[i][1], signed
// by key.
func signedPolicy(key ed25519.PrivateKey, v uint64, rules ...[2]string) []byte {
	return signedPolicyFor(key, "", v, rules...)
}

// signedPolicyFor is signedPolicy for cluster (a v2 document).
func signedPolicyFor(key ed25519.PrivateKey, cluster string, v uint64, rules ...[2]string) []byte {
	p := &audit.Policy{Version: v, Cluster: cluster}
	for _, r := range rules {
		p.Rules = append(p.Rules, audit.Rule{Kind: audit.RuleNode, Name: r[0], Prefix: []byte(r[1])})
	}
	p.Sign(key)
	return p.Canonical()
}

// applyPolicy proposes doc on node name and delivers it everywhere.
func applyPolicy(c *cluster, name string, doc []byte) {
	if _, err := c.node(name).r.ProposePolicy(doc); err != nil {
		c.t.Fatalf("%s: ProposePolicy: %v", name, err)
	}
	c.deliver()
}

// inject makes origin behave as a compromised member: it writes key
// without the rights check (a correctly sealed transaction continuing its
// own chain), applies it locally and pushes it to its peers.
func inject(c *cluster, origin string, fn func(b *crdt.Builder) error) *crdt.Txn {
	o := c.node(origin).r
	dot := causal.Dot{Node: o.ID(), Counter: o.ks.Context().Vector.Get(o.ID()) + 1}
	b := o.ks.Begin(dot, causal.Timestamp{WallMs: c.nowMs})
	if err := fn(b); err != nil {
		c.t.Fatal(err)
	}
	txn := b.Finish()
	o.sealLocal(txn)
	if err := o.ks.Apply(txn); err != nil {
		c.t.Fatal(err)
	}
	rec := o.txnRecord(txn)
	o.applied(txnEntry{txn: txn, record: rec})
	o.noteTail(txn, rec)
	o.afterApply()
	c.collect()
	return txn
}

func setFn(key, value string) func(b *crdt.Builder) error {
	return func(b *crdt.Builder) error { return b.Set([]byte(key), []byte(value)) }
}

// requireRefused checks that none of the names applied dot and that each
// raised EventRightsRefused for it.
func requireRefused(c *cluster, dot causal.Dot, names ...string) {
	c.t.Helper()
	for _, name := range names {
		n := c.node(name)
		if n.r.ks.Context().Contains(dot) {
			c.t.Fatalf("%s applied %s, outside its origin's rights", name, dot)
		}
		found := false
		for _, e := range n.events {
			found = found || (e.Type == EventRightsRefused && e.Dot == dot)
		}
		if !found {
			c.t.Fatalf("%s: no %s event for %s: %v", name, EventRightsRefused, dot, n.events)
		}
	}
}

// TestRightsNodeOutsidePrefixRefusedEverywhere: once a policy gives n1
// only "a/", n1's own node refuses its client write to "b/" with
// ErrNoRights; a compromised n1 that writes "b/x" anyway gets the write
// refused by every other replica, whether it arrives by push, relayed by
// a third member, out of order through the causal buffer, or by catch-up
// after a partition.
func TestRightsNodeOutsidePrefixRefusedEverywhere(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	op := testKey("operator")
	applyPolicy(c, "n2", signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	for _, name := range c.names {
		if p := c.node(name).r.Policy(); p == nil || p.Version != 1 {
			t.Fatalf("%s: policy %v, want version 1", name, p)
		}
	}
	c.set("n1", "a/ok", "1")
	if _, err := c.node("n1").r.Propose(setFn("b/x", "local")); !errors.Is(err, ErrNoRights) || !errors.Is(err, audit.ErrNoRights) {
		t.Fatalf("n1 local write outside its rights: %v, want ErrNoRights", err)
	}
	c.deliver()

	// Push.
	pushed := inject(c, "n1", setFn("b/x", "pushed"))
	c.deliver()
	requireRefused(c, pushed.Dot, "n2", "n3")
	// Relay: n2 forwards the transaction to n3 (as a catch-up answer would).
	stepOver(c, "n2", "n3", pushed)
	if c.node("n3").r.ks.Context().Contains(pushed.Dot) || c.get("n3", "b/x") != "<nil>" {
		t.Fatalf("n3 applied %s relayed by n2: %q %v", pushed.Dot, c.get("n3", "b/x"), c.node("n3").events)
	}

	// Causal buffer: a fresh cluster where n1's forged write arrives
	// before the transaction it depends on.
	c = newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	c.partition([]string{"n1"}, []string{"n2", "n3"})
	first := inject(c, "n1", setFn("a/1", "fine"))
	second := inject(c, "n1", setFn("b/y", "buffered"))
	stepOver(c, "n1", "n3", second)
	if !c.node("n3").r.isPending(second.Dot) {
		t.Fatalf("n3 did not buffer %s", second.Dot)
	}
	stepOver(c, "n1", "n3", first)
	requireRefused(c, second.Dot, "n3")
	if c.get("n3", "a/1") != "fine" {
		t.Fatalf("n3 refused n1's write within its rights")
	}
	// Catch-up after the partition heals: n2 gets the forged write from
	// n1's retained log, and refuses it too.
	c.heal()
	c.tick(60)
	requireRefused(c, second.Dot, "n2")
	for _, name := range []string{"n2", "n3"} {
		if got := c.get(name, "b/y"); got != "<nil>" {
			t.Fatalf("%s: b/y=%q, written without rights", name, got)
		}
		if c.node(name).r.RightsRefused() == 0 {
			t.Fatalf("%s: RightsRefused = 0", name)
		}
	}
}

// TestRightsPolicyOfTheCausalPast: a transaction is judged by the policy
// its writer had seen, not the one the receiver holds, so all replicas
// agree; a lower version written later never replaces a higher one.
func TestRightsPolicyOfTheCausalPast(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	op := testKey("operator")
	v1 := signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""})
	v2 := signedPolicy(op, 2, [2]string{"n1", "a/"}, [2]string{"n1", "b/"}, [2]string{"n2", ""}, [2]string{"n3", ""})
	applyPolicy(c, "n2", v1)

	// n1 is cut off when v2 is applied: its write to b/ is made under v1.
	c.partition([]string{"n1"}, []string{"n2", "n3"})
	applyPolicy(c, "n2", v2)
	early := inject(c, "n1", setFn("b/early", "under v1"))
	c.heal()
	c.tick(60)
	requireRefused(c, early.Dot, "n2", "n3")

	// A fresh cluster: n1 writes b/ once it has v2 in its past.
	c = newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", v1)
	applyPolicy(c, "n3", v2)
	c.set("n1", "b/late", "under v2")
	c.deliver()
	c.requireConverged()
	if got := c.get("n2", "b/late"); got != "under v2" {
		t.Fatalf("n2: b/late=%q, want the write v2 allows", got)
	}
	// An older version is refused locally and changes nothing when a
	// member writes it anyway.
	if _, err := c.node("n1").r.ProposePolicy(v1); !errors.Is(err, ErrPolicy) {
		t.Fatalf("ProposePolicy(v1) after v2: %v, want ErrPolicy", err)
	}
	v1again := signedPolicy(op, 1, [2]string{"n1", ""}, [2]string{"n2", ""}, [2]string{"n3", ""})
	stale := inject(c, "n3", setFn(string(PolicyKey(1)), string(v1again)))
	c.deliver()
	requireRefused(c, stale.Dot, "n1", "n2") // rewrites version 1
	for _, name := range c.names {
		if p := c.node(name).r.Policy(); p.Version != 2 {
			t.Fatalf("%s: policy version %d, want 2", name, p.Version)
		}
	}
	if _, err := c.node("n1").r.Propose(setFn("c/x", "1")); !errors.Is(err, ErrNoRights) {
		t.Fatalf("n1 write to c/ under v2: %v, want ErrNoRights", err)
	}
}

// TestRightsForgedPolicyIgnored: a policy signed by another key than the
// operator's is refused by ProposePolicy, and a member that writes one
// anyway (or any non-policy value at a policy key) is refused by every
// replica: the rights in force do not change.
func TestRightsForgedPolicyIgnored(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	op := testKey("operator")
	applyPolicy(c, "n2", signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	forged := signedPolicy(testKey("n1"), 2, [2]string{"n1", ""})
	if _, err := c.node("n1").r.ProposePolicy(forged); !errors.Is(err, ErrPolicy) || !errors.Is(err, audit.ErrPolicySignature) {
		t.Fatalf("ProposePolicy(forged): %v, want ErrPolicy wrapping audit.ErrPolicySignature", err)
	}
	tampered := signedPolicy(op, 2, [2]string{"n1", "a/"})
	tampered = append(tampered[:len("spook-policy v1\nversion 2\nnode n1 \"")], append([]byte("b/"), tampered[len("spook-policy v1\nversion 2\nnode n1 \"a/"):]...)...)
	for i, doc := range [][]byte{forged, tampered, []byte("not a policy")} {
		txn := inject(c, "n1", setFn(string(PolicyKey(2)), string(doc)))
		c.deliver()
		requireRefused(c, txn.Dot, "n2", "n3")
		for _, name := range []string{"n2", "n3"} {
			if p := c.node(name).r.Policy(); p.Version != 1 {
				t.Fatalf("case %d: %s: policy version %d, want 1", i, name, p.Version)
			}
		}
		// n1's later transactions depend on the refused one: rebuild n1.
		c = newRightsCluster(t, "n1", "n2", "n3")
		applyPolicy(c, "n2", signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	}
	del := inject(c, "n1", func(b *crdt.Builder) error { return b.Delete(PolicyKey(1)) })
	c.deliver()
	requireRefused(c, del.Dot, "n2", "n3")
}

// TestRightsPolicyOfAnotherClusterRefused: a policy the operator signed
// for another cluster, with the same key, is refused by ProposePolicy; a
// member that writes it anyway is refused by every replica, by a repair
// from that member, and by the member's own table of policies: it never
// takes effect. One for this cluster does.
func TestRightsPolicyOfAnotherClusterRefused(t *testing.T) {
	const rightsClusterName = "test"
	c := newNamedRightsCluster(t, rightsClusterName, "n1", "n2", "n3")
	op := testKey("operator")
	applyPolicy(c, "n2", signedPolicyFor(op, rightsClusterName, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	for _, name := range c.names {
		if p := c.node(name).r.Policy(); p == nil || p.Version != 1 || p.Cluster != rightsClusterName {
			t.Fatalf("%s: policy %+v, want version 1 for %q", name, p, rightsClusterName)
		}
	}
	other := signedPolicyFor(op, "other", 2, [2]string{"n1", ""}, [2]string{"n2", ""}, [2]string{"n3", ""})
	if _, err := c.node("n1").r.ProposePolicy(other); !errors.Is(err, ErrPolicy) || !errors.Is(err, audit.ErrPolicyCluster) {
		t.Fatalf("ProposePolicy(other cluster): %v, want ErrPolicy wrapping audit.ErrPolicyCluster", err)
	}
	txn := inject(c, "n1", setFn(string(PolicyKey(2)), string(other)))
	c.deliver()
	requireRefused(c, txn.Dot, "n2", "n3")
	c.node("n2").r.startSync(id("n1"), "test")
	c.deliver()
	if v := c.node("n2").r.ks.Get(PolicyKey(2)); v != nil {
		t.Fatalf("n2 holds another cluster's policy after a repair: %v", v.Siblings())
	}
	repairRefused(c, "n2", "n1")
	n1 := c.node("n1").r
	n1.pol = policies{} // rebuild from the keyspace, which holds the injected write
	for _, name := range c.names {
		if p := c.node(name).r.Policy(); p == nil || p.Version != 1 {
			t.Fatalf("%s: policy %+v, want version 1", name, p)
		}
	}
	if _, err := n1.Propose(setFn("b/x", "1")); !errors.Is(err, ErrNoRights) {
		t.Fatalf("n1 write to b/ (granted by the other cluster's policy only): %v, want ErrNoRights", err)
	}
}

// TestRightsSurviveRestore: a replica restored from its snapshot and
// records enforces the policy it held.
func TestRightsSurviveRestore(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2")
	applyPolicy(c, "n2", signedPolicy(testKey("operator"), 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}))
	n1 := c.node("n1")
	n1.snapshot, n1.records = n1.r.Snapshot(), nil
	c.set("n1", "a/1", "x")
	c.collect()
	r, err := Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Policy(); p == nil || p.Version != 1 {
		t.Fatalf("restored policy %v, want version 1", p)
	}
	if _, err := r.Propose(setFn("b/x", "1")); !errors.Is(err, ErrNoRights) {
		t.Fatalf("restored n1 write outside its rights: %v, want ErrNoRights", err)
	}
}

// BenchmarkRightsCheck measures the write-rights check of one remote
// single-key transaction against a policy of 64 node rules (and 8
// versions in the table), the work added per transaction.
func BenchmarkRightsCheck(b *testing.B) {
	c := newRightsCluster(b, "n1", "n2")
	op := testKey("operator")
	for v := uint64(1); v <= 8; v++ {
		rules := [][2]string{{"n1", "a/"}, {"n2", ""}}
		for i := 0; i < 62; i++ {
			rules = append(rules, [2]string{"node" + string(rune('a'+i%26)) + string(rune('a'+i/26)), "p" + string(rune('a'+i%26)) + "/"})
		}
		applyPolicy(c, "n2", signedPolicy(op, v, rules...))
	}
	n1 := c.node("n1").r
	dot := causal.Dot{Node: n1.ID(), Counter: n1.ks.Context().Vector.Get(n1.ID()) + 1}
	bld := n1.ks.Begin(dot, causal.Timestamp{WallMs: c.nowMs})
	if err := bld.Set([]byte("a/key"), []byte("v")); err != nil {
		b.Fatal(err)
	}
	txn := bld.Finish()
	n2 := c.node("n2").r
	if err := n2.checkRights(txn); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n2.checkRights(txn); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRightsRefusedWriteStaysOut: a compromised member that applied its
// own write outside its rights keeps offering it (its peers keep asking
// for the dot they lack); over 30 simulated seconds it is refused each
// time and reaches no other replica by any path, reconciliation included.
func TestRightsRefusedWriteStaysOut(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	applyPolicy(c, "n2", signedPolicy(testKey("operator"), 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	pushed := inject(c, "n1", setFn("b/x", "pushed"))
	c.deliver()
	c.tick(3000)
	for _, name := range []string{"n2", "n3"} {
		n := c.node(name)
		if got := c.get(name, "b/x"); got != "<nil>" || n.r.ks.Context().Contains(pushed.Dot) {
			t.Fatalf("%s: b/x=%q after 30 s: the write outside n1's rights got in", name, got)
		}
		if n.r.RightsRefused() == 0 {
			t.Fatalf("%s refused nothing", name)
		}
	}
}
