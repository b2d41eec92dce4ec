package test

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upNodes is the cluster size of TestUpManyNodes (SPOOK_UP_NODES raises
// it, up to cmd/spook's MaxUpNodes). 32 full-mesh nodes in one process
// hold 992 peer connections (about 2,000 descriptors) and about 250 MiB.
const upNodes = 32

var upNodeLine = regexp.MustCompile(`\[(\d+)/\d+\] n\d+  redis://(127\.0\.0\.1:\d+)`)

// TestUpManyNodes runs `spook up --nodes 32` as a real process, in memory
// on ports the kernel picks: a SET on the first node, WAIT for every
// other node, and the value read on the last one.
func TestUpManyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	n := envInt("SPOOK_UP_NODES", upNodes)
	logs := &safeBuffer{}
	cmd := exec.Command(build(t, "spook"), "up", "--nodes", strconv.Itoa(n), "--mem", "--base-port", "0")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
	}()
	start := time.Now()
	var addrs []string
	for deadline := start.Add(30 * time.Second); ; {
		if m := upNodeLine.FindAllStringSubmatch(logs.String(), -1); len(m) == n && strings.Contains(logs.String(), "Cluster up") {
			for _, x := range m {
				addrs = append(addrs, x[2])
			}
			break
		}
		select {
		case <-done:
			t.Fatalf("spook up exited: %v\n%s", cmd.ProcessState, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes not up within 30s\n%s", n, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d nodes up in %v", n, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	first, last := client(addrs[0]), client(addrs[n-1])
	defer first.Close()
	defer last.Close()
	conn := first.Conn()
	defer conn.Close()
	if err := conn.Set(ctx, "hello", "world", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waited := time.Now()
	got, err := conn.Wait(ctx, n-1, 10*time.Second).Result()
	if err != nil || got != int64(n-1) {
		t.Fatalf("WAIT %d 10000 = %d, %v\n%s", n-1, got, err, logs)
	}
	t.Logf("WAIT %d returned %d after %v", n-1, got, time.Since(waited).Round(time.Microsecond))
	if v, err := last.Get(ctx, "hello").Result(); err != nil || v != "world" {
		t.Fatalf("GET hello on n%d = %q, %v", n, v, err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("spook up did not stop within 10s of SIGINT\n%s", logs)
	}
}
