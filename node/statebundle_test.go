package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// TestStateBundleToAFreshNode: once a node's retained log no longer
// reaches back (here: after a restart, which restores the state without
// its transactions), a transaction bundle for a fresh node is refused,
// and a state bundle carries everything; the receiver keeps it across a
// restart, and importing it twice changes nothing.
func TestStateBundleToAFreshNode(t *testing.T) {
	addrs := freeAddrs(t, 2)
	acfg := testConfig("a", addrs[0], []replica.Peer{{Name: "a", Addr: addrs[0]}}, t.TempDir())
	a, err := Start(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := a.Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte(fmt.Sprint("k", i)), []byte(fmt.Sprint("v", i))) }); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	if a, err = Start(acfg); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, _, err := a.ExportBundle(causal.VersionVector{}); !errors.Is(err, replica.ErrBundleTooFar) {
		t.Fatalf("transaction bundle toward a fresh node after restart: %v", err)
	}
	file, keys, err := a.ExportState()
	if err != nil || keys < 20 {
		t.Fatalf("ExportState: %d keys, %v", keys, err)
	}

	bcfg := testConfig("b", addrs[1], []replica.Peer{{Name: "b", Addr: addrs[1]}}, t.TempDir())
	b, err := Start(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	gotKeys, changed, ok, err := b.ImportState(ctx, file)
	if err != nil || !ok || gotKeys != keys || changed < 20 {
		t.Fatalf("ImportState: %d keys, %d changed, ok %v, %v", gotKeys, changed, ok, err)
	}
	if _, changed, _, err := b.ImportState(ctx, file); err != nil || changed != 0 {
		t.Fatalf("second import: %d changed, %v", changed, err)
	}
	if _, _, ok, _ := b.ImportState(ctx, []byte("SPOOKBDL not a state bundle")); ok {
		t.Fatal("a transaction bundle taken for a state bundle")
	}
	b.Close()
	if b, err = Start(bcfg); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got string
	b.View(func(ks *crdt.Keyspace) error {
		if v := ks.Get([]byte("k19")); v != nil {
			r, _ := v.Register()
			got = string(r)
		}
		return nil
	})
	if got != "v19" {
		t.Fatalf("after restart b: k19 = %q", got)
	}
}
