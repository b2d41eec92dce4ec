package replica

import (
	"errors"
	"fmt"
	"testing"
)

// TestStateBundleCarriesTheWholeState: a state bundle brings an isolated
// node every key, however far behind it is; importing it twice changes
// nothing; a corrupted one or another cluster's is refused.
func TestStateBundleCarriesTheWholeState(t *testing.T) {
	c := newCluster(t, "a", "b")
	c.deliver()
	c.partition([]string{"a"}, []string{"b"})
	for i := 0; i < 30; i++ {
		c.set("a", fmt.Sprint("k", i), fmt.Sprint("v", i))
		c.incr("a", "n", 1)
	}
	c.set("b", "mine", "b's own")
	c.deliver()
	a, b := c.node("a").r, c.node("b").r
	file, keys := a.StateBundle()
	if !IsStateBundle(file) || keys != a.Keyspace().Len() {
		t.Fatalf("StateBundle: %d keys, state bundle %v", keys, IsStateBundle(file))
	}
	exporter, gotKeys, changed, err := b.ImportState(file)
	if err != nil || exporter != a.ID() || gotKeys != keys || changed < 31 {
		t.Fatalf("ImportState: exporter %v, %d keys, %d changed, %v", exporter, gotKeys, changed, err)
	}
	if got := c.get("b", "k29"); got != "v29" {
		t.Fatalf("b: k29 = %q after import", got)
	}
	if got := c.get("b", "n"); got != "30" {
		t.Fatalf("b: n = %q after import, want 30", got)
	}
	if got := c.get("b", "mine"); got != "b's own" {
		t.Fatalf("b lost its own write: %q", got)
	}
	hash := b.Keyspace().Hash()
	if _, _, changed, err := b.ImportState(file); err != nil || changed != 0 || b.Keyspace().Hash() != hash {
		t.Fatalf("importing twice: %d changed, %v", changed, err)
	}
	bad := append([]byte(nil), file...)
	bad[len(bad)/2] ^= 1
	if _, _, _, err := b.ImportState(bad); !errors.Is(err, ErrBadBundle) {
		t.Fatalf("corrupted state bundle: %v", err)
	}
	other := newCluster(t, "x")
	other.node("x").r.cfg.Cluster = "elsewhere"
	foreign, _ := other.node("x").r.StateBundle()
	if _, _, _, err := b.ImportState(foreign); !errors.Is(err, ErrBadBundle) || b.Keyspace().Hash() != hash {
		t.Fatalf("another cluster's state bundle: %v", err)
	}
}
