package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/crdt"
)

// TestBenchDrivesARESPServer runs spook bench's load against a real RESP
// server (over the in-memory backend) and checks the counts add up.
func TestBenchDrivesARESPServer(t *testing.T) {
	backend := apitest.New("bench")
	defer backend.Close()
	srv := resp.New(backend, resp.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	incrOps := int64(0)
	for _, w := range []string{"set", "incr", "mixed"} {
		r, err := bench(benchOptions{addr: ln.Addr().String(), workload: w, clients: 3, pipeline: 8,
			duration: 10 * time.Second, ops: 2400})
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if r.ops < 2400 || r.ops > 2400+3*8 || r.p50 <= 0 || r.p99 < r.p50 {
			t.Fatalf("%s: %d ops, p50 %v p99 %v", w, r.ops, r.p50, r.p99)
		}
		if !strings.Contains(r.String(), "ops/s") {
			t.Fatalf("result line: %s", r)
		}
		if w == "incr" {
			incrOps = r.ops
		}
	}
	// Every acknowledged INCR landed: the counters sum to the ops counted.
	var sum int64
	backend.View(func(ks *crdt.Keyspace) error {
		ks.Range([]byte("counter:"), func(key []byte, v *crdt.Value) bool {
			if !strings.HasPrefix(string(key), "counter:") {
				return false
			}
			n, _ := v.Counter()
			sum += n
			return true
		})
		return nil
	})
	if sum != incrOps {
		t.Fatalf("counters sum to %d, spook bench counted %d INCRs", sum, incrOps)
	}
}
