package test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// joinStateBytes is the state a new node joins in TestLargeStateJoins:
// above the 256 MiB at which a join never completed before snapshots
// were pulled in chunks (defect 3 of the driver issue).
const joinStateBytes = 300 << 20

// TestLargeStateJoins: a node joins a cluster holding 300 MiB of state
// within 60 s while the cluster takes writes, and ends with every key.
func TestLargeStateJoins(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 300 MiB into real processes")
	}
	procs := startCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c1 := redis.NewClient(&redis.Options{Addr: procs[0].addr, Protocol: 2, ReadTimeout: time.Minute})
	defer c1.Close()

	const valueBytes = 1 << 20
	keys := joinStateBytes / valueBytes
	value := bytes.Repeat([]byte("v"), valueBytes)
	for i := 0; i < keys; i += 16 {
		_, err := c1.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < min(i+16, keys); j++ {
				p.Set(ctx, fmt.Sprint("big/", j), value, 0)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("loading key %d: %v", i, err)
		}
	}

	// Writes go on during the join: bounded in count and time.
	stopWrites := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 100_000; i++ {
			select {
			case <-stopWrites:
				return
			case <-time.After(2 * time.Millisecond):
			}
			c1.Set(ctx, fmt.Sprint("during/", i%1000), i, 0)
		}
	}()
	defer func() { close(stopWrites); wg.Wait() }()

	joiner := freePort(t)
	started := time.Now()
	p3 := startSpookd(t, joiner, "--node-id", "n3", "--join", procs[0].addr, "--log-level", "warn")
	t.Cleanup(p3.kill)
	deadline := started.Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + joiner + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the joiner was not ready within 60 s of start (state %d MiB)\n%s", joinStateBytes>>20, p3.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("joined %d MiB in %v", joinStateBytes>>20, time.Since(started).Round(100*time.Millisecond))
	c3 := redis.NewClient(&redis.Options{Addr: joiner, Protocol: 2, ReadTimeout: time.Minute})
	defer c3.Close()
	for _, i := range []int{0, keys / 2, keys - 1} {
		got, err := c3.StrLen(ctx, fmt.Sprint("big/", i)).Result()
		if err != nil || got != valueBytes {
			t.Fatalf("joiner: big/%d has %d bytes (%v), want %d", i, got, err, valueBytes)
		}
	}
	if n, err := c3.DBSize(ctx).Result(); err != nil || n < int64(keys) {
		t.Fatalf("joiner holds %d keys (%v), want at least %d", n, err, keys)
	}
}
