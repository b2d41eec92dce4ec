package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/node"
)

// TestUpServesRedisClients runs the quick start as a user would: a
// 3-node cluster, a SET on the first node read back from the second.
func TestUpServesRedisClients(t *testing.T) {
	// up checks all its ports before starting anything, so when another
	// test happens to hold one of three consecutive ports, try another
	// base (bounded: 20 attempts).
	var (
		stop  chan struct{}
		out   bytes.Buffer
		done  chan error
		addrs []string
	)
	for attempt := 0; addrs == nil; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if base > 65000 {
			base = 40000 + attempt*7
		}
		stop, done = make(chan struct{}), make(chan error, 1)
		ready := make(chan []string, 1)
		out.Reset()
		go func() {
			done <- up(upOptions{nodes: 3, basePort: base, mem: true, fsync: "batch", out: &out,
				stop: stop, ready: func(a []string) { ready <- a }})
		}()
		select {
		case addrs = <-ready:
		case err := <-done:
			if strings.Contains(err.Error(), "is not free") && attempt < 20 {
				continue
			}
			t.Fatalf("up failed: %v\n%s", err, out.String())
		case <-time.After(30 * time.Second):
			t.Fatal("cluster not ready in 30s")
		}
	}
	ctx := context.Background()
	c1 := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2})
	c2 := redis.NewClient(&redis.Options{Addr: addrs[1], Protocol: 2})
	defer c1.Close()
	defer c2.Close()
	if err := c1.Set(ctx, "hello", "world", 0).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c2.Get(ctx, "hello").Result()
		if err == nil && v == "world" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET hello on node 2 = %q, %v", v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Starting 3 Spook nodes", "[3/3] n3", "redis-cli -p", "Stopped."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestUpClusterKey: spook up makes a cluster key for its nodes, keeps it
// under --data (mode 0600) for a restart and for other nodes
// (--cluster-key-file), and reuses it.
func TestUpClusterKey(t *testing.T) {
	dir := t.TempDir()
	key, file, err := upClusterKey(upOptions{data: dir})
	if err != nil || len(key) != node.ClusterKeyBytes || file != filepath.Join(dir, upKeyFile) {
		t.Fatalf("key of %d bytes in %q: %v", len(key), file, err)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v", err)
	}
	again, _, err := upClusterKey(upOptions{data: dir})
	if err != nil || !bytes.Equal(again, key) {
		t.Fatal("a second run made another key")
	}
	mem, file, err := upClusterKey(upOptions{data: dir, mem: true})
	if err != nil || file != "" || len(mem) != node.ClusterKeyBytes || bytes.Equal(mem, key) {
		t.Fatalf("in-memory key: %q %v", file, err)
	}
}

// TestUpKernelPorts: --base-port 0 gives every node its own port chosen
// by the kernel, and --nodes is bounded by MaxUpNodes.
func TestUpKernelPorts(t *testing.T) {
	addrs, err := upAddrs(upOptions{nodes: 12})
	if err != nil || len(addrs) != 12 {
		t.Fatalf("upAddrs: %v %v", addrs, err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") || port(a) == "0" || seen[a] {
			t.Fatalf("address %q in %v", a, addrs)
		}
		seen[a] = true
	}
	err = up(upOptions{nodes: MaxUpNodes + 1, mem: true, fsync: "batch", out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "give 1 to 64") {
		t.Fatalf("--nodes %d: %v", MaxUpNodes+1, err)
	}
}

// TestUpRegions: --regions K spreads the nodes over r1..rK round-robin,
// every node learns every member's region, and --regions above --nodes
// is refused.
func TestUpRegions(t *testing.T) {
	if got := []string{upRegion(0, 2), upRegion(1, 2), upRegion(2, 2), upRegion(3, 0)}; strings.Join(got, ",") != "r1,r2,r1," {
		t.Fatalf("upRegion: %q", got)
	}
	err := up(upOptions{nodes: 2, regions: 3, mem: true, fsync: "batch", out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "--regions 3") {
		t.Fatalf("--regions 3 with 2 nodes: %v", err)
	}
	var out bytes.Buffer
	stop, done, ready := make(chan struct{}), make(chan error, 1), make(chan []string, 1)
	go func() {
		done <- up(upOptions{nodes: 3, regions: 2, mem: true, fsync: "batch", out: &out,
			stop: stop, ready: func(a []string) { ready <- a }})
	}()
	var addrs []string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("up failed: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("cluster not ready in 30s")
	}
	c := redis.NewClient(&redis.Options{Addr: addrs[2], Protocol: 2})
	defer c.Close()
	want := []string{"region:r1", "name=n1,", "region=r1", "name=n2,", "region=r2"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(context.Background(), "spook").Result()
		missing := ""
		for _, w := range want {
			if !strings.Contains(info, w) {
				missing = w
			}
		}
		// n2's line names its region once its record arrived.
		if err == nil && missing == "" && strings.Contains(info, "name=n2,addr="+addrs[1]+",region=r2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO spook on n3 lacks %q (%v):\n%s", missing, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "n2  redis://") || !strings.Contains(out.String(), "region r2") {
		t.Errorf("output does not name the regions:\n%s", out.String())
	}
}
