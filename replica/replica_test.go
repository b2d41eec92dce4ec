package replica

import (
	"testing"
)

func TestProposeReplicates(t *testing.T) {
	c := newCluster(t, "n1", "n2", "n3")
	tok := c.set("n1", "k", "v")
	c.incr("n2", "c", 5)
	c.deliver()
	for _, n := range c.names {
		if got := c.get(n, "k"); got != "v" {
			t.Fatalf("%s: k = %q", n, got)
		}
		if got := c.get(n, "c"); got != "5" {
			t.Fatalf("%s: c = %q", n, got)
		}
	}
	c.requireConverged()
	if got := c.node("n1").r.AppliedBy(tok); got != 3 {
		t.Fatalf("AppliedBy = %d, want 3", got)
	}
	c.tick(1)
	for _, n := range c.names {
		if !c.node(n).r.Collapsed(tok) {
			t.Fatalf("%s: token not collapsed after acks: cut %v", n, c.node(n).r.CollapsedVector())
		}
	}
}
