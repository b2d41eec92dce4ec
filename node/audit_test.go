package node

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// BenchmarkAuditReplicatedSet is BenchmarkReplicatedSet with audit mode
// on: every transaction is chained by its origin and verified by the peer
// before it is applied; the origin signs its chain head at most once per
// tick (node.DefaultAuditSignTicks), so one ed25519 signature and one
// verification cover many transactions under load. Compare with
// BenchmarkReplicatedSet for the cost.
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
	addrs := freeAddrs(t, 2)
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

// getAuditJSON GETs path from node n and decodes it into out; it
// returns the status.
func getAuditJSON(t *testing.T, n *Node, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+n.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp.StatusCode
}

// TestAuditProofsAndPointInTime: three members in audit mode. Each gives
// an inclusion proof for a key that a stock golang.org/x/mod/sumdb
// verifier accepts (note signature, tlog.CheckRecord), equal tree heads
// for equal checkpoint indexes, a consistency proof tlog.CheckTree
// accepts, and the same state hash and point-in-time value at a
// checkpoint.
func TestAuditProofsAndPointInTime(t *testing.T) {
	keys := t.TempDir()
	names := []string{"a", "b", "c"}
	dirs := map[string]string{}
	pubs := map[string]ed25519.PublicKey{}
	for _, name := range names {
		dirs[name] = t.TempDir()
		k, err := AuditKey(dirs[name])
		if err != nil {
			t.Fatal(err)
		}
		pubs[name] = k.Public().(ed25519.PublicKey)
		if err := PublishAuditKey(keys, name, pubs[name]); err != nil {
			t.Fatal(err)
		}
	}
	var members []replica.Peer
	for _, name := range names {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, replica.Peer{Name: name, Addr: ln.Addr().String()})
		ln.Close()
	}
	var nodes []*Node
	for i, name := range names {
		cfg := Config{Name: name, Listen: members[i].Addr, Members: members, Fsync: storage.SyncNone,
			DataDir: dirs[name], AuditKeysDir: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		cfg.Replica.Audit.CheckpointTicks = 10
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	set := func(n *Node, key, value string) {
		if _, err := n.Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte(key), []byte(value)) }); err != nil {
			t.Fatal(err)
		}
	}
	set(nodes[0], "acct", "v1")
	set(nodes[1], "other", "x")
	// Wait (bounded) until every member proves acct's value.
	proofs := make([]InclusionProof, len(nodes))
	for i, n := range nodes {
		for getAuditJSON(t, n, "/v1/audit/proof?key=acct", &proofs[i]) != http.StatusOK {
			if ctx.Err() != nil {
				var e AuditReport
				getAuditJSON(t, n, "/v1/audit/proof?key=acct", &e)
				var rep AuditReport
				getAuditJSON(t, n, "/v1/audit/verify", &rep)
				t.Fatalf("%s: no proof for acct: %+v; verify %+v", n.cfg.Name, e, rep)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	trees := map[uint64]tlog.Tree{}
	for i, p := range proofs {
		name := names[i]
		vk, err := note.NewEd25519VerifierKey(name, pubs[name])
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(vk)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Open([]byte(p.Note), note.VerifierList(v))
		if err != nil {
			t.Fatalf("%s: checkpoint note: %v", name, err)
		}
		tree, err := tlog.ParseTree([]byte(msg.Text))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p.Proof, tree.N, tree.Hash, p.LeafIndex, tlog.RecordHash(p.Leaf)); err != nil {
			t.Fatalf("%s: inclusion proof of %s: %v", name, p.Txn, err)
		}
		if prev, ok := trees[p.Checkpoint]; ok && prev != tree {
			t.Fatalf("%s: checkpoint %d is %+v, another member's %+v", name, p.Checkpoint, tree, prev)
		}
		trees[p.Checkpoint] = tree
		if p.Txn != proofs[0].Txn || string(p.Leaf) != string(proofs[0].Leaf) {
			t.Fatalf("%s proves %s, a proves %s", name, p.Txn, proofs[0].Txn)
		}
	}
	set(nodes[2], "acct", "v2")
	// A later checkpoint on a: consistency from checkpoint 1.
	var cons ConsistencyProof
	for to := proofs[0].Checkpoint + 1; ; {
		if getAuditJSON(t, nodes[0], fmt.Sprintf("/v1/audit/proof?from=1&to=%d", to), &cons) == http.StatusOK {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no later checkpoint on a")
		}
		time.Sleep(50 * time.Millisecond)
	}
	from, _ := tlog.ParseTree([]byte(cons.FromNote))
	to, _ := tlog.ParseTree([]byte(cons.ToNote))
	if err := tlog.CheckTree(cons.Proof, to.N, to.Hash, from.N, from.Hash); err != nil || to.N <= from.N {
		t.Fatalf("consistency 1→%d (%d→%d leaves): %v", cons.To, from.N, to.N, err)
	}
	// Replay and point-in-time reads at the proof's checkpoint agree.
	at := proofs[0].Checkpoint
	var hashes []string
	for _, n := range nodes {
		var rep ReplayReport
		if st := getAuditJSON(t, n, fmt.Sprintf("/v1/audit/replay?to=%d", at), &rep); st != http.StatusOK {
			t.Fatalf("%s: replay status %d", n.cfg.Name, st)
		}
		hashes = append(hashes, rep.StateHash)
		var doc struct{ Value string }
		if st := getAuditJSON(t, n, fmt.Sprintf("/v1/kv/acct?at=%d", at), &doc); st != http.StatusOK || doc.Value != "v1" {
			t.Fatalf("%s: acct at %d = %q (status %d), want v1", n.cfg.Name, at, doc.Value, st)
		}
		// The RESP form: SPOOK.GETAT key checkpoint.
		c := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2})
		v, err := c.Do(ctx, "SPOOK.GETAT", "acct", at).Text()
		nowV, _ := c.Get(ctx, "acct").Result()
		_, errBad := c.Do(ctx, "SPOOK.GETAT", "acct", 1<<40).Result()
		c.Close()
		if err != nil || v != "v1" || errBad == nil {
			t.Fatalf("%s: SPOOK.GETAT acct %d = %q, %v (now %q); at a missing checkpoint: %v", n.cfg.Name, at, v, err, nowV, errBad)
		}
	}
	if hashes[0] != hashes[1] || hashes[1] != hashes[2] {
		t.Fatalf("state hashes at checkpoint %d differ: %v", at, hashes)
	}
}

