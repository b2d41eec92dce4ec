package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestAuditRetention runs spookd in audit mode with --audit-retention
// checkpoints=1 applied every 200 ms, writes in rounds until retention
// has written its base, and checks with the spook CLI that verify (online
// and offline) still says ok=true and names the range of records it read,
// and that a proof of a transaction retention dropped fails saying so.
func TestAuditRetention(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	spook := build(t, "spook")
	keys, dir, addr := t.TempDir(), t.TempDir(), freePort(t)
	if out, err := exec.Command(spook, "audit", "keygen", "n1", "--data", dir, "--keys", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	p := startSpookd(t, addr, "--node-id", "n1", "--data", dir, "--audit-keys", keys, "--log-level", "warn",
		"--audit-retention", "checkpoints=1", "--audit-retention-interval", "200ms")
	t.Cleanup(p.kill)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer c.Close()
	var rep struct {
		OK         bool
		BaseRecord uint64 `json:"base_record"`
		Error      string
	}
	for round := 0; rep.BaseRecord == 0; round++ {
		for j := 0; j < 5; j++ {
			if err := c.Set(ctx, fmt.Sprintf("k%d-%d", round, j), "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.IncrBy(ctx, "ctr", 1).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/v1/audit/verify")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&rep)
		resp.Body.Close()
		if err != nil || !rep.OK {
			t.Fatalf("online verify: %+v %v", rep, err)
		}
		if ctx.Err() != nil {
			t.Fatal("retention never wrote its base")
		}
	}
	out, err := exec.Command(spook, "audit", "verify", "--addr", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok=true") || !strings.Contains(string(out), "range records=") {
		t.Fatalf("spook audit verify --addr: %v\n%s", err, out)
	}
	out, err = exec.Command(spook, "audit", "proof", "k0-0", "--addr", addr).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dropped by retention") {
		t.Fatalf("proof of a dropped transaction: %v\n%s", err, out)
	}
	out, err = exec.Command(spook, "audit", "proof", "ctr", "--addr", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "type counter") || !strings.Contains(string(out), "complete=false") {
		t.Fatalf("proof of a counter under retention: %v\n%s", err, out)
	}
	p.kill()
	out, err = exec.Command(spook, "audit", "verify", "--data", dir, "--keys", keys).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok=true") || !strings.Contains(string(out), "range records=") {
		t.Fatalf("spook audit verify --data: %v\n%s", err, out)
	}
	t.Logf("offline: %s", strings.TrimSpace(string(out)))
}
