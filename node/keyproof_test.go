package node

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/crdt"
)

// TestAuditProofNonString: spook audit proof KEY for a counter, a hash
// and a set proves every transaction that made the value (and only
// those), each in the newest signed tree head, checked with nothing but
// tlog; before, it answered 404 ("holds no string value").
func TestAuditProofNonString(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	n := startRetentionNode(t, dir, keys, AuditRetention{})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	update := func(fn func(tx *crdt.Builder) error) {
		if _, err := n.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		update(func(tx *crdt.Builder) error { _, err := tx.Increment([]byte("ctr"), 5); return err })
		update(func(tx *crdt.Builder) error { return tx.Set([]byte("noise"), []byte{byte(i)}) })
	}
	update(func(tx *crdt.Builder) error { _, err := tx.MapSet([]byte("h"), []byte("f1"), []byte("a")); return err })
	update(func(tx *crdt.Builder) error { _, err := tx.MapSet([]byte("h"), []byte("f2"), []byte("b")); return err })
	update(func(tx *crdt.Builder) error { _, err := tx.SetAdd([]byte("s"), []byte("m")); return err })
	writeCheckpointed(t, ctx, n, 1) // a checkpoint after all of them
	for _, c := range []struct {
		key, typ string
		txns     int
	}{{"ctr", "counter", 3}, {"h", "map", 2}, {"s", "set", 1}} {
		var doc KeyHistoryProof
		if st := getAuditJSON(t, n, "/v1/audit/proof?key="+c.key, &doc); st != http.StatusOK {
			t.Fatalf("proof of %s: status %d", c.key, st)
		}
		if doc.Type != c.typ || len(doc.Txns) != c.txns || !doc.Complete || len(doc.Pending) != 0 || doc.Statement == "" {
			t.Fatalf("proof of %s: %+v", c.key, doc)
		}
		tree, err := tlog.ParseTree([]byte(doc.Note))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, tx := range doc.Txns {
			if err := tlog.CheckRecord(tx.Proof, tree.N, tree.Hash, tx.LeafIndex, tlog.RecordHash(tx.Leaf)); err != nil {
				t.Fatalf("%s: %s: %v", c.key, tx.Txn, err)
			}
			if seen[tx.Txn] {
				t.Fatalf("%s: %s twice", c.key, tx.Txn)
			}
			seen[tx.Txn] = true
		}
	}
	// A string with &history=1: every transaction that wrote it.
	var doc KeyHistoryProof
	if st := getAuditJSON(t, n, "/v1/audit/proof?key=noise&history=1", &doc); st != http.StatusOK || len(doc.Txns) != 3 {
		t.Fatalf("history of noise: %d %+v", st, doc)
	}
}
