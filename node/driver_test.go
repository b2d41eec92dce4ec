package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage/vfs"
)

// failingCluster starts two nodes with disks; n1's filesystem fails every
// fsync from the moment the returned function is called.
func failingCluster(t *testing.T) (n1, n2 *Node, breakDisk func()) {
	t.Helper()
	addrs := freeAddrs(t, 2)
	members := []replica.Peer{{Name: "n1", Addr: addrs[0]}, {Name: "n2", Addr: addrs[1]}}
	efs := vfs.NewErrorFS(vfs.OS{}, vfs.Injection{})
	c1 := testConfig("n1", addrs[0], members, t.TempDir())
	c1.fs = efs
	c2 := testConfig("n2", addrs[1], members, t.TempDir())
	var err error
	if n1, err = Start(c1); err != nil {
		t.Fatal(err)
	}
	if n2, err = Start(c2); err != nil {
		n1.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { n1.Close(); n2.Close() })
	return n1, n2, func() { efs.SetInjection(vfs.Injection{Ops: vfs.OpSync, At: 1, Sticky: true}) }
}

func setKey(key, value string) func(b *crdt.Builder) error {
	return func(b *crdt.Builder) error { return b.Set([]byte(key), []byte(value)) }
}

func getKey(n *Node, key string) (string, bool) {
	var out string
	var ok bool
	n.View(func(ks *crdt.Keyspace) error {
		if v := ks.Get([]byte(key)); v != nil {
			if b, has := v.Register(); has {
				out, ok = string(b), true
			}
		}
		return nil
	})
	return out, ok
}

// TestFailStopOutcomeAndQuiescence covers two defects. Defect 5: a write
// applied (and visible) when the fsync under policy always fails was
// reported "node stopped, no write was made"; it must be reported as an
// unknown outcome. Defect 4: after fail-stop the node kept stepping peer
// messages, so undrained output grew without bound; it must stop
// stepping, keep serving reads, and say why on readiness and in Status.
func TestFailStopOutcomeAndQuiescence(t *testing.T) {
	n1, n2, breakDisk := failingCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n1.Update(ctx, setKey("before", "1")); err != nil {
		t.Fatalf("write before the fault: %v", err)
	}
	breakDisk()
	_, err := n1.Update(ctx, setKey("k", "v"))
	if !errors.Is(err, api.ErrUnknownOutcome) {
		t.Fatalf("write whose fsync failed: %v; want api.ErrUnknownOutcome", err)
	}
	if v, ok := getKey(n1, "k"); !ok || v != "v" {
		t.Fatalf("the applied write is not readable after fail-stop: %q %v", v, ok)
	}
	if _, err := n1.Update(ctx, setKey("k2", "v")); !errors.Is(err, api.ErrReadOnly) {
		t.Fatalf("write after fail-stop: %v; want api.ErrReadOnly (nothing written)", err)
	}
	if _, ok := getKey(n1, "k2"); ok {
		t.Fatal("a refused write is visible")
	}
	if err := n1.ready(); err == nil || !strings.Contains(err.Error(), "fail-stop") {
		t.Fatalf("ready() = %v; want a fail-stop reason", err)
	}
	if st := n1.Status(); !strings.Contains(st.Failed, "injected") {
		t.Fatalf("Status().Failed = %q; want the cause", st.Failed)
	}

	// Writes on n2 keep coming; n1 must not step them any more.
	n1.mu.RLock()
	applied := n1.r.Applied()
	n1.mu.RUnlock()
	for i := range 200 {
		if _, err := n2.Update(ctx, setKey("from-n2", string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // 30 ticks: digests and pushes arrive
	n1.mu.RLock()
	now := n1.r.Applied()
	hasReady := n1.r.HasReady()
	n1.mu.RUnlock()
	if !now.Equal(&applied) {
		t.Fatalf("a failed node went on applying peer writes: applied %v, then %v", &applied, &now)
	}
	if hasReady {
		t.Fatal("a failed node accumulates replica output")
	}
}

// TestUpdateCallbackMayRead is defect 6: an Update whose callback reads
// through View (what spook.DB.Get does) froze the whole node, because the
// callback ran under the node mutex.
func TestUpdateCallbackMayRead(t *testing.T) {
	nodes, _ := startCluster(t, 1, false)
	n := nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Update(ctx, setKey("a", "1"))
	done := make(chan error, 1)
	go func() {
		_, err := n.Update(ctx, func(b *crdt.Builder) error {
			v, _ := getKey(n, "a")
			return b.Set([]byte("b"), []byte(v+"+1"))
		})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Update whose callback reads through View did not return")
	}
	if v, _ := getKey(n, "b"); v != "1+1" {
		t.Fatalf("b = %q, want 1+1", v)
	}
}

// TestWatchAfterCloseEnds is defect 8: a Watch opened after Close never
// closed its channel.
func TestWatchAfterCloseEnds(t *testing.T) {
	nodes, _ := startCluster(t, 1, false)
	nodes[0].Close()
	sub := nodes[0].Watch(nil, 0)
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Fatal("a change arrived on a watch of a closed node")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a Watch opened after Close never closed")
	}
	if !errors.Is(sub.Err(), api.ErrStopped) {
		t.Fatalf("Err() = %v, want api.ErrStopped", sub.Err())
	}
}

// TestCanceledUpdateIsExact: a caller that gives up before the loop takes
// its write gets a plain context error and nothing is written.
func TestCanceledUpdateIsExact(t *testing.T) {
	nodes, _ := startCluster(t, 1, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := nodes[0].Update(ctx, setKey("never", "1"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, api.ErrUnknownOutcome) {
		t.Fatalf("canceled Update: %v; want context.Canceled, not unknown", err)
	}
	if _, ok := getKey(nodes[0], "never"); ok {
		t.Fatal("a write canceled before it was taken is visible")
	}
}

// TestUnreachablePeerLoggedAtWarn is issue 14 item 14: with --log-level
// warn, a dead peer left no line (events were logged at INFO).
func TestUnreachablePeerLoggedAtWarn(t *testing.T) {
	addrs := freeAddrs(t, 2)
	members := []replica.Peer{{Name: "n1", Addr: addrs[0]}, {Name: "n2", Addr: addrs[1]}}
	var logs syncBuffer
	c1 := testConfig("n1", addrs[0], members, "")
	c1.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n1, err := Start(c1)
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	n2, err := Start(testConfig("n2", addrs[1], members, ""))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // probes answered: n2 alive
	n2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "peer-unreachable") {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN line for an unreachable peer within 10 s; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if line := logs.String(); !strings.Contains(line, "level=WARN") || !strings.Contains(line, "peer=n2") {
		t.Fatalf("the unreachable peer is not a WARN line naming n2:\n%s", line)
	}
}

// syncBuffer is a bytes.Buffer safe for the node's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
