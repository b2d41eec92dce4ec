package replica

import (
	"bytes"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// withSignTicks rebuilds node name of a fresh audit cluster with
// AuditConfig.SignTicks set, so that its Readies hand out unsigned tails.
func withSignTicks(c *cluster, name string, ticks int) {
	n := c.node(name)
	n.cfg.Audit.SignTicks = ticks
	r, err := New(n.cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	n.r = r
}

// auditBundle partitions b away from a and c, has a and c write runs of
// several transactions per Ready (linked ones ending on a signed one: c
// signs each Ready's last, a signs at the Tick after it), leaves a's last
// transaction unsigned (no Tick after it), and returns a's bundle for b.
func auditBundle(t *testing.T) (*cluster, []byte) {
	c := newAuditCluster(t, "a", "b", "c")
	withSignTicks(c, "a", 3)
	c.deliver()
	c.partition([]string{"a", "c"}, []string{"b"})
	for round := 0; round < 4; round++ {
		if round > 0 {
			c.tick(3)
		}
		for i := 0; i < 3; i++ {
			c.set("a", string(rune('k'+i)), string(rune('A'+round)))
			c.set("c", string(rune('p'+i)), string(rune('A'+round)))
		}
		c.deliver()
	}
	a, b := c.node("a").r, c.node("b").r
	if a.tail.txn == nil {
		t.Fatal("a's last transaction is signed already: the test does not exercise the export's signing")
	}
	since := b.Applied()
	txns, err := a.TxnsSince(&since)
	if err != nil {
		t.Fatal(err)
	}
	c.deliver() // a's head-seal record, and its signed copy to c
	if len(txns) != 24 {
		t.Fatalf("TxnsSince gave %d transactions, want the 24 b lacks", len(txns))
	}
	return c, EncodeBundle(a.ID(), &since, txns)
}

// requireNoAuditRefusal fails if name raised EventAuditRefused.
func requireNoAuditRefusal(c *cluster, name string) {
	c.t.Helper()
	for _, e := range c.node(name).events {
		if e.Type == EventAuditRefused || e.Type == EventRightsRefused {
			c.t.Fatalf("%s: %s", name, e)
		}
	}
}

// TestBundleAuditCarriesSealedHistory: in audit mode a bundle carries
// every transaction's seal or link, so an audited node that was
// partitioned imports it through the same checks as a peer's push: all of
// it applies (the exporter signed its own unsigned tail first, so no run
// is left held), nothing is refused, and the importer's own log verifies
// as a signed, chained history.
func TestBundleAuditCarriesSealedHistory(t *testing.T) {
	c, file := auditBundle(t)
	if file[len(bundleMagic)] != 2 {
		t.Fatalf("audit-mode bundle written as version %d, want 2", file[len(bundleMagic)])
	}
	_, _, txns, err := DecodeBundle(file)
	if err != nil {
		t.Fatal(err)
	}
	linked := 0
	for _, txn := range txns {
		if audit.Linked(txn.Seal) {
			linked++
		} else if len(txn.Seal) != audit.SealBytes {
			t.Fatalf("%s decoded with a seal of %d bytes", txn.Dot, len(txn.Seal))
		}
	}
	if linked == 0 {
		t.Fatal("no linked transaction in the bundle: the test does not exercise runs")
	}
	b := c.node("b").r
	if n := b.Import(txns); n != len(txns) {
		t.Fatalf("Import applied %d of %d", n, len(txns))
	}
	c.collect()
	requireNoAuditRefusal(c, "b")
	if len(b.held) != 0 || len(b.pending) != 0 {
		t.Fatalf("b holds %d and buffers %d transactions after the import", len(b.held), len(b.pending))
	}
	for _, name := range []string{"a", "c"} {
		if got, want := b.Keyspace().Hash(), c.node(name).r.Keyspace().Hash(); got != want {
			t.Fatalf("after import b's hash %x differs from %s's %x", got, name, want)
		}
	}
	v := newTestVerifier(c, "b")
	for i, rec := range c.node("b").records {
		if err := v.Record(uint64(i+1), rec); err != nil {
			t.Fatalf("b's history: %v", err)
		}
	}
	if err := v.Finish(); err != nil {
		t.Fatalf("b's history: %v", err)
	}
	if got := v.Report().Transactions; got < len(txns) {
		t.Fatalf("verifier checked %d transactions, want at least %d", got, len(txns))
	}
	// Healing changes nothing more, and b refuses nothing it hears since.
	c.heal()
	c.tick(5)
	requireNoAuditRefusal(c, "b")
}

// alterValue returns txn with its value bytes old replaced by new (same
// length) and its seal or link kept: a bundle altered in transit.
func alterValue(t *testing.T, txn *crdt.Txn, old, new string) *crdt.Txn {
	raw := txn.AppendBinary(nil)
	i := bytes.LastIndex(raw, []byte(old))
	if i < 0 || len(old) != len(new) {
		t.Fatalf("%s holds no %q", txn.Dot, old)
	}
	copy(raw[i:], new)
	altered, err := crdt.DecodeTxn(raw)
	if err != nil {
		t.Fatal(err)
	}
	altered.Seal = append([]byte(nil), txn.Seal...)
	return altered
}

// TestBundleAuditRefusesAlteredTxn: a bundle one of whose transactions
// had its content changed (its seal or link kept) is refused for that
// transaction (EventAuditRefused), whether the altered one is signed or
// linked: neither it nor the altered value applies; the transactions of
// its origin before it do.
func TestBundleAuditRefusesAlteredTxn(t *testing.T) {
	for _, signed := range []bool{true, false} {
		c, file := auditBundle(t)
		exporter, since, txns, err := DecodeBundle(file)
		if err != nil {
			t.Fatal(err)
		}
		aID := c.node("a").r.ID()
		pick := -1
		for i, txn := range txns {
			if txn.Dot.Node == aID && txn.Dot.Counter > 3 && audit.Linked(txn.Seal) != signed {
				pick = i
				break
			}
		}
		if pick < 0 {
			t.Fatalf("signed=%v: no such transaction of a in the bundle", signed)
		}
		victim := txns[pick].Dot
		var value string
		for _, v := range []string{"A", "B", "C", "D"} {
			if bytes.Contains(txns[pick].AppendBinary(nil), []byte(v)) {
				value = v
			}
		}
		txns[pick] = alterValue(t, txns[pick], value, "Z")
		forged := EncodeBundle(exporter, &since, txns)
		_, _, back, err := DecodeBundle(forged)
		if err != nil {
			t.Fatal(err)
		}
		b := c.node("b")
		b.r.Import(back)
		c.collect()
		if b.r.ks.Context().Contains(victim) {
			t.Fatalf("signed=%v: b applied the altered %s", signed, victim)
		}
		found := false
		for _, e := range b.events {
			found = found || (e.Type == EventAuditRefused && e.Dot == victim)
		}
		if !found {
			t.Fatalf("signed=%v: no %s for the altered %s: %v", signed, EventAuditRefused, victim, b.events)
		}
		for _, k := range []string{"k", "l", "m"} {
			if got := c.get("b", k); got == "Z" {
				t.Fatalf("signed=%v: the altered value reached b's key %s", signed, k)
			}
		}
		if !b.r.ks.Context().Contains(causal.Dot{Node: aID, Counter: 3}) {
			t.Fatalf("signed=%v: b lacks a's first signed run, which the bundle carried unaltered", signed)
		}
	}
}

// TestBundleAuditRefusesTxnOutsideRights: a compromised member's write
// outside its rights, carried to a partitioned member in that member's
// own bundle, is refused there on import (EventRightsRefused) exactly as
// it would be by push.
func TestBundleAuditRefusesTxnOutsideRights(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	op := testKey("operator")
	applyPolicy(c, "n2", signedPolicy(op, 1, [2]string{"n1", "a/"}, [2]string{"n2", ""}, [2]string{"n3", ""}))
	c.partition([]string{"n1", "n2"}, []string{"n3"})
	c.set("n1", "a/ok", "1")
	c.deliver()
	bad := inject(c, "n1", setFn("b/x", "bundled"))
	c.deliver()
	n1, n3 := c.node("n1").r, c.node("n3").r
	since := n3.Applied()
	txns, err := n1.TxnsSince(&since)
	if err != nil {
		t.Fatal(err)
	}
	c.collect()
	_, _, decoded, err := DecodeBundle(EncodeBundle(n1.ID(), &since, txns))
	if err != nil {
		t.Fatal(err)
	}
	n3.Import(decoded)
	c.collect()
	requireRefused(c, bad.Dot, "n3")
	if got := c.get("n3", "a/ok"); got != "1" {
		t.Fatalf("n3: a/ok = %q, want the bundle's rightful write", got)
	}
	if got := c.get("n3", "b/x"); got != "<nil>" {
		t.Fatalf("n3: b/x = %q, written outside n1's rights", got)
	}
}
