package replica

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spooksystems/spook/crdt"
)

// largeStateCluster is n1 and n2 holding keys × 64 KiB values.
func largeStateCluster(t *testing.T, keys int) *cluster {
	c := newCluster(t, "n1", "n2")
	v := bytes.Repeat([]byte{'s'}, 64<<10)
	for i := range keys {
		c.propose("n1", func(b *crdt.Builder) error { return b.Set(fmt.Appendf(nil, "k%03d", i), v) })
	}
	c.deliver()
	return c
}

// TestJoinPullsSnapshot is defect 3 of issue 11: the member pushed every
// chunk of its snapshot at once (thousands for a large state), which a
// driver's bounded peer queue drops, so the join never completed. The
// joiner must pull: no more than MaxSnapshotChunksInFlight chunk answers
// leave the member per request round, and a link that loses chunks (here
// every fifth snapshot message, the link session reset each time) only
// delays the join: the joiner asks again from where it is.
func TestJoinPullsSnapshot(t *testing.T) {
	c := largeStateCluster(t, 100) // about 6.5 MiB: 26 chunks of MaxBatchBytes
	n3 := c.add(Config{Name: "n3", Addr: "n3:7000", Join: []Peer{{Name: "n2"}}, Seed: 3, NowMs: c.nowMs})
	snapshots := 0
	c.drop = func(p payload) bool {
		if p.typ != MsgSnapshot {
			return false
		}
		snapshots++
		return snapshots%5 == 0
	}
	maxPerRound := 0
	for range 60 * DefaultJoinRetryTicks {
		c.nowMs += 10
		for _, name := range c.names {
			c.nodes[name].r.Tick(c.nowMs)
		}
		c.collect()
		perRound := 0
		for _, p := range c.queue {
			if p.typ == MsgSnapshot {
				perRound++
			}
		}
		maxPerRound = max(maxPerRound, perRound)
		c.deliverOnce()
		if n3.r.state == NodeMember {
			break
		}
	}
	if n3.r.state != NodeMember {
		t.Fatalf("n3 did not join through a lossy link: state %s after %d snapshot messages", n3.r.state, snapshots)
	}
	if maxPerRound > DefaultMaxSnapshotChunksInFlight {
		t.Fatalf("a round carried %d snapshot chunks, want at most %d in flight", maxPerRound, DefaultMaxSnapshotChunksInFlight)
	}
	c.drop = nil
	c.tick(3 * DefaultDigestTicks)
	c.requireConverged()
}

// TestSnapshotPinsBounded: a member keeps at most MaxSnapshotPins encoded
// snapshots, drops them after SnapshotPinTicks without a request, and a
// joiner whose pinned snapshot is gone starts again from offset 0 and
// still joins.
func TestSnapshotPinsBounded(t *testing.T) {
	c := largeStateCluster(t, 20)
	n2 := c.node("n2")
	n2.r.cfg.SnapshotPinTicks = 5
	var joiners []*testNode
	for i := range 4 {
		name := fmt.Sprintf("j%d", i)
		joiners = append(joiners, c.add(Config{Name: name, Addr: name, Join: []Peer{{Name: "n2"}}, Seed: uint64(10 + i), NowMs: c.nowMs}))
		c.set("n1", "churn", name) // a new state for every joiner
		c.deliver()
		c.nodes[name].r.Tick(c.nowMs) // asks n2
		c.deliver()
	}
	if got := len(n2.r.pins); got > n2.r.cfg.MaxSnapshotPins {
		t.Fatalf("n2 holds %d pinned snapshots, limit %d", got, n2.r.cfg.MaxSnapshotPins)
	}
	c.tick(2 * DefaultJoinRetryTicks)
	for _, j := range joiners {
		if j.r.state != NodeMember {
			t.Fatalf("%s did not join: %s", j.name, j.r.state)
		}
	}
	c.tick(10)
	if got := len(n2.r.pins); got != 0 {
		t.Fatalf("n2 still pins %d snapshots after %d idle ticks", got, n2.r.cfg.SnapshotPinTicks)
	}
}
