package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/limits"
)

// startDiskCluster runs n spookd on loopback with data directories and
// the given fsync policy; it returns the processes and their directories.
func startDiskCluster(t *testing.T, n int, fsync string) ([]*process, []string, []string) {
	t.Helper()
	var addrs, peers, dirs []string
	for i := 0; i < n; i++ {
		a := freePort(t)
		addrs = append(addrs, a)
		peers = append(peers, fmt.Sprintf("n%d=%s", i+1, a))
		dirs = append(dirs, filepath.Join(t.TempDir(), fmt.Sprint("n", i+1)))
	}
	var procs []*process
	var args [][]string
	for i, a := range addrs {
		arg := []string{"--node-id", fmt.Sprint("n", i+1), "--peers", strings.Join(peers, ","),
			"--data", dirs[i], "--fsync", fsync, "--log-level", "warn"}
		p := startSpookd(t, a, arg...)
		t.Cleanup(p.kill)
		procs = append(procs, p)
		args = append(args, arg)
	}
	return procs, dirs, flatArgs(args)
}

func flatArgs(a [][]string) []string {
	var out []string
	for _, x := range a {
		out = append(out, strings.Join(x, "\x00"))
	}
	return out
}

func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
}

// TestLargeWritesAreRefusedOrReplicated is defect 1 of the driver issue: a
// SET of exactly 16 MiB (and a MULTI of two 9 MiB values) was acknowledged
// under --fsync batch, then the log refused the record and the node stayed
// read-only for good, the value lost. Such a write must be refused before
// it is acknowledged, or be persisted and replicated; either way the node
// stays writable.
func TestLargeWritesAreRefusedOrReplicated(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	procs, _, args := startDiskCluster(t, 2, "batch")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c1, c2 := client(procs[0].addr), client(procs[1].addr)
	defer c1.Close()
	defer c2.Close()

	big := bytes.Repeat([]byte("x"), 16<<20)
	nine := bytes.Repeat([]byte("y"), 9<<20)
	var accepted []string
	if err := c1.Set(ctx, "big", big, 0).Err(); err == nil {
		accepted = append(accepted, "big")
	} else if !isReply(err) {
		t.Fatalf("SET of 16 MiB: %v (want OK or an error reply)", err)
	} else {
		t.Logf("SET of 16 MiB refused: %v", err)
	}
	_, err := c1.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "nine-a", nine, 0)
		p.Set(ctx, "nine-b", nine, 0)
		return nil
	})
	if err == nil {
		accepted = append(accepted, "nine-a", "nine-b")
	} else if !isReply(err) {
		t.Fatalf("MULTI of two 9 MiB values: %v (want OK or an error reply)", err)
	} else {
		t.Logf("MULTI of two 9 MiB values refused: %v", err)
	}

	// The largest value the limits table admits is taken and replicated;
	// a transaction of two 7 MiB values may be refused (over the
	// transaction limit) but never acknowledged and lost.
	largest := bytes.Repeat([]byte("z"), limits.MaxValueBytes)
	if err := c1.Set(ctx, "largest", largest, 0).Err(); err != nil {
		t.Fatalf("SET of limits.MaxValueBytes (%d bytes) refused: %v", limits.MaxValueBytes, err)
	}
	accepted = append(accepted, "largest")
	seven := bytes.Repeat([]byte("s"), 7<<20)
	_, err = c1.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "seven-a", seven, 0)
		p.Set(ctx, "seven-b", seven, 0)
		return nil
	})
	switch {
	case err == nil:
		accepted = append(accepted, "seven-a", "seven-b")
	case !isReply(err):
		t.Fatalf("MULTI of two 7 MiB values: %v (want OK or an error reply)", err)
	default:
		t.Logf("MULTI of two 7 MiB values refused: %v", err)
	}

	// The node stays writable, whatever it decided.
	if err := c1.Set(ctx, "after", "1", 0).Err(); err != nil {
		t.Fatalf("the node is not writable after the large writes: %v\n%s", err, procs[0].logs)
	}
	// What was acknowledged replicates...
	for _, k := range append(accepted, "after") {
		waitValue(t, ctx, c2, k)
	}
	// ...and survives a restart of the node that took it.
	procs[0].cmd.Process.Signal(syscall.SIGTERM)
	<-procs[0].done
	restarted := startSpookd(t, procs[0].addr, strings.Split(args[0], "\x00")...)
	t.Cleanup(restarted.kill)
	c1b := client(procs[0].addr)
	defer c1b.Close()
	for _, k := range append(accepted, "after") {
		waitValue(t, ctx, c1b, k)
	}
	if err := c1b.Set(ctx, "after-restart", "1", 0).Err(); err != nil {
		t.Fatalf("not writable after restart: %v\n%s", err, restarted.logs)
	}
}

// isReply reports whether err is an error reply from the server (not a
// broken connection or a timeout).
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// waitValue waits until key exists on c (bounded by ctx).
func waitValue(t *testing.T, ctx context.Context, c *redis.Client, key string) {
	t.Helper()
	for {
		n, err := c.Exists(ctx, key).Result()
		if err == nil && n == 1 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never appeared on %s (last: %d %v)", key, c.Options().Addr, n, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
