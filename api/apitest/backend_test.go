package apitest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func set(k, v string) func(tx *crdt.Builder) error {
	return func(tx *crdt.Builder) error { return tx.Set([]byte(k), []byte(v)) }
}

func TestUpdateViewWatch(t *testing.T) {
	b := New("n1")
	defer b.Close()
	ctx := context.Background()
	all := b.Watch(nil, 8)
	users := b.Watch([]byte("user:"), 8)
	defer all.Close()
	defer users.Close()

	tok, err := b.Update(ctx, set("user:1", "a"))
	if err != nil || tok.Dot.Node != b.ID() || tok.Dot.Counter != 1 {
		t.Fatalf("first token %v, %v", tok, err)
	}
	if tok, err := b.Update(ctx, func(*crdt.Builder) error { return nil }); err != nil || !tok.IsZero() {
		t.Fatalf("empty transaction: %v, %v", tok, err)
	}
	boom := errors.New("boom")
	if _, err := b.Update(ctx, func(tx *crdt.Builder) error { _ = tx.Set([]byte("x"), nil); return boom }); err != boom {
		t.Fatalf("failing fn: %v", err)
	}
	if tok, _ := b.Update(ctx, set("other", "b")); tok.Dot.Counter != 2 {
		t.Fatalf("a failed or empty transaction used a dot: %v", tok)
	}
	if _, err := b.Update(ctx, func(tx *crdt.Builder) error { return tx.Delete([]byte("user:1")) }); err != nil {
		t.Fatal(err)
	}
	_ = b.View(func(ks *crdt.Keyspace) error {
		if ks.Get([]byte("x")) != nil || ks.Len() != 1 {
			t.Errorf("keyspace has %d keys", ks.Len())
		}
		return nil
	})
	want := []api.Change{
		{Key: []byte("user:1"), Type: crdt.TypeRegister, Origin: b.ID()},
		{Key: []byte("other"), Type: crdt.TypeRegister, Origin: b.ID()},
		{Key: []byte("user:1"), Deleted: true, Origin: b.ID()},
	}
	for i, w := range want {
		got := <-all.C()
		if string(got.Key) != string(w.Key) || got.Type != w.Type || got.Deleted != w.Deleted || got.Origin != w.Origin {
			t.Errorf("change %d: %+v, want %+v", i, got, w)
		}
	}
	if got := <-users.C(); string(got.Key) != "user:1" || got.Deleted {
		t.Errorf("prefix watch: %+v", got)
	}
	if got := <-users.C(); string(got.Key) != "user:1" || !got.Deleted {
		t.Errorf("prefix watch: %+v", got)
	}
	st := b.Status()
	if st.Name != "n1" || st.Keys != 1 || st.Applied["n1"] != 3 || st.Collapsed["n1"] != 3 || len(st.Members) != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestWatchOverflowAndClose(t *testing.T) {
	b := New("n1")
	ctx := context.Background()
	sub := b.Watch(nil, 2)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := b.Update(ctx, set(k, "v")); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for range sub.C() {
		n++
	}
	if n != 2 || !errors.Is(sub.Err(), api.ErrWatchOverflow) {
		t.Fatalf("overflowed watcher got %d changes, err %v", n, sub.Err())
	}
	other := b.Watch(nil, 2)
	b.Close()
	if _, ok := <-other.C(); ok || other.Err() != nil {
		t.Fatalf("Close: subscription not ended cleanly (%v)", other.Err())
	}
	if _, err := b.Update(ctx, set("d", "v")); !errors.Is(err, api.ErrStopped) {
		t.Fatalf("Update after Close: %v", err)
	}
	late := b.Watch(nil, 1)
	if _, ok := <-late.C(); ok {
		t.Fatal("Watch after Close delivered")
	}
	sub.Close() // idempotent
}

func TestWait(t *testing.T) {
	b := New("n1")
	defer b.Close()
	ctx := context.Background()
	tok, _ := b.Update(ctx, set("a", "v"))
	for _, n := range []int{0, 1} {
		if got, err := b.Wait(ctx, tok, n); got != 1 || err != nil {
			t.Fatalf("Wait n=%d: %d, %v", n, got, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if got, err := b.Wait(short, tok, 2); got != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait n=2: %d, %v", got, err)
	}
}

func TestConcurrentMakesSiblings(t *testing.T) {
	b := New("n1")
	defer b.Close()
	toks, err := b.Concurrent(set("k", "x"), set("k", "y"))
	if err != nil || len(toks) != 2 || toks[0].Dot.Node == toks[1].Dot.Node {
		t.Fatalf("Concurrent: %v, %v", toks, err)
	}
	_ = b.View(func(ks *crdt.Keyspace) error {
		if n := len(ks.Get([]byte("k")).Siblings()); n != 2 {
			t.Errorf("%d siblings, want 2", n)
		}
		return nil
	})
	// A later local write saw both and replaces them.
	if _, err := b.Update(context.Background(), set("k", "z")); err != nil {
		t.Fatal(err)
	}
	_ = b.View(func(ks *crdt.Keyspace) error {
		if n := len(ks.Get([]byte("k")).Siblings()); n != 1 {
			t.Errorf("%d siblings after overwrite, want 1", n)
		}
		return nil
	})
}
