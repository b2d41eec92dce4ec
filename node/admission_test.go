package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/wire"
)

// TestStartRefusesOpenAdmission: without a cluster key and without
// required TLS, a node on a non-loopback address would admit anyone as a
// peer: Start refuses; on loopback it starts and warns.
func TestStartRefusesOpenAdmission(t *testing.T) {
	cfg := testConfig("n1", "0.0.0.0:0", nil, "")
	if _, err := Start(cfg); !errors.Is(err, ErrAdmissionConfig) || !errors.Is(err, ErrConfig) {
		t.Fatalf("non-loopback without a key: %v", err)
	}
	var logs bytes.Buffer
	cfg = testConfig("n1", "127.0.0.1:0", nil, "")
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if strings.Count(logs.String(), "no cluster key") != 1 {
		t.Fatalf("want one warning about the missing key:\n%s", logs.String())
	}
	cfg.ClusterKey = make([]byte, 5)
	if _, err := Start(cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("a 5-byte key: %v", err)
	}
}

func TestParseClusterKey(t *testing.T) {
	text, err := GenerateClusterKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseClusterKey(" " + text + "\n")
	if err != nil || len(key) != ClusterKeyBytes {
		t.Fatalf("%d bytes, %v", len(key), err)
	}
	for _, in := range []string{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"} {
		if key, err := ParseClusterKey(in); err != nil || len(key) != 32 || key[31] != 31 {
			t.Fatalf("base64 %q: %v", in, err)
		}
	}
	for _, in := range []string{"", "zz", "abcd"} {
		if _, err := ParseClusterKey(in); err == nil {
			t.Fatalf("%q accepted", in)
		}
	}
}

// TestRefusedHandshakeLeavesNoTrace: a peer that fails admission (here:
// the wrong key, with an address it wants to be dialled at) leaves no
// heard entry, no peer, no dial.
func TestRefusedHandshakeLeavesNoTrace(t *testing.T) {
	addr := freeAddrs(t, 1)[0]
	cfg := testConfig("n1", addr, nil, "")
	cfg.ClusterKey = bytes.Repeat([]byte{1}, 32)
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	evil := causal.NodeIDFromName("evil")
	for _, key := range [][]byte{nil, bytes.Repeat([]byte{2}, 32)} {
		c, err := net.Dial("tcp", n.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = wire.Handshake(c, wire.Initiator, wire.Config{ClusterKey: key,
			Local: wire.Hello{ClusterID: "spook", Node: evil, NodeName: "evil", Addr: "127.0.0.1:1"}})
		c.Close()
		if !errors.Is(err, wire.ErrAdmission) {
			t.Fatalf("key %x: %v", key, err)
		}
	}
	// Anything addressed to it finds no way there.
	n.peers.send(replica.Envelope{To: evil})
	n.peers.mu.Lock()
	defer n.peers.mu.Unlock()
	if len(n.peers.heard) != 0 || len(n.peers.peers) != 0 || len(n.peers.inbound) != 0 {
		t.Fatalf("a refused peer left heard=%v peers=%v inbound=%v", n.peers.heard, n.peers.peers, n.peers.inbound)
	}
}

// TestRemovedLiveNodeLearnsIt: n3, removed while its links are up,
// learns it from the members (a Close or a refused handshake with the
// reason removed) and refuses writes with api.RemovedError.
func TestRemovedLiveNodeLearnsIt(t *testing.T) {
	nodes, _ := startCluster(t, 3, true)
	ctx := context.Background()
	eventually(t, "n3 writable", func() (bool, string) {
		_, err := nodes[2].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("v")) })
		return err == nil, fmt.Sprint(err)
	})
	if _, err := nodes[0].Remove("n3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "n3 removed", func() (bool, string) {
		_, err := nodes[2].Update(ctx, func(b *crdt.Builder) error { return b.Set([]byte("k"), []byte("w")) })
		var re *api.RemovedError
		return errors.As(err, &re) && errors.Is(err, api.ErrRemoved), fmt.Sprint(err)
	})
	if err := nodes[2].ready(); err == nil {
		t.Fatal("a removed node reports ready")
	}
}
