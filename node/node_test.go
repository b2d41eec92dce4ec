package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// freeAddrs reserves n loopback ports. A port could in principle be taken
// between this and the node's Listen; on a test machine that does not
// happen in practice, and a clash fails loudly at Start.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	var addrs []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return addrs
}

// testConfig is a fast-ticking node config for tests.
func testConfig(name, addr string, members []replica.Peer, dir string) Config {
	return Config{
		Name: name, Listen: addr, Members: members, DataDir: dir,
		TickInterval: 10 * time.Millisecond,
		Fsync:        storage.SyncAlways,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// startCluster starts size nodes that know each other from the start.
func startCluster(t *testing.T, size int, withDisk bool) ([]*Node, []Config) {
	t.Helper()
	addrs := freeAddrs(t, size)
	var members []replica.Peer
	for i, a := range addrs {
		members = append(members, replica.Peer{Name: fmt.Sprintf("n%d", i+1), Addr: a})
	}
	var nodes []*Node
	var cfgs []Config
	for i, a := range addrs {
		dir := ""
		if withDisk {
			dir = t.TempDir()
		}
		cfg := testConfig(fmt.Sprintf("n%d", i+1), a, members, dir)
		n, err := Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		cfgs = append(cfgs, cfg)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	return nodes, cfgs
}

func client(t *testing.T, n *Node) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2})
	t.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond every 10 ms until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 10s: %s", what, detail)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThreeNodesReplicateOverRESP(t *testing.T) {
	nodes, _ := startCluster(t, 3, true)
	ctx := context.Background()
	c1, c2, c3 := client(t, nodes[0]), client(t, nodes[1]), client(t, nodes[2])
	if err := c1.Set(ctx, "hello", "world", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := c2.Incr(ctx, "hits").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c3.SAdd(ctx, "tags", fmt.Sprint("t", i%7)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range []*redis.Client{c1, c2, c3} {
		eventually(t, fmt.Sprintf("node %d converges", i+1), func() (bool, string) {
			v, err := c.Get(ctx, "hello").Result()
			hits, _ := c.Get(ctx, "hits").Int()
			tags, _ := c.SCard(ctx, "tags").Result()
			return err == nil && v == "world" && hits == 50 && tags == 7,
				fmt.Sprintf("hello=%q (%v) hits=%d tags=%d", v, err, hits, tags)
		})
	}
	// Equal states have equal hashes.
	eventually(t, "state hashes equal", func() (bool, string) {
		h := []string{nodes[0].Status().StateHash, nodes[1].Status().StateHash, nodes[2].Status().StateHash}
		return h[0] == h[1] && h[1] == h[2], fmt.Sprint(h)
	})
	// WAIT for every other member: the write collapses. SET and WAIT go in
	// one pipeline, so on one connection: WAIT waits for that connection's
	// last write.
	var wait *redis.Cmd
	if _, err := c1.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", 0)
		wait = p.Do(ctx, "WAIT", 2, 5000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := wait.Int()
	if err != nil || got != 2 {
		t.Fatalf("WAIT 2 = %d, %v; want 2", got, err)
	}
}

func TestRestartKeepsAcknowledgedWrites(t *testing.T) {
	addrs := freeAddrs(t, 1)
	dir := t.TempDir()
	cfg := testConfig("solo", addrs[0], nil, dir)
	cfg.SnapshotEveryRecords = 40 // exercise snapshot + log tail on restart
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2})
	for i := 0; i < 100; i++ {
		if err := c.Set(ctx, fmt.Sprint("k", i), fmt.Sprint("v", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Incr(ctx, "count").Err(); err != nil {
			t.Fatal(err)
		}
	}
	hash := n.Status().StateHash
	c.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Status().StateHash; got != hash {
		t.Fatalf("state hash after restart %s, before %s", got, hash)
	}
	c = redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2})
	defer c.Close()
	if v, err := c.Get(ctx, "k99").Result(); err != nil || v != "v99" {
		t.Fatalf("k99 = %q, %v", v, err)
	}
	if v, err := c.Get(ctx, "count").Int(); err != nil || v != 100 {
		t.Fatalf("count = %d, %v", v, err)
	}
	// New writes after the restart get fresh dots (no reuse).
	if err := c.Incr(ctx, "count").Err(); err != nil {
		t.Fatal(err)
	}
}

// TestJoinAndRestartWhileCutOff starts a two-node cluster, joins a third
// node through one member's address, checks it gets the data and accepts
// writes that reach the others, then restarts it from its data directory
// while the member it joined through is down.
func TestJoinAndRestartWhileCutOff(t *testing.T) {
	nodes, _ := startCluster(t, 2, true)
	ctx := context.Background()
	c1 := client(t, nodes[0])
	if err := c1.Set(ctx, "before-join", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddrs(t, 1)[0]
	cfg := testConfig("joiner", addr, nil, t.TempDir())
	cfg.Join = []string{nodes[0].Addr()}
	j, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cj := redis.NewClient(&redis.Options{Addr: j.Addr(), Protocol: 2})
	eventually(t, "the joiner has the cluster's data and accepts writes", func() (bool, string) {
		v, err := cj.Get(ctx, "before-join").Result()
		if err != nil || v != "x" {
			return false, fmt.Sprintf("GET before-join = %q, %v; ready: %v", v, err, j.ready())
		}
		return cj.Set(ctx, "from-joiner", "y", 0).Err() == nil, "SET refused"
	})
	eventually(t, "the joiner's write reaches a member", func() (bool, string) {
		v, _ := c1.Get(ctx, "from-joiner").Result()
		return v == "y", v
	})
	cj.Close()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	nodes[0].Close() // the address it joined through is gone
	j, err = Start(cfg)
	if err != nil {
		t.Fatalf("a joined node must restart from its data directory while cut off: %v", err)
	}
	defer j.Close()
	cj = redis.NewClient(&redis.Options{Addr: j.Addr(), Protocol: 2})
	defer cj.Close()
	if v, err := cj.Get(ctx, "from-joiner").Result(); err != nil || v != "y" {
		t.Fatalf("after restart: GET from-joiner = %q, %v", v, err)
	}
}
