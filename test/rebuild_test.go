package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCorruptLogRefusesThenRebuildsFromPeers corrupts a record in the
// middle of a stopped node's log: the node must refuse to start, naming
// the file and offset; started with --rebuild-from-peers it moves the
// data aside, takes the cluster's state, and accepts writes again.
func TestCorruptLogRefusesThenRebuildsFromPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	a, b := freePort(t), freePort(t)
	dirA, dirB := t.TempDir(), filepath.Join(t.TempDir(), "b")
	peers := fmt.Sprintf("--peers=a=%s,b=%s", a, b)
	pa := startSpookd(t, a, "--node-id", "a", peers, "--data", dirA, "--fsync", "always", "--log-level", "warn")
	defer pa.kill()
	pb := startSpookd(t, b, "--node-id", "b", peers, "--data", dirB, "--fsync", "always", "--log-level", "warn")
	ctx := context.Background()
	ca := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
	defer ca.Close()
	cb := redis.NewClient(&redis.Options{Addr: b, Protocol: 2, MaxRetries: -1})
	for i := 0; i < 200; i++ {
		if err := cb.Set(ctx, fmt.Sprint("from-b/", i), strings.Repeat("x", 64), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := cb.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}
	cb.Close()
	pb.kill()

	// Flip one byte in the middle of b's log segment.
	segs, _ := filepath.Glob(filepath.Join(dirB, "log", "*.seg"))
	if len(segs) == 0 {
		t.Fatalf("no log segment in %s", dirB)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := startSpookdExpectExit(t, b, "--node-id", "b", peers, "--data", dirB, "--log-level", "warn")
	if !strings.Contains(refused, "corrupt") || !strings.Contains(refused, filepath.Base(segs[0])) || !strings.Contains(refused, "offset") {
		t.Fatalf("a corrupt log must refuse to start naming file and offset; got:\n%s", refused)
	}

	pb = startSpookd(t, b, "--node-id", "b", "--join", a, "--data", dirB, "--rebuild-from-peers", "--fsync", "always", "--log-level", "warn")
	defer pb.kill()
	cb = redis.NewClient(&redis.Options{Addr: b, Protocol: 2})
	defer cb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := cb.Get(ctx, "from-b/199").Result()
		if err == nil && v != "" {
			if err := cb.Set(ctx, "after-rebuild", "ok", 0).Err(); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("b did not rebuild from a: GET from-b/199 = %q, %v\n%s", v, err, pb.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// b's new write reaches a: its dot did not collide with its old ones.
	deadline = time.Now().Add(10 * time.Second)
	for {
		if v, _ := ca.Get(ctx, "after-rebuild").Result(); v == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a never saw b's write after the rebuild\nb: %s\na: %s", pb.logs, pa.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if aside, _ := filepath.Glob(dirB + ".discarded-*"); len(aside) != 1 {
		t.Fatalf("the corrupt data directory was not kept aside: %v", aside)
	}
}

// startSpookdExpectExit runs spookd expecting it to exit at once, and
// returns its output.
func startSpookdExpectExit(t *testing.T, addr string, args ...string) string {
	t.Helper()
	p := launch(t, addr, args...)
	select {
	case <-p.done:
		if p.cmd.ProcessState.Success() {
			t.Fatalf("spookd exited 0; want a refusal\n%s", p.logs)
		}
	case <-time.After(10 * time.Second):
		p.kill()
		t.Fatalf("spookd did not refuse to start within 10s\n%s", p.logs)
	}
	return p.logs.String()
}
