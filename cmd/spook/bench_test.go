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
			duration: 10 * time.Second, ops: 2400, prefix: DefaultBenchPrefix})
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
		ks.Range([]byte(DefaultBenchPrefix+"counter:"), func(key []byte, v *crdt.Value) bool {
			if !strings.HasPrefix(string(key), DefaultBenchPrefix+"counter:") {
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

// TestBenchKeepsToItsPrefix: every key spook bench writes is under its
// prefix, and --cleanup deletes them all.
func TestBenchKeepsToItsPrefix(t *testing.T) {
	backend := apitest.New("bench")
	defer backend.Close()
	srv := resp.New(backend, resp.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	o := benchOptions{addr: ln.Addr().String(), workload: "set", clients: 2, pipeline: 8,
		duration: 10 * time.Second, ops: 800, prefix: "mine/"}
	if _, err := bench(o); err != nil {
		t.Fatal(err)
	}
	count := func() (under, other int) {
		backend.View(func(ks *crdt.Keyspace) error {
			ks.Range(nil, func(key []byte, v *crdt.Value) bool {
				if strings.HasPrefix(string(key), "mine/") {
					under++
				} else if key[0] != 0 {
					other++
				}
				return true
			})
			return nil
		})
		return
	}
	if under, other := count(); under == 0 || other != 0 {
		t.Fatalf("%d keys under the prefix, %d elsewhere", under, other)
	}
	deleted, err := benchCleanup(o)
	if under, _ := count(); err != nil || under != 0 || deleted == 0 {
		t.Fatalf("cleanup deleted %d, left %d: %v", deleted, under, err)
	}
}

func TestBenchResultSeparatesThousands(t *testing.T) {
	r := benchResult{opts: benchOptions{workload: "set", clients: 16, pipeline: 16}, ops: 2_061_725, elapsed: 5 * time.Second}
	if s := r.String(); !strings.Contains(s, "412,345 ops/s") {
		t.Fatalf("%s", s)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}
