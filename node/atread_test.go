package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/storage"
)

// startAtReadNode starts a single audit-mode node that keeps its whole
// history, writes keys a0..a<keys-1> in rounds of perRound, each round
// waited for until a checkpoint covers it, and returns the node and the
// checkpoint count.
func startAtReadNode(tb testing.TB, keys, perRound int) (*Node, uint64) {
	tb.Helper()
	dir, keysDir := tb.TempDir(), tb.TempDir()
	k, err := AuditKey(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if err := PublishAuditKey(keysDir, "r", k.Public().(ed25519.PublicKey)); err != nil {
		tb.Fatal(err)
	}
	cfg := Config{Name: "r", Listen: freeAddrs(tb, 1)[0], Fsync: storage.SyncNone, DataDir: dir, AuditKeysDir: keysDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.Replica.Audit.CheckpointTicks = 5
	n, err := Start(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i := 0; i < keys; i++ {
		key, val := fmt.Sprintf("a%d", i), fmt.Sprintf("v%d", i)
		if _, err := n.Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte(key), []byte(val)) }); err != nil {
			tb.Fatal(err)
		}
		if (i+1)%perRound != 0 && i != keys-1 {
			continue
		}
		for {
			v, err := n.auditHistory(true)
			if err != nil {
				tb.Fatal(err)
			}
			if _, _, c, _, err := v.LeafProof(n.lastDot(tb, key)); err == nil && c.Index > 0 {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("%s never checkpointed", key)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	v, err := n.auditHistory(false)
	if err != nil {
		tb.Fatal(err)
	}
	return n, v.Report().LastIndex
}

// lastDot is the dot of key's value.
func (n *Node) lastDot(tb testing.TB, key string) (d causal.Dot) {
	tb.Helper()
	n.View(func(ks *crdt.Keyspace) error {
		for _, s := range ks.Get([]byte(key)).Siblings() {
			d = s.Dot
		}
		return nil
	})
	return d
}

// readAt reads key at checkpoint through ViewAt: its value and the
// state's hash.
func readAt(n *Node, ctx context.Context, checkpoint uint64, key string) (string, uint64, error) {
	var val string
	var hash uint64
	err := n.ViewAt(ctx, checkpoint, func(ks *crdt.Keyspace) error {
		if b, ok := ks.Get([]byte(key)).Register(); ok {
			val = string(b)
		}
		hash = ks.Hash()
		return nil
	})
	return val, hash, err
}

// TestAtReadCached: a second point-in-time read of a checkpoint, and a
// replay of it, do not rebuild the state from the history; the results
// equal the uncached rebuild's; the least recently used state goes when
// MaxAtReadStates are kept.
func TestAtReadCached(t *testing.T) {
	n, last := startAtReadNode(t, 12, 2)
	if last < MaxAtReadStates+1 {
		t.Fatalf("only %d checkpoints", last)
	}
	ctx := context.Background()
	want := map[uint64]uint64{} // checkpoint → state hash, uncached
	for c := uint64(1); c <= last; c++ {
		ks, _, err := n.stateAt(c)
		if err != nil {
			t.Fatal(err)
		}
		want[c] = ks.Hash()
	}
	passes := n.atReads.passes.Load()
	val, h, err := readAt(n, ctx, last, "a0")
	if err != nil || val != "v0" || h != want[last] {
		t.Fatalf("first read at %d: %q %x %v, want v0 %x", last, val, h, err, want[last])
	}
	if p := n.atReads.passes.Load(); p != passes+1 {
		t.Fatalf("first read made %d passes, want 1", p-passes)
	}
	val, h, err = readAt(n, ctx, last, "a0")
	if err != nil || val != "v0" || h != want[last] {
		t.Fatalf("second read at %d: %q %x %v", last, val, h, err)
	}
	var rep ReplayReport
	if st := getAuditJSON(t, n, fmt.Sprintf("/v1/audit/replay?to=%d", last), &rep); st != http.StatusOK ||
		rep.StateHash != fmt.Sprintf("%016x", want[last]) {
		t.Fatalf("replay at %d: %d %+v, want hash %016x", last, st, rep, want[last])
	}
	if p := n.atReads.passes.Load(); p != passes+1 {
		t.Fatalf("a second read and a replay of one checkpoint made %d more passes, want 0", p-passes-1)
	}
	// MaxAtReadStates states kept: checkpoints last, last-1, …; one more
	// evicts the least recently used (last, read first).
	for i := uint64(1); i <= MaxAtReadStates; i++ {
		if _, h, err := readAt(n, ctx, last-i, "a0"); err != nil || h != want[last-i] {
			t.Fatalf("read at %d: %x %v, want %x", last-i, h, err, want[last-i])
		}
	}
	passes = n.atReads.passes.Load()
	if _, h, err := readAt(n, ctx, last-1, "a0"); err != nil || h != want[last-1] {
		t.Fatalf("read at %d again: %x %v", last-1, h, err)
	}
	if p := n.atReads.passes.Load(); p != passes {
		t.Fatalf("a kept state was rebuilt")
	}
	if _, h, err := readAt(n, ctx, last, "a0"); err != nil || h != want[last] {
		t.Fatalf("read at %d after its eviction: %x %v", last, h, err)
	}
	if p := n.atReads.passes.Load(); p != passes+1 {
		t.Fatalf("an evicted state was not rebuilt (%d passes)", p-passes)
	}
	if _, _, err := readAt(n, ctx, last+100, "a0"); !errors.Is(err, errNoCheckpoint) {
		t.Fatalf("read at a checkpoint not logged: %v", err)
	}
}

// TestAtReadRebuildsBounded: while one rebuild runs, further requests
// for other checkpoints wait for it instead of passing over the history
// at the same time; past MaxAtReadWaiters they are refused as busy;
// every answer equals the uncached one.
func TestAtReadRebuildsBounded(t *testing.T) {
	n, last := startAtReadNode(t, 8, 2)
	want := map[uint64]uint64{}
	for c := uint64(1); c <= last; c++ {
		ks, _, err := n.stateAt(c)
		if err != nil {
			t.Fatal(err)
		}
		want[c] = ks.Hash()
	}
	// Every rebuild blocks until release: without a bound they would
	// all run at once.
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	defer open()
	n.atReads.rebuildHook = func() { <-release }
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, MaxAtReadWaiters+1)
	read := func(c uint64) {
		defer wg.Done()
		if _, h, err := readAt(n, ctx, c, "a0"); err != nil || h != want[c] {
			errs <- fmt.Errorf("read at %d: %x %v, want %x", c, h, err, want[c])
		}
	}
	wg.Add(1)
	go read(1) // blocks inside its rebuild until release
	waitFor(t, func() bool { return n.atReads.active.Load() == 1 })
	for i := 0; i < MaxAtReadWaiters; i++ {
		wg.Add(1)
		go read(2 + uint64(i)%(last-1))
	}
	waitFor(t, func() bool {
		return n.atReads.waiting.Load() == MaxAtReadWaiters || n.atReads.maxActive.Load() > MaxAtReadRebuilds
	})
	if m := n.atReads.maxActive.Load(); m > MaxAtReadRebuilds {
		t.Fatalf("%d rebuilds ran at once, limit %d", m, MaxAtReadRebuilds)
	}
	if _, _, err := readAt(n, ctx, last, "a0"); !errors.Is(err, api.ErrAtReadBusy) {
		t.Fatalf("a request past MaxAtReadWaiters: %v, want busy", err)
	}
	open()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if m := n.atReads.maxActive.Load(); m > MaxAtReadRebuilds {
		t.Fatalf("%d rebuilds ran at once, limit %d", m, MaxAtReadRebuilds)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAtReadWaiterGivesUp: a request waiting for a rebuild slot returns
// when its context ends.
func TestAtReadWaiterGivesUp(t *testing.T) {
	n, _ := startAtReadNode(t, 4, 2)
	release := make(chan struct{})
	n.atReads.rebuildHook = func() {
		select { // bounded, should a rebuild not wait for its slot
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}
	done := make(chan error, 1)
	go func() { _, _, err := readAt(n, context.Background(), 1, "a0"); done <- err }()
	waitFor(t, func() bool { return n.atReads.active.Load() == 1 })
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := readAt(n, short, 2, "a0"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("a waiter whose context ended: %v after %v", err, time.Since(start))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestAtReadAfterRetention: a state kept before retention dropped the
// records it was built from is not served after: the read fails as an
// uncached one does.
func TestAtReadAfterRetention(t *testing.T) {
	dir, keys := t.TempDir(), t.TempDir()
	n := startRetentionNode(t, dir, keys, AuditRetention{Checkpoints: 2})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	writeCheckpointed(t, ctx, n, 6)
	if _, _, err := readAt(n, ctx, 1, "k0-0"); err != nil {
		t.Fatal(err)
	}
	passes := n.atReads.passes.Load()
	if _, _, err := readAt(n, ctx, 1, "k0-0"); err != nil || n.atReads.passes.Load() != passes {
		t.Fatalf("second read before retention: %v, %d passes", err, n.atReads.passes.Load()-passes)
	}
	if rep, err := n.ApplyAuditRetention(); err != nil || rep.BaseRecord == 0 {
		t.Fatalf("retention: %+v %v", rep, err)
	}
	if _, _, err := readAt(n, ctx, 1, "k0-0"); !errors.Is(err, errRetained) {
		t.Fatalf("read of a dropped checkpoint after retention: %v", err)
	}
}

// BenchmarkAtRead: a point-in-time read of one key at the newest
// checkpoint of a history of 2,000 writes, uncached (a pass over the
// history per read, as every read was before the cache) and cached (the
// kept state).
//
//	go test ./node -run '^$' -bench AtRead -benchtime 20x
func BenchmarkAtRead(b *testing.B) {
	n, last := startAtReadNode(b, 2000, 500)
	ctx := context.Background()
	b.Run("uncached", func(b *testing.B) {
		for range b.N {
			ks, _, err := n.stateAt(last)
			if err != nil || ks.Get([]byte("a0")) == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for range b.N {
			if v, _, err := readAt(n, ctx, last, "a0"); err != nil || v != "v0" {
				b.Fatal(v, err)
			}
		}
	})
}
