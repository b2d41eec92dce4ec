package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// TestUpdateCarriesTheUser: Update with a client user in its context
// (api.WithUser) is checked against the policy's user rules on the
// node's loop, and refused with audit.ErrNoRights (nothing written)
// outside them; without a user (the Go API) the user rules do not apply.
func TestUpdateCarriesTheUser(t *testing.T) {
	keys, dir := t.TempDir(), t.TempDir()
	k, err := AuditKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := PublishAuditKey(keys, "a", k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	op := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := hex.EncodeToString(op.Public().(ed25519.PublicKey)) + "\n"
	if err := os.WriteFile(filepath.Join(keys, OperatorKeyFile), []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddrs(t, 1)[0]
	n, err := Start(Config{Name: "a", Listen: addr, Members: []replica.Peer{{Name: "a", Addr: addr}}, Fsync: storage.SyncNone,
		DataDir: dir, AuditKeysDir: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &audit.Policy{Version: 1, Rules: []audit.Rule{
		{Kind: audit.RuleNode, Name: "*", Prefix: nil},
		{Kind: audit.RuleUser, Name: "alice", Prefix: []byte("app/alice/")},
	}}
	p.Sign(op)
	if _, err := n.ApplyPolicy(ctx, p.Canonical()); err != nil {
		t.Fatal(err)
	}
	set := func(ctx context.Context, key string) error {
		_, err := n.Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte(key), []byte("v")) })
		return err
	}
	alice := api.WithUser(ctx, "alice")
	if err := set(alice, "app/alice/x"); err != nil {
		t.Fatalf("alice within her rights: %v", err)
	}
	if err := set(alice, "app/bob/x"); !errors.Is(err, audit.ErrNoRights) {
		t.Fatalf("alice outside her rights: %v, want audit.ErrNoRights", err)
	}
	if err := set(api.WithUser(ctx, api.DefaultUser), "app/x"); !errors.Is(err, audit.ErrNoRights) {
		t.Fatalf("default without rules: %v, want audit.ErrNoRights", err)
	}
	if err := set(ctx, "app/bob/y"); err != nil {
		t.Fatalf("Go API write (no user): %v", err)
	}
	n.View(func(ks *crdt.Keyspace) error {
		if ks.Get([]byte("app/bob/x")) != nil {
			t.Error("alice's refused write is visible")
		}
		return nil
	})
}
