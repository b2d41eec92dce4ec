package test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRemovedMemberIsNoSilentIsland is issue 12 item 4: an operator
// removes k3 while it runs. k3 must learn it, refuse writes with a clear
// error (RESP -REMOVED, HTTP 410 removed), fail /readyz and log how to
// rejoin; restarted on its data directory it must stay removed; and that
// directory reopened under another --node-id or --cluster must refuse
// to start, naming both (issue 14 item 16).
func TestRemovedMemberIsNoSilentIsland(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir := t.TempDir()
	keyFile := writeClusterKey(t, dir, "cluster.key")
	var addrs, peers []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, freePort(t))
		peers = append(peers, fmt.Sprintf("k%d=%s", i+1, addrs[i]))
	}
	args := func(i int) []string {
		return []string{"--node-id", fmt.Sprint("k", i+1), "--cluster", "keyed", "--peers", strings.Join(peers, ","),
			"--cluster-key-file", keyFile, "--token", "tok123", "--data", filepath.Join(dir, fmt.Sprint("k", i+1)),
			"--tick", "20ms", "--log-level", "info"}
	}
	var procs []*process
	for i, a := range addrs {
		p := startSpookd(t, a, args(i)...)
		t.Cleanup(p.kill)
		procs = append(procs, p)
	}
	ctx := context.Background()
	c3 := redis.NewClient(&redis.Options{Addr: addrs[2], Protocol: 2, MaxRetries: -1})
	defer c3.Close()
	waitFor(t, 10*time.Second, "k3 ready and writable", func() bool {
		status, _, _ := httpDo("GET", "http://"+addrs[2]+"/readyz")
		return status == 200 && c3.Set(ctx, "before", "x", 0).Err() == nil
	})

	if status, body, err := httpDo("DELETE", "http://"+addrs[0]+"/v1/members/k3"); err != nil || status != 200 {
		t.Fatalf("remove k3: %d %s %v", status, body, err)
	}
	removed := func(what string) {
		t.Helper()
		var last error
		waitFor(t, 10*time.Second, what+": writes refused with -REMOVED", func() bool {
			last = c3.Set(ctx, "after", "x", 0).Err()
			return last != nil && strings.HasPrefix(last.Error(), `REMOVED this node was removed from cluster keyed at 20`)
		})
		if status, body, _ := httpDo("PUT", "http://"+addrs[2]+"/v1/kv/after"); status != 410 || !strings.Contains(body, `"removed"`) {
			t.Fatalf("%s: HTTP write answered %d %s, want 410 removed", what, status, body)
		}
		if status, _, _ := httpDo("GET", "http://"+addrs[2]+"/readyz"); status == 200 {
			t.Fatalf("%s: /readyz still 200", what)
		}
	}
	removed("live")
	waitFor(t, 5*time.Second, "k3 logs how to rejoin", func() bool {
		return strings.Contains(procs[2].logs.String(), "To rejoin")
	})

	// Restarted on its data directory, it stays removed, even with no
	// member to tell it (the others are stopped).
	procs[2].kill()
	procs[0].kill()
	procs[1].kill()
	p3 := startSpookd(t, addrs[2], args(2)...)
	t.Cleanup(p3.kill)
	defer func() {
		if t.Failed() {
			t.Logf("k3 restarted:\n%s", p3.logs)
		}
	}()
	removed("restarted")
	p3.kill()

	// The directory is k3's, of cluster keyed: another name or cluster
	// is refused, naming both.
	for _, tc := range []struct{ flag, value, want string }{
		{"--node-id", "k3b", `"k3b"`},
		{"--cluster", "other", `"other"`},
	} {
		a := args(2)
		for i := range a {
			if a[i] == tc.flag {
				a[i+1] = tc.value
			}
		}
		out := startSpookdExpectExit(t, addrs[2], a...)
		if !strings.Contains(out, `"k3"`) || !strings.Contains(out, `"keyed"`) || !strings.Contains(out, tc.want) {
			t.Fatalf("%s %s: the refusal does not name both identities:\n%s", tc.flag, tc.value, out)
		}
	}
}

// waitFor polls cond every 20 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
