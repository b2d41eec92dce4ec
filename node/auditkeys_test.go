package node

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// TestAuditKeysAddedWhileRunning: n1's keys directory lacks n2's key,
// so n1 cannot check n2's writes and does not apply them; once n2.pub is
// copied there, n1 takes the key at its next reload of the directory,
// without a restart, and applies n2's write.
func TestAuditKeysAddedWhileRunning(t *testing.T) {
	names := []string{"n1", "n2"}
	var members []replica.Peer
	for i, addr := range freeAddrs(t, len(names)) {
		members = append(members, replica.Peer{Name: names[i], Addr: addr})
	}
	keys := map[string]string{"n1": t.TempDir(), "n2": t.TempDir()}
	var nodes []*Node
	for i, name := range names {
		cfg := Config{Name: name, Listen: members[i].Addr, Members: members, Fsync: storage.SyncNone,
			DataDir: t.TempDir(), AuditKeysDir: keys[name], AuditKeysReload: 20 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if name == "n2" {
			// n2 knows n1's key (n1 published it at its start).
			data, err := os.ReadFile(filepath.Join(keys["n1"], "n1"+AuditPublicSuffix))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keys["n2"], "n1"+AuditPublicSuffix), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := nodes[1].Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte("k"), []byte("from n2")) }); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		var got string
		nodes[0].View(func(ks *crdt.Keyspace) error {
			if v := ks.Get([]byte("k")); v != nil {
				b, _ := v.Register()
				got = string(b)
			}
			return nil
		})
		return got
	}
	time.Sleep(300 * time.Millisecond)
	if got := read(); got != "" {
		t.Fatalf("n1 applied n2's write without n2's key: %q", got)
	}
	data, err := os.ReadFile(filepath.Join(keys["n2"], "n2"+AuditPublicSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys["n1"], "n2"+AuditPublicSuffix), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for read() != "from n2" {
		if ctx.Err() != nil {
			t.Fatalf("n1 never applied n2's write after n2.pub was added: %q", read())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
