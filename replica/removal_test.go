package replica

import (
	"errors"
	"github.com/spooksystems/spook/crdt"
	"strings"
	"testing"
)

// TestRemovedLiveMemberRefusesWrites: an operator removes n3 while it is
// up. Once n3 holds the removal, every write is refused with a
// *RemovedError (matching ErrRemoved and ErrReadOnly) naming the cluster
// and the time of the removal, and the other members report when it
// was removed.
func TestRemovedLiveMemberRefusesWrites(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	c.tick(5)
	if _, err := c.node("n1").r.Remove(id("n3")); err != nil {
		t.Fatal(err)
	}
	c.tick(4 * DefaultDigestTicks)
	n3 := c.node("n3").r
	if st := n3.Status().State; st != NodeRemoved {
		t.Fatalf("n3 is %s, want removed", st)
	}
	_, err := n3.Propose(func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) })
	var re *RemovedError
	if !errors.As(err, &re) || !errors.Is(err, ErrRemoved) || !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a write on a removed node: %v", err)
	}
	at, ok := c.node("n1").r.RemovedAt(id("n3"))
	if !ok || at < testStartMs || re.AtMs != at {
		t.Fatalf("removal time: n1 says %d (%v), n3's error says %d", at, ok, re.AtMs)
	}
	if !strings.Contains(re.Error(), "this node was removed from cluster") {
		t.Fatalf("error text %q", re.Error())
	}
	if _, ok := c.node("n1").r.RemovedAt(id("n2")); ok {
		t.Fatal("n2 reported removed")
	}
}

// TestMarkRemoved: a node that learns of its removal from a peer (a
// refused handshake) rather than from the membership record becomes
// removed at once and reports the time it was given.
func TestMarkRemoved(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	r := c.node("n2").r
	r.MarkRemoved(1_765_000_000_123)
	if r.Status().State != NodeRemoved {
		t.Fatalf("state %s", r.Status().State)
	}
	var re *RemovedError
	if _, err := r.Propose(func(b *crdt.Builder) error { return nil }); !errors.As(err, &re) || re.AtMs != 1_765_000_000_123 {
		t.Fatalf("propose after MarkRemoved: %v", err)
	}
	if !strings.Contains(re.Error(), "2025-12-06T05:46:40.123Z") {
		t.Fatalf("time in %q", re.Error())
	}
	if !r.HasReady() || !hasEventIn(r.Ready(), EventMemberRemoved) {
		t.Fatal("no event for the removal")
	}
	r.Advance()
	r.MarkRemoved(1) // a second report changes nothing
	if r.HasReady() {
		t.Fatal("a second MarkRemoved emitted something")
	}
}

func hasEventIn(rd Ready, t EventType) bool {
	for _, e := range rd.Events {
		if e.Type == t {
			return true
		}
	}
	return false
}
