package test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBundleBringsAnIsolatedNodeUpToDate runs two spookd that cannot reach
// each other, writes on one, and carries the writes to the other as a
// file with the spook CLI: vector on the isolated node, export on the
// other, import. Importing the same file again applies nothing.
func TestBundleBringsAnIsolatedNodeUpToDate(t *testing.T) {
	bundleToIsolatedNode(t, false)
}

// TestBundleAuditBringsAnIsolatedNodeUpToDate is the same with both
// nodes in audit mode (spook audit keygen, spookd --audit-keys): the
// bundle carries every transaction's seal or link, the isolated node
// applies all of it, and spook audit verify accepts its history.
func TestBundleAuditBringsAnIsolatedNodeUpToDate(t *testing.T) {
	bundleToIsolatedNode(t, true)
}

func bundleToIsolatedNode(t *testing.T, audit bool) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	spook := build(t, "spook")
	a, b := freePort(t), freePort(t)
	dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir()}
	var extra []string
	if audit {
		keys := t.TempDir()
		for _, name := range []string{"a", "b"} {
			if out, err := exec.Command(spook, "audit", "keygen", name, "--data", dirs[name], "--keys", keys).CombinedOutput(); err != nil {
				t.Fatalf("keygen: %v\n%s", err, out)
			}
		}
		extra = []string{"--audit-keys", keys}
	}
	peers := "--peers=a=127.0.0.1:1,b=127.0.0.1:2" // unreachable: only the file links them
	pa := startSpookd(t, a, append([]string{"--node-id", "a", "--advertise", "127.0.0.1:1", peers, "--log-level", "warn", "--data", dirs["a"]}, extra...)...)
	defer pa.kill()
	pb := startSpookd(t, b, append([]string{"--node-id", "b", "--advertise", "127.0.0.1:2", peers, "--log-level", "warn", "--data", dirs["b"]}, extra...)...)
	defer pb.kill()
	ctx := context.Background()
	ca := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
	cb := redis.NewClient(&redis.Options{Addr: b, Protocol: 2})
	defer ca.Close()
	defer cb.Close()
	for i := 0; i < 50; i++ {
		if err := ca.Set(ctx, fmt.Sprint("site/", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ca.SAdd(ctx, "tags", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vector, file := filepath.Join(dir, "b.vector"), filepath.Join(dir, "a-to-b.spkb")
	run := func(args ...string) string {
		out, err := exec.Command(spook, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("spook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("bundle", "vector", "--addr", b, "-o", vector)
	run("bundle", "export", "--addr", a, "--since", vector, "-o", file)
	if out := run("bundle", "import", "--addr", b, file); !strings.Contains(out, "51 transactions (51 applied now)") || strings.Contains(out, "refused") {
		t.Fatalf("first import: %s", out)
	}
	if out := run("bundle", "import", "--addr", b, file); !strings.Contains(out, "0 applied now") {
		t.Fatalf("second import of the same bundle applied something: %s", out)
	}
	if v, err := cb.Get(ctx, "site/49").Result(); err != nil || v != "49" {
		t.Fatalf("b: site/49 = %q, %v", v, err)
	}
	if n, err := cb.SCard(ctx, "tags").Result(); err != nil || n != 2 {
		t.Fatalf("b: SCARD tags = %d, %v", n, err)
	}
	// A truncated file is refused and changes nothing.
	cmd := exec.Command(spook, "bundle", "import", "--addr", b, vector) // not a bundle
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "bundle") {
		t.Fatalf("importing a non-bundle: err %v, output %s", err, out)
	}
	if audit {
		if out := run("audit", "verify", "--addr", b); !strings.Contains(out, "ok=true") {
			t.Fatalf("spook audit verify --addr b: %s", out)
		}
	}
}

// TestBundleExportFallsBackToState: after a restart a node's retained log
// starts at its restored state, so an export toward a fresh node (or with
// no --since at all) cannot be a list of transactions: it is a state
// bundle, and importing it gives the fresh node everything.
func TestBundleExportFallsBackToState(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	a, b := freePort(t), freePort(t)
	dataA := t.TempDir()
	argsA := []string{"--node-id", "a", "--peers", "a=" + a, "--log-level", "warn", "--data", dataA}
	pa := startSpookd(t, a, argsA...)
	ctx := context.Background()
	ca := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
	defer ca.Close()
	for i := 0; i < 20; i++ {
		if err := ca.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	terminate(t, pa) // a clean stop: every acknowledged write synced
	pa = startSpookd(t, a, argsA...)
	defer pa.kill()
	pb := startSpookd(t, b, "--node-id", "b", "--peers", "b="+b, "--log-level", "warn", "--data", t.TempDir())
	defer pb.kill()

	file := filepath.Join(t.TempDir(), "a.spkb")
	spook := build(t, "spook")
	out, err := exec.Command(spook, "bundle", "export", "--addr", a, "-o", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "exported a state bundle") {
		t.Fatalf("export without --since: %v\n%s", err, out)
	}
	out, err = exec.Command(spook, "bundle", "import", "--addr", b, file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "imported a state bundle") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	cb := redis.NewClient(&redis.Options{Addr: b, Protocol: 2})
	defer cb.Close()
	if v, err := cb.Get(ctx, "k19").Result(); err != nil || v != "19" {
		t.Fatalf("b: k19 = %q, %v (import said %s)", v, err, out)
	}
}

// terminate sends p SIGTERM and waits (bounded: 20 s) for it to exit; a
// node that does not is made to dump its goroutines (SIGQUIT) into the
// failure.
func terminate(t *testing.T, p *process) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.kill()
		}
		t.Fatalf("spookd did not stop within 20s of SIGTERM:\n%s", p.logs)
	}
}
