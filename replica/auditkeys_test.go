package replica

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/spooksystems/spook/audit"
)

// TestAddAuditKeysAtRunTime: n1 starts without n3's public key, so it
// refuses n3's sealed transactions (it cannot check them); once the key
// is added to the running replica, the refused transactions come again
// by catch-up and are applied. A key that differs from the one held is
// refused whole (no rotation), and the held key stays.
func TestAddAuditKeysAtRunTime(t *testing.T) {
	c := newAuditCluster(t, "n1", "n2", "n3")
	n1 := c.node("n1")
	partial := audit.Keys{}
	for _, n := range []string{"n1", "n2"} {
		partial[uint64(id(n))] = testKey(n).Public().(ed25519.PublicKey)
	}
	n1.cfg.Audit.Keys = partial
	r, err := New(n1.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n1.r = r
	c.set("n3", "k", "from n3")
	c.deliver()
	if got := c.get("n1", "k"); got != "<nil>" {
		t.Fatalf("n1 applied n3's write without its key: %q", got)
	}
	if !n1.hasEvent(EventAuditRefused, id("n3")) && !n1.hasEvent(EventAuditRefused, id("n2")) {
		t.Fatalf("n1 raised no %s: %v", EventAuditRefused, n1.events)
	}

	other := audit.Keys{uint64(id("n2")): testKey("someone else").Public().(ed25519.PublicKey)}
	if added, err := n1.r.AddAuditKeys(other); !errors.Is(err, ErrConfig) || len(added) != 0 {
		t.Fatalf("a changed key for n2: added %v, err %v; want ErrConfig and nothing added", added, err)
	}
	three := audit.Keys{uint64(id("n3")): testKey("n3").Public().(ed25519.PublicKey)}
	for _, n := range []string{"n1", "n2"} {
		three[uint64(id(n))] = testKey(n).Public().(ed25519.PublicKey) // held already: no change
	}
	added, err := n1.r.AddAuditKeys(three)
	if err != nil || len(added) != 1 || added[0] != id("n3") {
		t.Fatalf("adding n3's key: added %v, err %v", added, err)
	}
	c.tick(4 * DefaultDigestTicks)
	if got := c.get("n1", "k"); got != "from n3" {
		t.Fatalf("n1 did not apply n3's write once it held n3's key: %q", got)
	}
	c.set("n2", "after", "1")
	c.deliver()
	if got := c.get("n1", "after"); got != "1" {
		t.Fatalf("n2's key was changed by the refused addition: n1 reads %q", got)
	}
}
