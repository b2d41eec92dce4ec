package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/api"
)

// TestLeaveOnTerminate: a spookd started with --leave-on-terminate
// leaves the cluster on SIGTERM before it stops; the other member then
// shows it as left, and a node started without the flag would not.
func TestLeaveOnTerminate(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	a, b := freePort(t), freePort(t)
	peers := "--peers=a=" + a + ",b=" + b
	pa := startSpookd(t, a, "--node-id", "a", peers, "--log-level", "warn")
	defer pa.kill()
	pb := startSpookd(t, b, "--node-id", "b", peers, "--log-level", "info", "--leave-on-terminate")
	defer pb.kill()
	state := func() string {
		resp, err := http.Get("http://" + a + "/v1/status")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var st api.Status
		json.NewDecoder(resp.Body).Decode(&st)
		for _, m := range st.Members {
			if m.Name == "b" {
				return m.State
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for state() != "alive" {
		if time.Now().After(deadline) {
			t.Fatalf("b never alive on a: %q\n%s", state(), pa.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pb.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-pb.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("b did not stop after SIGTERM\n%s", pb.logs)
	}
	if st := state(); st != "left" {
		t.Fatalf("after b's SIGTERM a shows b as %q\n%s", st, pb.logs)
	}
	if !strings.Contains(pb.logs.String(), "left the cluster") {
		t.Fatalf("b's log does not say it left:\n%s", pb.logs)
	}
}

// TestTerminateRightAfterStart: a SIGTERM that arrives as soon as the
// node accepts connections is handled (the node shuts down and exits 0),
// not the default action that kills the process unclosed: spookd must
// take the signals before it starts serving. The node listens first and
// then replays its log, so the test gives it a log to replay (20,000
// writes, below a snapshot) to make that window wide, and signals the
// moment the port answers.
func TestTerminateRightAfterStart(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	addr, data := freePort(t), t.TempDir()
	args := []string{"--node-id", "a", "--data", data, "--log-level", "info"}
	p := startSpookd(t, addr, args...)
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 20_000; i += 500 {
		if _, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for j := i; j < i+500; j++ {
				pl.Set(ctx, fmt.Sprint("k", j), j, 0)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	p.kill()
	for i := range 3 {
		p = startSpookd(t, addr, args...)
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.kill()
			t.Fatalf("start %d: spookd did not stop after SIGTERM\n%s", i, p.logs)
		}
		if !p.cmd.ProcessState.Success() || !strings.Contains(p.logs.String(), "shutting down") {
			t.Fatalf("start %d: SIGTERM right after start: %v, not a clean shutdown\n%s", i, p.cmd.ProcessState, p.logs)
		}
	}
}
