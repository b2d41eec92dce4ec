package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	rssMiB := procKiB(t, procs[0], "VmRSS") >> 10
	t.Logf("after %d writes of %d bytes with a member down: RSS %d MiB", writes, valueBytes, rssMiB)
	// 400 MiB went through; an unbounded log holds all of it (and more
	// in GC headroom). Bounded, the log is 64 MiB.
	if rssMiB > 320 {
		t.Fatalf("RSS %d MiB after %d MiB of writes with a member down: the retained log is not bounded", rssMiB, writes*valueBytes>>20)
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
