package replica

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/limits"
)

// bigRepairCluster makes n2 miss 30 keys of 1 MiB rewritten 3 times while
// partitioned from n1, with a retained log too small to catch up from:
// the repair is a reconciliation of about 30 MiB (issue 11, defect 2).
func bigRepairCluster(t *testing.T) *cluster {
	c := newCluster(t, "n1", "n2")
	for _, n := range c.nodes {
		n.r.cfg.MaxRetainedTxns = 10
	}
	c.deliver()
	c.partition([]string{"n1"}, []string{"n2"})
	for round := range 3 {
		for k := range 30 {
			v := bytes.Repeat([]byte{byte('a' + round)}, 1<<20)
			c.propose("n1", func(b *crdt.Builder) error { return b.Set(fmt.Appendf(nil, "k%02d", k), v) })
		}
	}
	c.deliver()
	c.heal()
	return c
}

// TestLargeRepairIsChunked: the repair used to be one record of 31 MB,
// which the log refuses (storage: record too large), on every restart.
// It must be written as chunk records within limits.MaxRecordBytes (the
// harness fails on any larger record or frame), applied at once, and
// replayed to the same state.
func TestLargeRepairIsChunked(t *testing.T) {
	c := bigRepairCluster(t)
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
	n2 := c.node("n2")
	if !n2.hasEvent(EventRepaired, id("n1")) {
		t.Fatalf("n2 not repaired: %v", n2.events)
	}
	chunks := 0
	for _, rec := range n2.records {
		if rec[0] == recordRepairChunk {
			chunks++
		}
	}
	if chunks < 2 {
		t.Fatalf("the repair was written as %d chunk records", chunks)
	}
	r, err := Restore(n2.cfg, n2.snapshot, n2.records)
	if err != nil {
		t.Fatal(err)
	}
	if r.Keyspace().Hash() != n2.r.Keyspace().Hash() {
		t.Fatal("replayed state differs from the live one")
	}
}

// TestRepairChunksWithoutCommitDiscarded: a crash after some chunk
// records of a repair, before its commit record, leaves the state as it
// was before the repair; the repair runs again later.
func TestRepairChunksWithoutCommitDiscarded(t *testing.T) {
	c := bigRepairCluster(t)
	n2 := c.node("n2")
	before, err := Restore(n2.cfg, n2.snapshot, n2.records)
	if err != nil {
		t.Fatal(err)
	}
	kept := len(n2.records)
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
	first := -1
	for i, rec := range n2.records[kept:] {
		if rec[0] == recordRepairChunk {
			first = kept + i
			break
		}
	}
	if first < 0 {
		t.Fatal("no chunk record")
	}
	torn := append([][]byte(nil), n2.records[:first+2]...) // two chunks, no commit
	r, err := Restore(n2.cfg, n2.snapshot, torn)
	if err != nil {
		t.Fatal(err)
	}
	if r.Keyspace().Hash() != before.Keyspace().Hash() {
		t.Fatal("chunks without their commit changed the replayed state")
	}
	// Records appended after the torn repair replay too.
	n2.r, n2.records = r, torn
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
}

// TestRepairChunkLimits: a single key larger than a chunk still repairs
// (the payload bytes are split, not the keys).
func TestRepairChunkLimits(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	for _, n := range c.nodes {
		n.r.cfg.MaxRetainedTxns = 1
	}
	c.deliver()
	c.partition([]string{"n1"}, []string{"n2"})
	big := bytes.Repeat([]byte{'z'}, limits.MaxValueBytes)
	for i := range 3 {
		c.propose("n1", func(b *crdt.Builder) error { return b.Set(fmt.Appendf(nil, "big%d", i), big) })
	}
	c.deliver()
	c.heal()
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
}

// TestKeyLargerThanFrameRepairs: a register holding two concurrent values
// of limits.MaxValueBytes encodes to more than a frame. Reconciliation
// must still ship it (in fragments; the harness fails on any payload
// above a frame) and repair.
func TestKeyLargerThanFrameRepairs(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	for _, n := range c.nodes {
		n.r.cfg.MaxRetainedTxns = 1
	}
	c.deliver()
	c.partition([]string{"n1"}, []string{"n2"}, []string{"n3"})
	for i, name := range []string{"n1", "n2"} {
		v := bytes.Repeat([]byte{byte('a' + i)}, limits.MaxValueBytes)
		c.propose(name, func(b *crdt.Builder) error { return b.Set([]byte("k"), v) })
	}
	c.heal()
	c.partition([]string{"n1", "n2"}, []string{"n3"})
	c.tick(5 * DefaultDigestTicks)
	for i := range 4 {
		c.set("n1", fmt.Sprintf("small%d", i), "x") // push k out of the retained logs
	}
	c.deliver()
	if enc := crdt.AppendValue(nil, c.node("n1").r.Keyspace().Get([]byte("k"))); len(enc) < limits.MaxFrameBytes {
		t.Fatalf("k encodes to %d bytes, not above a frame", len(enc))
	}
	c.heal()
	c.tick(10 * DefaultDigestTicks)
	c.requireConverged()
	if !c.node("n3").hasEvent(EventRepaired, 0) {
		t.Fatalf("n3 not repaired: %v", c.node("n3").events)
	}
}
