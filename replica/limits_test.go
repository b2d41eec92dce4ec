package replica

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/limits"
)

// TestOversizedTxnRefused is defect 1 of issue 11: a transaction whose
// record would not fit the log (two large values in one MULTI) was
// applied, logged and acknowledged, and the log then refused the record
// for good. Propose must refuse it before anything happens.
func TestOversizedTxnRefused(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	c.deliver()
	n1 := c.node("n1")
	before := n1.r.Applied()
	big := bytes.Repeat([]byte{'x'}, 7<<20) // two of them: 14 MiB > MaxTxnBytes
	tok, err := n1.r.Propose(func(b *crdt.Builder) error {
		if err := b.Set([]byte("a"), big); err != nil {
			return err
		}
		return b.Set([]byte("b"), big)
	})
	if !errors.Is(err, ErrTxnTooLarge) || !errors.Is(err, crdt.ErrTxnTooBig) {
		t.Fatalf("Propose of a %d-byte transaction: token %v, err %v; want ErrTxnTooLarge wrapping crdt.ErrTxnTooBig",
			2*len(big), tok, err)
	}
	if n1.r.HasReady() {
		rd := n1.r.Ready()
		t.Fatalf("a refused transaction left output: %d records, %d messages, %d changes",
			len(rd.Records), len(rd.Messages), len(rd.Changes))
	}
	after := n1.r.Applied()
	if !after.Equal(&before) || n1.r.Keyspace().Get([]byte("a")) != nil {
		t.Fatalf("a refused transaction changed state: applied %v → %v", before, after)
	}
	// The node stays writable: the next transaction takes the next dot.
	tok = c.set("n1", "k", "v")
	if tok.Counter != before.Get(n1.r.ID())+1 {
		t.Fatalf("next write took dot %v", tok)
	}
}

// TestLargestValueReplicates: a value of limits.MaxValueBytes is logged
// and shipped within the record and frame limits (the harness fails on
// any record or payload above them).
func TestLargestValueReplicates(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	val := bytes.Repeat([]byte{'v'}, limits.MaxValueBytes)
	c.propose("n1", func(b *crdt.Builder) error { return b.Set([]byte("big"), val) })
	c.deliver()
	v := c.node("n2").r.Keyspace().Get([]byte("big"))
	if v == nil {
		t.Fatal("n2 lacks the value")
	}
	if reg, _ := v.Register(); !bytes.Equal(reg, val) {
		t.Fatalf("n2 holds %d bytes, want %d", len(reg), len(val))
	}
	if _, err := c.node("n1").r.Propose(func(b *crdt.Builder) error {
		return b.Set([]byte("big"), append(val, 'x'))
	}); !errors.Is(err, crdt.ErrTooLarge) {
		t.Fatalf("a value above MaxValueBytes: %v", err)
	}
}

// TestLargestTxnFitsRecordAndFrame: a transaction just under
// limits.MaxTxnBytes is accepted, logged within limits.MaxRecordBytes and
// shipped within a frame (the harness checks both), and one just over is
// refused.
func TestLargestTxnFitsRecordAndFrame(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	big := bytes.Repeat([]byte{'b'}, limits.MaxValueBytes)
	rest := limits.MaxTxnBytes - limits.MaxValueBytes - 1024
	c.propose("n1", func(b *crdt.Builder) error {
		if err := b.Set([]byte("a"), big); err != nil {
			return err
		}
		return b.Set([]byte("b"), bytes.Repeat([]byte{'r'}, rest))
	})
	c.deliver()
	c.requireConverged()
	_, err := c.node("n2").r.Propose(func(b *crdt.Builder) error {
		if err := b.Set([]byte("a"), big); err != nil {
			return err
		}
		return b.Set([]byte("b"), bytes.Repeat([]byte{'r'}, rest+2048))
	})
	if !errors.Is(err, ErrTxnTooLarge) {
		t.Fatalf("a transaction just over MaxTxnBytes: %v", err)
	}
}

// TestBundleLimitsNest: every transaction the replica makes or accepts
// fits a bundle, in either version: its bytes within MaxBundleTxnBytes,
// its record (kind byte and seal or link, what a version-2 entry holds)
// within MaxBundleEntryBytes, which is the transaction limit plus the
// fixed audit header.
func TestBundleLimitsNest(t *testing.T) {
	if limits.MaxTxnBytes > MaxBundleTxnBytes {
		t.Fatalf("limits.MaxTxnBytes %d > MaxBundleTxnBytes %d", limits.MaxTxnBytes, MaxBundleTxnBytes)
	}
	if MaxBundleEntryBytes != MaxBundleTxnBytes+BundleAuditHeaderBytes {
		t.Fatalf("MaxBundleEntryBytes %d ≠ MaxBundleTxnBytes + BundleAuditHeaderBytes", MaxBundleEntryBytes)
	}
	if BundleAuditHeaderBytes < 1+audit.SealBytes || BundleAuditHeaderBytes < 1+audit.LinkBytes {
		t.Fatalf("BundleAuditHeaderBytes %d holds no kind byte and seal", BundleAuditHeaderBytes)
	}
	if limits.MaxRecordBytes > MaxBundleEntryBytes {
		t.Fatalf("limits.MaxRecordBytes %d > MaxBundleEntryBytes %d: a logged transaction record would not fit a bundle",
			limits.MaxRecordBytes, MaxBundleEntryBytes)
	}
}
