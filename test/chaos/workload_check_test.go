package chaos

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/crdt"
)

// workloadSteps is how many operations the single-node workload test
// issues: enough to draw every kind many times, a fraction of a second.
const workloadSteps = 1500

// singleNode serves an in-memory backend over RESP on 127.0.0.1 and
// returns a session on it (as the only member) and the backend.
func singleNode(t *testing.T) (*session, *apitest.Backend, func() *redis.Client) {
	t.Helper()
	b := apitest.New("n1")
	srv := resp.New(b, resp.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); b.Close() })
	dial := func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, DisableIdentity: true,
			PoolSize: 1, PipelinePoolSize: -1, MaxRetries: -1, ReadTimeout: clientTimeout, WriteTimeout: clientTimeout})
	}
	e := &env{began: time.Now(), members: 1, gens: map[int]int{}}
	s := newSession(1, 1, "n1", dial, 42, e)
	t.Cleanup(func() { s.rdb.Close() })
	return s, b, dial
}

// runSteps drives the session for workloadSteps operations, without the
// pause a real run takes between them.
func runSteps(s *session) {
	for i := 0; i < workloadSteps; i++ {
		s.step()
	}
}

// check reads the node and checks the session's history.
func check(t *testing.T, s *session, dial func() *redis.Client) report {
	t.Helper()
	rdb := dial()
	defer rdb.Close()
	st, err := readNode(context.Background(), rdb, writtenKeys([]*session{s}))
	if err != nil {
		t.Fatal(err)
	}
	st.Node, st.Hash = "n1", "h"
	r := checkHistory(checkInput{History: s.ops, Final: []nodeState{st}, Removed: map[string]bool{},
		Hosts: []int{1}, TxnKeys: allTxnKeys()})
	r.Session += s.session
	r.Atomicity += s.atomic
	r.BCounter += s.bcounter
	r.Problems = append(r.Problems, s.problems...)
	return r
}

// TestWorkloadOnOneNode runs the chaos workload against one in-memory node
// with no faults: every operation kind must be issued and acknowledged,
// and every check must pass.
func TestWorkloadOnOneNode(t *testing.T) {
	s, _, dial := singleNode(t)
	runSteps(s)
	kinds := map[opKind]int{}
	for _, o := range s.ops {
		if o.Outcome != outcomeOK {
			t.Fatalf("operation not acknowledged: %v", o)
		}
		kinds[o.Kind]++
	}
	for k := opIncr; k <= opCollapse; k++ {
		if kinds[k] == 0 {
			t.Errorf("no %s in %d operations", k, len(s.ops))
		}
	}
	r := check(t, s, dial)
	if r.failed() {
		t.Fatalf("checks failed on a fault-free node:\n%s", strings.Join(r.Problems, "\n"))
	}
	rdb := dial()
	defer rdb.Close()
	if typ, err := rdb.Type(context.Background(), bcKey).Result(); err != nil || typ != "bcounter" {
		t.Fatalf("the bounded counter was not exercised: TYPE %s = %q, %v", bcKey, typ, err)
	}
	if r.Collapsed != kinds[opCollapse] {
		t.Fatalf("%d of %d writes collapsed on a one-member cluster", r.Collapsed, kinds[opCollapse])
	}
}

// TestWorkloadSeesWritesLostBehindItsBack deletes, behind the session's
// back, keys it wrote: the final check must count each as lost, and the
// session's own read-your-writes check must notice its register going.
func TestWorkloadSeesWritesLostBehindItsBack(t *testing.T) {
	s, b, dial := singleNode(t)
	runSteps(s)
	var victim string
	for _, o := range s.ops {
		if o.Kind == opSet && o.Outcome == outcomeOK {
			victim = o.Key
			break
		}
	}
	if victim == "" {
		t.Fatal("no register write to lose")
	}
	lose := func(key string) {
		if _, err := b.Update(context.Background(), func(tx *crdt.Builder) error {
			return tx.Delete([]byte(key))
		}); err != nil {
			t.Fatal(err)
		}
	}
	lose(victim)
	lose(s.ownKey)
	r := check(t, s, dial)
	if r.Lost != 2 {
		t.Fatalf("lost %d, want 2 (%s and %s):\n%s", r.Lost, victim, s.ownKey, strings.Join(r.Problems, "\n"))
	}
	s.checkOwn(context.Background())
	if s.session != 1 {
		t.Fatalf("read-your-writes violations %d, want 1: %v", s.session, s.problems)
	}
}
