package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/api"
)

// TestRetainedLogBoundedWithMemberDown is item 9 of the edge issue: with
// one member of three stopped, the retained log (kept to catch the member
// up) grew about 460 B per write without bound (2.2 GB in 55 s). Now it
// is bounded by replica.MaxRetainedBytes (64 MiB by default): the node's
// memory stays flat while 400 MiB of writes go by, and the member is
// reported as behind the log (it will be repaired by reconciliation).
func TestRetainedLogBoundedWithMemberDown(t *testing.T) {
	needAttack(t)
	procs := startCluster(t, 3)
	procs[2].kill()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: procs[0].addr, Protocol: 2, ReadTimeout: time.Minute})
	defer c.Close()

	const (
		writes     = 400_000
		valueBytes = 1 << 10
		keys       = 1000 // rewritten: the keyspace stays ~1 MiB
		pipeline   = 128
	)
	value := strings.Repeat("v", valueBytes)
	for i := 0; i < writes; i += pipeline {
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < i+pipeline; j++ {
				p.Set(ctx, fmt.Sprint("k", j%keys), value, 0)
			}
			return nil
		}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	// Judged by the Go heap in use, not by RSS: right after a 400 MiB
	// burst RSS still holds pages the collector has freed but the runtime
	// has not yet returned to the OS (it varied 245–378 MiB between runs
	// of one build), while the heap in use is live data plus at most one
	// GC cycle of garbage. 400 MiB went through; an unbounded log keeps
	// all of it live. Bounded, the log is 64 MiB.
	heapMiB := int(metric(t, procs[0].addr, "go_memstats_heap_inuse_bytes")) >> 20
	rssMiB := procKiB(t, procs[0], "VmRSS") >> 10
	t.Logf("after %d writes of %d bytes with a member down: heap in use %d MiB, RSS %d MiB", writes, valueBytes, heapMiB, rssMiB)
	if heapMiB > 320 {
		t.Fatalf("heap in use %d MiB after %d MiB of writes with a member down: the retained log is not bounded", heapMiB, writes*valueBytes>>20)
	}
	resp, err := http.Get("http://" + procs[0].addr + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Members {
		if m.Name == "n3" && !m.BehindLog {
			t.Fatalf("n3 is not reported behind the retained log: %+v", m)
		}
	}
}

// metric reads one unlabelled series from a node's /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in /metrics", name)
	return 0
}
