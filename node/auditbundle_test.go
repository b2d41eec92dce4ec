package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// auditPair returns the configs of two audited nodes a and b that know
// each other, with their keys published, but are not started.
func auditPair(t *testing.T) (Config, Config) {
	keys := t.TempDir()
	addrs := freeAddrs(t, 2)
	members := []replica.Peer{{Name: "a", Addr: addrs[0]}, {Name: "b", Addr: addrs[1]}}
	var cfgs []Config
	for i, name := range []string{"a", "b"} {
		cfg := testConfig(name, addrs[i], members, t.TempDir())
		k, err := AuditKey(cfg.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if err := PublishAuditKey(keys, name, k.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		cfg.AuditKeysDir = keys
		cfgs = append(cfgs, cfg)
	}
	return cfgs[0], cfgs[1]
}

// TestAuditBundleBetweenNodes: an audited node that never met its peer
// exports a bundle while writes go on (its last transaction often still
// unsigned: the export signs it, in the node's loop, while other exports
// and writes run), and the peer, started afterwards with the exporter
// down, refuses a copy with one transaction altered (that one, counted
// in the import's result), then imports the genuine bundles whole: every
// transaction applies, none is refused.
func TestAuditBundleBetweenNodes(t *testing.T) {
	acfg, bcfg := auditPair(t)
	a, err := Start(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	files := make([][]byte, 4)
	for g := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := a.Update(ctx, func(b *crdt.Builder) error {
					return b.Set([]byte(fmt.Sprint("k", g, "/", i)), []byte("value-XYZ"))
				}); err != nil {
					t.Error(err)
					return
				}
				file, _, err := a.ExportBundle(causal.VersionVector{})
				if err != nil {
					t.Error(err)
					return
				}
				files[g] = file
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		a.Close()
		return
	}
	final, count, err := a.ExportBundle(causal.VersionVector{})
	a.Close()
	if err != nil || count < 100 {
		t.Fatalf("export: %d transactions, %v", count, err)
	}
	b, err := Start(bcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A copy whose last transaction had its value changed, its seal kept:
	// that one is refused, and counted.
	exporter, since, txns, err := replica.DecodeBundle(final)
	if err != nil {
		t.Fatal(err)
	}
	last := txns[len(txns)-1]
	raw := last.AppendBinary(nil)
	i := bytes.LastIndex(raw, []byte("XYZ"))
	if i < 0 {
		t.Fatalf("%s holds no value-XYZ", last.Dot)
	}
	copy(raw[i:], "ABC")
	altered, err := crdt.DecodeTxn(raw)
	if err != nil {
		t.Fatal(err)
	}
	altered.Seal = last.Seal
	txns[len(txns)-1] = altered
	res, err := b.ImportBundle(ctx, replica.EncodeBundle(exporter, &since, txns))
	if err != nil || res.Refused != 1 || res.Applied >= count {
		t.Fatalf("altered bundle: %+v, %v; want 1 refused", res, err)
	}
	if v := b.AppliedVector(); v.Get(last.Dot.Node) >= last.Dot.Counter {
		t.Fatalf("b applied the altered %s", last.Dot)
	}
	for _, f := range append(files, final) {
		if res, err := b.ImportBundle(ctx, f); err != nil || res.Refused != 0 {
			t.Fatalf("import: %+v, %v", res, err)
		}
	}
	v := b.AppliedVector()
	if got := v.Sum(); got != uint64(count) {
		t.Fatalf("b applied %d transactions, the bundle held %d", got, count)
	}
	b.mu.RLock()
	n := b.r.AuditRefused()
	b.mu.RUnlock()
	if n != 1 {
		t.Fatalf("b refused %d transactions, want only the altered one", n)
	}
}
