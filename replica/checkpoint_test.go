package replica

import (
	"crypto/ed25519"
	"testing"

	"github.com/spooksystems/spook/audit"
)

// checkpointsOf returns the checkpoints a node logged, by index, each
// verified against every node's key and signed by the node itself.
func checkpointsOf(t *testing.T, c *cluster, name string) map[uint64]audit.Checkpoint {
	t.Helper()
	pubs := map[string]ed25519.PublicKey{}
	for _, n := range c.names {
		pubs[n] = testKey(n).Public().(ed25519.PublicKey)
	}
	out := map[uint64]audit.Checkpoint{}
	for _, rec := range c.node(name).records {
		if rec[0] != recordCheckpoint {
			continue
		}
		cp, signers, err := audit.OpenCheckpoint(rec[1:], pubs)
		if err != nil {
			t.Fatalf("%s: checkpoint record: %v", name, err)
		}
		if len(signers) != 1 || signers[0] != name {
			t.Fatalf("%s: checkpoint signed by %v", name, signers)
		}
		out[cp.Index] = cp
	}
	return out
}

// TestCheckpointsAgree: three members write concurrently; the
// checkpointer's cuts reach every member, and every member logs, for
// each checkpoint index, the same cut, size and root, signed by itself;
// the root is the RFC 6962 root of the leaves in canonical order, as an
// independent tlog tree computes it; a member restored from its
// snapshot and records holds the same last checkpoint.
func TestCheckpointsAgree(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	for round := 0; round < 5; round++ {
		for i, name := range c.names {
			c.set(name, string(rune('a'+i)), string(rune('0'+round)))
			c.incr(name, "ctr", 1)
		}
		c.tick(60) // a checkpoint per 100 ticks at most: some rounds share one
	}
	c.tick(300)
	want := checkpointsOf(t, c, "n1")
	// A quiet cluster stops checkpointing: its own checkpoint
	// transactions are no reason for another checkpoint.
	c.tick(500)
	if again := checkpointsOf(t, c, "n1"); len(again) != len(want) {
		t.Fatalf("quiet cluster: %d checkpoints, then %d", len(want), len(again))
	}
	if len(want) < 2 {
		t.Fatalf("n1 logged %d checkpoints, want ≥ 2", len(want))
	}
	for _, name := range c.names[1:] {
		got := checkpointsOf(t, c, name)
		if len(got) != len(want) {
			t.Fatalf("%s logged %d checkpoints, n1 %d", name, len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.N != w.N || g.Root != w.Root || !g.Cut.Equal(&w.Cut) {
				t.Fatalf("checkpoint %d: %s has N=%d root=%s cut=%v, n1 N=%d root=%s cut=%v",
					i, name, g.N, g.Root, g.Cut, w.N, w.Root, w.Cut)
			}
		}
	}
	// An independent tree over the leaves in canonical order, from the
	// records of n2.
	hashes := map[[2]uint64]audit.Hash{}
	n2 := c.node("n2")
	for _, rec := range n2.records {
		if rec[0] != recordSignedTxn && rec[0] != recordLinkedTxn {
			continue
		}
		txn, err := decodeTxnRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		body, seal, _ := txnBody(rec)
		hashes[[2]uint64{uint64(txn.Dot.Node), txn.Dot.Counter}] =
			audit.TxnHash("", uint64(txn.Dot.Node), txn.Dot.Counter, audit.SealPrev(seal), body)
	}
	var log audit.HashLog
	var prev audit.Checkpoint
	for i := uint64(1); i <= uint64(len(want)); i++ {
		w := want[i]
		leaves, err := audit.Leaves(&prev.Cut, &w.Cut, func(o, k uint64) (audit.Hash, bool) {
			h, ok := hashes[[2]uint64{o, k}]
			return h, ok
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leaves {
			if err := log.Append(l.Data()); err != nil {
				t.Fatal(err)
			}
		}
		root, err := log.Root(log.Size())
		if err != nil || log.Size() != w.N || root != w.Root {
			t.Fatalf("checkpoint %d: independent tree N=%d root=%s, logged N=%d root=%s (%v)", i, log.Size(), root, w.N, w.Root, err)
		}
		prev = w
	}
	// Restart n2 from a snapshot taken mid-way plus records: same state.
	before, gap := n2.r.LastCheckpoint()
	if gap != "" {
		t.Fatalf("n2 stopped checkpointing: %s", gap)
	}
	r, err := Restore(n2.cfg, n2.snapshot, n2.records)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := r.LastCheckpoint()
	if after.Index != before.Index || after.N != before.N || after.Root != before.Root {
		t.Fatalf("restored checkpoint %d N=%d %s, before %d N=%d %s", after.Index, after.N, after.Root, before.Index, before.N, before.Root)
	}
	snap := n2.r.Snapshot()
	r, err = Restore(n2.cfg, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ = r.LastCheckpoint()
	if after.Index != before.Index || after.N != before.N || after.Root != before.Root {
		t.Fatalf("checkpoint from snapshot %d N=%d %s, before %d N=%d %s", after.Index, after.N, after.Root, before.Index, before.N, before.Root)
	}
}
