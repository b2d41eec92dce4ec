package replica

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// testKey is a node's audit key, derived from its name (tests only).
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("test audit key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// newAuditCluster is newCluster with audit mode on: every node holds
// every node's public key and signs with its own.
func newAuditCluster(t testing.TB, names ...string) *cluster {
	c := &cluster{t: t, nodes: map[string]*testNode{}, byID: map[causal.NodeID]*testNode{},
		codecs: map[link]*LinkCodec{}, cut: map[link]bool{}, nowMs: testStartMs,
		bytesBy: map[MessageType]int{}, msgsBy: map[MessageType]int{}}
	keys := audit.Keys{}
	var members []Peer
	for _, n := range names {
		members = append(members, Peer{Name: n, Addr: n + ":7000"})
		keys[uint64(id(n))] = testKey(n).Public().(ed25519.PublicKey)
	}
	for i, n := range names {
		c.add(Config{Name: n, Addr: n + ":7000", Members: members, Seed: uint64(i + 1), NowMs: c.nowMs,
			Audit: AuditConfig{Keys: keys, SigningKey: testKey(n)}})
	}
	return c
}

// forge builds, on origin's current state, the transaction origin would
// make next (setting key to value) without applying it anywhere, and
// seals it with key over prev.
func forge(c *cluster, origin, key, value string, signer ed25519.PrivateKey, prev audit.Hash) *crdt.Txn {
	o := c.node(origin).r
	dot := causal.Dot{Node: o.ID(), Counter: o.ks.Context().Vector.Get(o.ID()) + 1}
	b := o.ks.Begin(dot, causal.Timestamp{WallMs: c.nowMs})
	if err := b.Set([]byte(key), []byte(value)); err != nil {
		c.t.Fatal(err)
	}
	txn := b.Finish()
	h := audit.TxnHash("", uint64(dot.Node), dot.Counter, prev, txn.AppendBinary(nil))
	txn.Seal = audit.Sign(signer, prev, h)
	return txn
}

// stepOver sends txn from node from to node to through a fresh link
// codec, so the seal crosses the wire format.
func stepOver(c *cluster, from, to string, txns ...*crdt.Txn) {
	enc, dec := NewLinkCodec(), NewLinkCodec()
	b, err := enc.Encode(nil, &Message{Type: MsgTxns, Txns: txns})
	if err != nil {
		c.t.Fatal(err)
	}
	m, err := dec.Decode(b)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.node(to).r.Step(id(from), m); err != nil {
		c.t.Fatal(err)
	}
	c.collect()
}

// TestAuditSignedHistoryReplicates: with audit on, writes on every node
// reach every node, every transaction record is an audited one (signed
// or linked to a signed one), and
// nothing is refused.
func TestAuditSignedHistoryReplicates(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for i := 0; i < 20; i++ {
		c.set([]string{"n1", "n2", "n3"}[i%3], string(rune('a'+i%5)), string(rune('A'+i)))
		c.incr("n2", "ctr", 1)
	}
	c.deliver()
	c.tick(5)
	c.requireConverged()
	for _, name := range c.names {
		n := c.node(name)
		if n.r.AuditRefused() != 0 || n.hasEvent(EventAuditRefused, 0) {
			t.Fatalf("%s refused transactions: %v", name, n.events)
		}
		txns := 0
		for _, rec := range n.records {
			switch rec[0] {
			case recordTxn:
				t.Fatalf("%s logged an unsigned transaction record", name)
			case recordSignedTxn, recordLinkedTxn:
				txns++
			}
		}
		if txns < 40 {
			t.Fatalf("%s logged %d audited transactions, want ≥ 40", name, txns)
		}
	}
}

// TestAuditRefusesForgeries: a transaction under n1's dot signed by
// another key, one signed by n1 but naming the wrong previous hash, and
// an unsigned one are refused by every receiver, with an event, and
// change nothing; n1's real next transaction is then accepted.
func TestAuditRefusesForgeries(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	c.set("n1", "k", "v1")
	c.deliver()
	head, _ := c.node("n2").r.chains.Head(uint64(id("n1")))
	unsigned := forge(c, "n1", "k", "unsigned", testKey("n1"), head.Hash)
	unsigned.Seal = nil
	cases := []struct {
		name string
		txn  *crdt.Txn
		want error
	}{
		{"wrong key", forge(c, "n1", "k", "forged", testKey("n3"), head.Hash), audit.ErrBadSignature},
		{"broken chain", forge(c, "n1", "k", "forked", testKey("n1"), audit.Hash{1}), audit.ErrBrokenChain},
		{"unsigned", unsigned, audit.ErrUnsigned},
	}
	for _, tc := range cases {
		for _, to := range []string{"n2", "n3"} {
			n := c.node(to)
			before, hash := n.r.AuditRefused(), n.r.Keyspace().Hash()
			stepOver(c, "n1", to, tc.txn)
			if n.r.AuditRefused() != before+1 || !n.hasEvent(EventAuditRefused, id("n1")) {
				t.Fatalf("%s: %s was not refused by %s", tc.name, tc.txn.Dot, to)
			}
			if n.r.Keyspace().Hash() != hash || c.get(to, "k") != "v1" {
				t.Fatalf("%s: %s changed state on %s: k=%q", tc.name, tc.txn.Dot, to, c.get(to, "k"))
			}
			if ev := n.events[len(n.events)-1]; !errors.Is(errorOf(ev.Reason, tc.want), tc.want) {
				t.Fatalf("%s: event %v, want reason %v", tc.name, ev, tc.want)
			}
		}
	}
	// The real next write of n1 still applies everywhere.
	c.set("n1", "k", "v2")
	c.deliver()
	c.requireConverged()
	if got := c.get("n3", "k"); got != "v2" {
		t.Fatalf("n3: k=%q, want v2", got)
	}
}

// errorOf returns want if reason starts with want's text (events carry
// the error as text).
func errorOf(reason string, want error) error {
	if len(reason) >= len(want.Error()) && reason[:len(want.Error())] == want.Error() {
		return want
	}
	return errors.New(reason)
}

// TestAuditChainSurvivesSnapshot: a node restored from a snapshot plus
// records keeps its chain head, so its next transaction continues the
// chain its peers hold (no refusal), and so do peers' heads.
func TestAuditChainSurvivesSnapshot(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	c.set("n1", "a", "1")
	c.set("n2", "b", "2")
	c.deliver()
	n1 := c.node("n1")
	snap := n1.r.Snapshot()
	if snap[0] != snapshotAudited {
		t.Fatalf("snapshot kind %d, want %d", snap[0], snapshotAudited)
	}
	n1.snapshot, n1.records = snap, nil
	c.set("n1", "a", "3")
	c.deliver()
	r, err := Restore(n1.cfg, n1.snapshot, n1.records)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"n1", "n2"} {
		want, _ := c.node("n2").r.chains.Head(uint64(id(o)))
		got, ok := r.chains.Head(uint64(id(o)))
		if !ok || got != want {
			t.Fatalf("restored head of %s = %v, want %v", o, got, want)
		}
	}
	n1.r = r
	c.set("n1", "a", "4")
	c.deliver()
	c.requireConverged()
	if c.node("n2").r.AuditRefused() != 0 {
		t.Fatalf("n2 refused n1's write after n1's restart: %v", c.node("n2").events)
	}
}

// TestAuditChainResumesAfterOwnGap: an origin that no longer knows the
// hash of its own previous transaction (its own transactions came back
// to it as state, by reconciliation, after a crash lost their records)
// seals its next one with an all-zero previous hash; its peers, which
// hold the chain, must accept it as the chain resuming, not refuse an
// honest write.
func TestAuditChainResumesAfterOwnGap(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	c.set("n1", "k", "v1")
	c.set("n1", "k", "v2")
	c.deliver()
	c.node("n1").r.chains = audit.Chains{} // as after a repair of n1's own dots
	c.set("n1", "k", "v3")
	c.deliver()
	for _, name := range []string{"n2", "n3"} {
		if n := c.node(name); n.r.AuditRefused() != 0 || c.get(name, "k") != "v3" {
			t.Fatalf("%s refused n1's resumed chain: k=%q events %v", name, c.get(name, "k"), n.events)
		}
	}
}
