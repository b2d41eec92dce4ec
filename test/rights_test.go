package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAuditWriteRights runs three audited nodes sharing an operator key
// (spook audit policy keygen), signs and applies a policy that gives n1
// only "a/" (spook audit policy sign, apply), and checks: n1's client
// gets -NOPERM for a write outside "a/" and nothing is written; a policy
// signed by another key is refused by apply; and n3, a misconfigured
// member started without the operator key (so it does not check its own
// writes), gets its write outside its rights refused by n1 and n2
// (event rights-refused, counted in /metrics) and never applied there.
func TestAuditWriteRights(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	spook := build(t, "spook")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(spook, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("spook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	keys, work := t.TempDir(), t.TempDir()
	var addrs, peers, dirs []string
	for i := 1; i <= 3; i++ {
		a := freePort(t)
		addrs, dirs = append(addrs, a), append(dirs, t.TempDir())
		peers = append(peers, fmt.Sprintf("n%d=%s", i, a))
		run("audit", "keygen", fmt.Sprint("n", i), "--data", dirs[i-1], "--keys", keys)
	}
	// n3's keys directory lacks the operator key: it enforces nothing.
	keysN3 := t.TempDir()
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(filepath.Join(keys, fmt.Sprintf("n%d.pub", i)))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(keysN3, fmt.Sprintf("n%d.pub", i)), b, 0o644)
	}
	opKey := filepath.Join(work, "op.key")
	run("audit", "policy", "keygen", "--out", opKey, "--keys", keys)
	draft := filepath.Join(work, "policy.txt")
	os.WriteFile(draft, []byte("spook-policy v1\n# n1 writes a/ only\nversion 1\nnode n3 \"a/\"\nnode n1 \"a/\"\nnode n2 \"\"\n"), 0o644)
	signed := filepath.Join(work, "policy.signed")
	os.WriteFile(signed, []byte(run("audit", "policy", "sign", "--key", opKey, "--cluster", "spook", draft)), 0o644)

	var procs []*process
	for i, a := range addrs {
		k := keys
		if i == 2 {
			k = keysN3
		}
		p := startSpookd(t, a, "--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", dirs[i], "--audit-keys", k, "--log-level", "warn")
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if out := run("audit", "policy", "apply", signed, "--addr", addrs[1]); !strings.Contains(out, "applied policy version 1") {
		t.Fatalf("apply: %s", out)
	}
	// A policy signed by another key: refused.
	intruder := filepath.Join(work, "intruder.key")
	run("audit", "policy", "keygen", "--out", intruder, "--keys", t.TempDir())
	os.WriteFile(draft, []byte("spook-policy v1\nversion 2\nnode n1 \"\"\n"), 0o644)
	forged := filepath.Join(work, "forged.signed")
	os.WriteFile(forged, []byte(run("audit", "policy", "sign", "--key", intruder, "--cluster", "spook", draft)), 0o644)
	if out, err := exec.Command(spook, "audit", "policy", "apply", forged, "--addr", addrs[0]).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "bad policy signature") {
		t.Fatalf("apply of a forged policy: %v\n%s", err, out)
	}
	// A policy the operator signed for another cluster: refused by the
	// CLI before sending, and by the node when sent anyway.
	elsewhere := filepath.Join(work, "elsewhere.signed")
	os.WriteFile(elsewhere, []byte(run("audit", "policy", "sign", "--key", opKey, "--cluster", "other", draft)), 0o644)
	if out, err := exec.Command(spook, "audit", "policy", "apply", elsewhere, "--addr", addrs[0]).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), `is for cluster "other", the node is of cluster "spook"`) {
		t.Fatalf("apply of another cluster's policy: %v\n%s", err, out)
	}
	doc, _ := os.ReadFile(elsewhere)
	resp, perr := http.Post("http://"+addrs[0]+"/v1/audit/policy", "text/plain", bytes.NewReader(doc))
	if perr != nil {
		t.Fatal(perr)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 == 2 || !strings.Contains(string(reply), "policy for another cluster") {
		t.Fatalf("POST of another cluster's policy: %s %s", resp.Status, reply)
	}

	// Wait (bounded) until n1 holds the policy.
	for !strings.Contains(policyOf(addrs[0]), "version 1") {
		if ctx.Err() != nil {
			t.Fatalf("n1 never got the policy: %q", policyOf(addrs[0]))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c1 := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2})
	defer c1.Close()
	if err := c1.Set(ctx, "a/ok", "1", 0).Err(); err != nil {
		t.Fatalf("n1 write within its rights: %v", err)
	}
	err := c1.Set(ctx, "b/x", "no", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("n1 write outside its rights: %v, want NOPERM", err)
	}
	if v, err := c1.Get(ctx, "b/x").Result(); err != redis.Nil {
		t.Fatalf("b/x on n1 = %q, %v: written without rights", v, err)
	}

	// The misconfigured n3 accepts its client's write; n1 and n2 refuse it.
	c3 := redis.NewClient(&redis.Options{Addr: addrs[2], Protocol: 2})
	defer c3.Close()
	// n3 must have the policy in its causal past: wait for a write n2
	// made after it.
	c2 := redis.NewClient(&redis.Options{Addr: addrs[1], Protocol: 2})
	defer c2.Close()
	if err := c2.Set(ctx, "marker", "after the policy", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for c3.Get(ctx, "marker").Val() != "after the policy" {
		if ctx.Err() != nil {
			t.Fatal("n3 never got n2's write")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c3.Set(ctx, "b/from-n3", "forged", 0).Err(); err != nil {
		t.Fatalf("n3 (not enforcing) refused its client: %v", err)
	}
	for _, a := range addrs[:2] {
		for !strings.Contains(metricsOf(a), `spook_events_total{type="rights-refused"} 1`) {
			if ctx.Err() != nil {
				t.Fatalf("%s never refused n3's write:\n%s", a, metricsOf(a))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c := redis.NewClient(&redis.Options{Addr: a, Protocol: 2})
		v, err := c.Get(ctx, "b/from-n3").Result()
		c.Close()
		if err != redis.Nil {
			t.Fatalf("%s applied n3's write outside its rights: %q %v", a, v, err)
		}
	}
}

func policyOf(addr string) string { return httpText("http://" + addr + "/v1/audit/policy") }

func metricsOf(addr string) string { return httpText("http://" + addr + "/metrics") }

func httpText(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
