package replica

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/internal/invariants"
)

// mustPanicInvariant runs Ready on a replica whose state was broken by
// breakIt and expects an invariant panic.
func mustPanicInvariant(t *testing.T, breakIt func(r *Replica)) {
	t.Helper()
	c := newCluster(t, "n1", "n2")
	c.set("n1", "k", "v")
	c.deliver()
	r := c.node("n1").r
	breakIt(r)
	c.set("n1", "k", "w") // something to hand out
	defer func() {
		t.Helper()
		p := recover()
		if p == nil || !strings.Contains(p.(string), "invariant violated") {
			t.Fatalf("Ready on a broken replica: recovered %v, want an invariant panic", p)
		}
	}()
	r.Ready()
}

func TestInvariantsCatchBrokenState(t *testing.T) {
	t.Run("pending bytes", func(t *testing.T) {
		mustPanicInvariant(t, func(r *Replica) { r.pendingBytes = -1 })
	})
	t.Run("snapshot pins over the bound", func(t *testing.T) {
		mustPanicInvariant(t, func(r *Replica) { r.pins = make([]snapshotPin, r.cfg.MaxSnapshotPins+1) })
	})
	if !invariants.Enabled {
		return
	}
	t.Run("applied vector went back", func(t *testing.T) {
		mustPanicInvariant(t, func(r *Replica) { r.lastApplied.Set(r.ID(), 1000) })
	})
	t.Run("retained count drifted", func(t *testing.T) {
		mustPanicInvariant(t, func(r *Replica) {
			r.logBytes--
			r.readys = invariantSampleReadys - 1
		})
	})
}