// TestAuditVerifyJoinedMember: a member that joined an audited cluster by
// snapshot verifies (its history starts from the chain heads its snapshot
// carried, logged as its first record) before and after a restart.
func TestAuditVerifyJoinedMember(t *testing.T) {
	keys := t.TempDir()
	addrs := freeAddrs(t, 3)
	members := []replica.Peer{{Name: "a", Addr: addrs[0]}, {Name: "b", Addr: addrs[1]}}
	var nodes []*Node
	for i, m := range members {
		cfg := testConfig(m.Name, m.Addr, members, t.TempDir())
		cfg.AuditKeysDir = keys
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
		c := client(t, n)
		if err := c.Set(context.Background(), fmt.Sprint("k", i), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	jdir := t.TempDir()
	if k, err := AuditKey(jdir); err != nil || PublishAuditKey(keys, "j", k.Public().(ed25519.PublicKey)) != nil {
		t.Fatal(err)
	}
	// The members load the key set at start: restart them with j's key.
	for i, n := range nodes {
		n.Close()
		cfg := testConfig(members[i].Name, members[i].Addr, members, n.cfg.DataDir)
		cfg.AuditKeysDir = keys
		var err error
		if nodes[i], err = Start(cfg); err != nil {
			t.Fatal(err)
		}
		defer nodes[i].Close()
	}
	cfg := testConfig("j", addrs[2], nil, jdir)
	cfg.Join, cfg.AuditKeysDir = []string{addrs[0]}, keys
	j, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cj := client(t, j)
	ctx := context.Background()
	eventually(t, "the joiner has the data and accepts writes", func() (bool, string) {
		v, err := cj.Get(ctx, "k1").Result()
		if err != nil || v != "x" {
			return false, fmt.Sprintf("GET k1 = %q, %v", v, err)
		}
		return cj.Set(ctx, "from-j", "y", 0).Err() == nil, "SET refused"
	})
	if err := client(t, nodes[1]).Set(ctx, "after", "z", 0).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the joiner gets a write made after it joined", func() (bool, string) {
		v, _ := cj.Get(ctx, "after").Result()
		return v == "z", v
	})
	var rep AuditReport
	if getAuditJSON(t, j, "/v1/audit/verify", &rep); !rep.OK || rep.Joins != 1 || rep.Transactions < 2 {
		t.Fatalf("joined member's history: %+v", rep)
	}
	j.Close()
	if j, err = Start(cfg); err != nil {
		t.Fatalf("restart of the joined member: %v", err)
	}
	defer j.Close()
	if getAuditJSON(t, j, "/v1/audit/verify", &rep); !rep.OK || rep.Joins != 1 {
		t.Fatalf("joined member's history after a restart: %+v", rep)
	}
}
