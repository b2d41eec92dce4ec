package replica

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
)

// verifyHistory runs a HistoryVerifier over records (indexes from 1).
func verifyHistory(c *cluster, self string, records [][]byte) (HistoryReport, error) {
	v := HistoryVerifier{Keys: audit.Keys{}, Names: map[uint64]string{}, Self: self}
	for _, n := range c.names {
		v.Keys[uint64(id(n))] = c.node(n).cfg.Audit.Keys[uint64(id(n))]
		v.Names[uint64(id(n))] = n
	}
	for i, rec := range records {
		if err := v.Record(uint64(i+1), rec); err != nil {
			return v.Report(), err
		}
	}
	return v.Report(), v.Finish()
}

// TestHistoryVerifier: every member's history verifies, transactions
// and checkpoints; a changed transaction body, a dropped transaction and
// a changed checkpoint are each found at their position.
func TestHistoryVerifier(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for round := 0; round < 4; round++ {
		for i, name := range c.names {
			c.set(name, string(rune('a'+i)), string(rune('0'+round)))
		}
		c.tick(120)
	}
	for _, name := range c.names {
		rep, err := verifyHistory(c, name, c.node(name).records)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rep.Transactions < 12 || rep.Checkpoints < 2 || rep.Size == 0 {
			t.Fatalf("%s: %+v", name, rep)
		}
	}
	records := c.node("n2").records
	firstTxn, firstCP := -1, -1
	for i, rec := range records {
		if rec[0] == recordSignedTxn && firstTxn < 0 && bytes.Contains(rec, []byte("1")) {
			firstTxn = i
		}
		if rec[0] == recordCheckpoint && firstCP < 0 {
			firstCP = i
		}
	}
	tamper := func(i int, fn func([]byte) []byte) [][]byte {
		out := make([][]byte, len(records))
		copy(out, records)
		out[i] = fn(bytes.Clone(records[i]))
		return out
	}
	// A changed value byte: only the signature can tell.
	changed := tamper(firstTxn, func(b []byte) []byte {
		i := bytes.LastIndexByte(b, '1')
		b[i] = '9'
		return b
	})
	_, err := verifyHistory(c, "n2", changed)
	var he *HistoryError
	if !errors.As(err, &he) || he.Index != uint64(firstTxn+1) || !errors.Is(err, audit.ErrBadSignature) {
		t.Fatalf("changed body at record %d: %v", firstTxn+1, err)
	}
	// A dropped transaction: the chain breaks at the next one of its origin.
	dropped := append(append([][]byte(nil), records[:firstTxn]...), records[firstTxn+1:]...)
	if _, err := verifyHistory(c, "n2", dropped); !errors.Is(err, audit.ErrBrokenChain) && !errors.Is(err, audit.ErrCheckpoint) {
		t.Fatalf("dropped record %d: %v", firstTxn+1, err)
	}
	// A changed checkpoint root: the note's signature fails.
	cp := tamper(firstCP, func(b []byte) []byte {
		b[len("\x08go.sum database tree\n")+3] ^= 1
		return b
	})
	if _, err := verifyHistory(c, "n2", cp); !errors.As(err, &he) || he.Index != uint64(firstCP+1) || !errors.Is(err, audit.ErrCheckpoint) {
		t.Fatalf("changed checkpoint at record %d: %v", firstCP+1, err)
	}
}

// TestHistoryVerifierJoinedMember: a member that joined by snapshot has
// a history that starts past counter 1 of every origin (the snapshot
// holds the earlier transactions as state). Verify must check it from
// the chain heads the snapshot recorded, not fail the chain-from-1 check,
// and still find a transaction that does not link to those heads.
func TestHistoryVerifierJoinedMember(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2")
	keys := c.node("n1").cfg.Audit.Keys // shared by every node's config
	keys[uint64(id("n3"))] = testKey("n3").Public().(ed25519.PublicKey)
	for round := 0; round < 3; round++ {
		c.set("n1", "a", string(rune('0'+round)))
		c.set("n2", "b", string(rune('0'+round)))
		c.tick(120)
	}
	n3 := c.add(Config{Name: "n3", Addr: "n3:7000", Join: []Peer{{Name: "n2"}}, Seed: 3, NowMs: c.nowMs,
		Audit: AuditConfig{Keys: keys, SigningKey: testKey("n3")}})
	for range 200 {
		c.tick(1)
		if n3.r.state == NodeMember {
			break
		}
	}
	if n3.r.state != NodeMember || n3.snapshot == nil {
		t.Fatalf("n3 did not join: %s", n3.r.state)
	}
	for round := 0; round < 3; round++ {
		for _, name := range c.names {
			c.set(name, "k"+name, string(rune('0'+round)))
		}
		c.tick(120)
	}
	rep, err := verifyHistory(c, "n3", n3.records)
	if err != nil {
		t.Fatalf("joined member's history: %v (%+v)", err, rep)
	}
	if rep.Transactions < 9 {
		t.Fatalf("joined member verified %+v, want ≥ 9 transactions", rep)
	}
	// A transaction of n1 whose seal names another predecessor than the
	// head n3's snapshot recorded is a broken chain, also right after
	// the join.
	first := -1
	for i, rec := range n3.records {
		if rec[0] == recordSignedTxn {
			if txn, err := decodeTxnRecord(rec); err == nil && txn.Dot.Node == id("n1") {
				first = i
				break
			}
		}
	}
	if first < 0 {
		t.Fatal("no transaction of n1 in n3's history")
	}
	txn, _ := decodeTxnRecord(n3.records[first])
	body, _, _ := txnBody(n3.records[first])
	bad := audit.Hash{7}
	h := audit.TxnHash("", uint64(txn.Dot.Node), txn.Dot.Counter, bad, body)
	forged := append([]byte{recordSignedTxn}, audit.Sign(testKey("n1"), bad, h)...)
	forged = append(forged, body...)
	records := append([][]byte(nil), n3.records...)
	records[first] = forged
	if _, err := verifyHistory(c, "n3", records); !errors.Is(err, audit.ErrBrokenChain) {
		t.Fatalf("a transaction not linking to the snapshot's head: %v, want ErrBrokenChain", err)
	}
}
