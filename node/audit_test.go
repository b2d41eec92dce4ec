package node

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// BenchmarkAuditReplicatedSet is BenchmarkReplicatedSet with audit mode
// on: every transaction is signed by its origin and verified by the peer
// before it is applied (one ed25519 signature and one verification per
// transaction). Compare with BenchmarkReplicatedSet for the cost.
//
//	go test ./node -run '^$' -bench 'ReplicatedSet' -benchmem -benchtime 20000x
func BenchmarkAuditReplicatedSet(b *testing.B) {
	b.Run("serial", func(b *testing.B) { benchReplicatedSetWith(b, 1, 1, auditTune(b)) })
	b.Run("clients16", func(b *testing.B) { benchReplicatedSetWith(b, 16, 1, auditTune(b)) })
	b.Run("pipelined16", func(b *testing.B) { benchReplicatedSetWith(b, 16, 16, auditTune(b)) })
}

// auditTune turns audit mode on for the bench's nodes "a" and "b": at
// node a (started first) it makes fresh data directories and keys for
// both, published before either starts.
func auditTune(b *testing.B) func(*Config) {
	var keys string
	dirs := map[string]string{}
	return func(c *Config) {
		if c.Name == "a" {
			keys = b.TempDir()
			for _, name := range []string{"a", "b"} {
				dirs[name] = b.TempDir()
				k, err := AuditKey(dirs[name])
				if err != nil {
					b.Fatal(err)
				}
				if err := PublishAuditKey(keys, name, k.Public().(ed25519.PublicKey)); err != nil {
					b.Fatal(err)
				}
			}
		}
		c.DataDir, c.AuditKeysDir = dirs[c.Name], keys
	}
}

// TestAuditModeReplicates starts two nodes in audit mode sharing a keys
// directory, both keys published before either starts (as an operator
// distributes them), writes on both and checks that both apply every
// write, and that a node's key persists in its data directory.
func TestAuditModeReplicates(t *testing.T) {
	keys := t.TempDir()
	dirs := []string{t.TempDir(), t.TempDir()}
	names := []string{"a", "b"}
	for i, name := range names {
		k, err := AuditKey(dirs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := PublishAuditKey(keys, name, k.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
	}
	addrs := make([]string, 2)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	members := []replica.Peer{{Name: "a", Addr: addrs[0]}, {Name: "b", Addr: addrs[1]}}
	var nodes []*Node
	for i, name := range names {
		n, err := Start(Config{Name: name, Listen: addrs[i], Members: members, Fsync: storage.SyncNone,
			DataDir: dirs[i], AuditKeysDir: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range nodes {
		for j := 0; j < 10; j++ {
			if _, err := n.Update(ctx, func(tx *crdt.Builder) error {
				return tx.Set([]byte{byte('k'), byte(i), byte(j)}, []byte("v"))
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for {
		va, vb := nodes[0].AppliedVector(), nodes[1].AppliedVector()
		if va.Dominates(&vb) && vb.Dominates(&va) && va.Len() == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("not converged: a %v, b %v", va, vb)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if k, err := AuditKey(dirs[0]); err != nil || !k.Public().(ed25519.PublicKey).Equal(mustPub(t, filepath.Join(keys, "a.pub"))) {
		t.Fatalf("a's key changed across calls: %v", err)
	}
}

func mustPub(t *testing.T, path string) ed25519.PublicKey {
	pub, err := readPublicKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
