package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

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
// take the signals before it starts serving. Five starts, each signalled
// the moment its port answers.
func TestTerminateRightAfterStart(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	for i := range 5 {
		p := startSpookd(t, freePort(t), "--node-id", "a", "--log-level", "info")
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.kill()
			t.Fatalf("start %d: spookd did not stop after SIGTERM\n%s", i, p.logs)
		}
		if !p.cmd.ProcessState.Success() || !strings.Contains(p.logs.String(), "shutting down") {
			t.Fatalf("start %d: SIGTERM right after start: %v, not a clean shutdown\n%s", i, p.cmd.ProcessState, p.logs)
		}
	}
}
