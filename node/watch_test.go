package node

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

func changes(keys ...string) []replica.Change {
	out := make([]replica.Change, len(keys))
	for i, k := range keys {
		out[i] = replica.Change{Key: []byte(k), Type: crdt.TypeRegister}
	}
	return out
}

// next takes one change or fails after 10 s.
func next(t *testing.T, s api.Subscription) (api.Change, bool) {
	t.Helper()
	select {
	case c, ok := <-s.C():
		return c, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no change within 10 s")
		return api.Change{}, false
	}
}

// TestWatchersDeliverInOrder: each watcher gets the changes under its
// prefix, in order, from the moment it subscribed.
func TestWatchersDeliverInOrder(t *testing.T) {
	w := newWatchers()
	defer w.closeAll(api.ErrStopped)
	w.publish(changes("a/0")) // before anyone watches: not logged
	all := w.add(nil, 0)
	a := w.add([]byte("a/"), 0)
	w.publish(changes("a/1", "b/1", "\x00spook/members", "a/2"))
	for _, want := range []string{"a/1", "b/1", "a/2"} {
		if c, ok := next(t, all); !ok || string(c.Key) != want {
			t.Fatalf("all: %q %v, want %q", c.Key, ok, want)
		}
	}
	for _, want := range []string{"a/1", "a/2"} {
		if c, ok := next(t, a); !ok || string(c.Key) != want {
			t.Fatalf("a/: %q %v, want %q", c.Key, ok, want)
		}
	}
	a.Close()
	if _, ok := next(t, a); ok || a.Err() != nil {
		t.Fatalf("after Close: open %v, err %v", ok, a.Err())
	}
	w.closeAll(api.ErrStopped)
	if _, ok := next(t, all); ok || !errors.Is(all.Err(), api.ErrStopped) {
		t.Fatalf("after closeAll: open %v, err %v", ok, all.Err())
	}
	if s := w.add(nil, 0); !errors.Is(s.Err(), api.ErrStopped) {
		t.Fatalf("Watch after close: %v", s.Err())
	}
}

// TestWatchersCap: one watcher past MaxWatchers is refused at once;
// closing one makes room.
func TestWatchersCap(t *testing.T) {
	w := newWatchers()
	defer w.closeAll(api.ErrStopped)
	subs := make([]api.Subscription, MaxWatchers)
	for i := range subs {
		subs[i] = w.add(nil, 0)
	}
	over := w.add(nil, 0)
	if !errors.Is(over.Err(), api.ErrTooManyWatchers) {
		t.Fatalf("watcher %d: %v", MaxWatchers+1, over.Err())
	}
	if _, ok := <-over.C(); ok {
		t.Fatal("a refused subscription delivered a change")
	}
	subs[0].Close()
	if s := w.add(nil, 0); s.Err() != nil {
		t.Fatalf("after one left: %v", s.Err())
	}
}

// TestWatcherOverflow: a watcher that does not read is ended with
// ErrWatchOverflow once it lags more than its buffer, after the changes
// it had queued; the others go on, and publish never waits for it.
func TestWatcherOverflow(t *testing.T) {
	w := newWatchers()
	defer w.closeAll(api.ErrStopped)
	const lag = 100
	slow := w.add(nil, lag)
	fast := w.add(nil, MaxWatchBuffer)
	for i := range 3 * lag {
		w.publish(changes(fmt.Sprint("k", i)))
		if c, ok := next(t, fast); !ok || string(c.Key) != fmt.Sprint("k", i) {
			t.Fatalf("fast watcher at %d: %q %v", i, c.Key, ok)
		}
	}
	got := 0
	for {
		c, ok := next(t, slow)
		if !ok {
			break
		}
		if string(c.Key) != fmt.Sprint("k", got) {
			t.Fatalf("slow watcher change %d: %q", got, c.Key)
		}
		got++
	}
	if !errors.Is(slow.Err(), api.ErrWatchOverflow) || got > MaxWatchQueue+watchBatchChanges {
		t.Fatalf("slow watcher: %d changes then %v", got, slow.Err())
	}
	if fast.Err() != nil {
		t.Fatalf("fast watcher: %v", fast.Err())
	}
}

// TestWatchLogBounds: the log never holds more than MaxWatchLogChanges
// changes or MaxWatchLogBytes key bytes.
func TestWatchLogBounds(t *testing.T) {
	w := newWatchers()
	defer w.closeAll(api.ErrStopped)
	s := w.add(nil, 0)
	defer s.Close()
	batch := make([]replica.Change, 1024)
	for i := range batch {
		batch[i] = replica.Change{Key: make([]byte, crdt.MaxKeyBytes), Type: crdt.TypeRegister}
	}
	for range 2 * MaxWatchLogBytes / crdt.MaxKeyBytes / len(batch) {
		w.publish(batch)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head-w.tail > MaxWatchLogChanges || w.ringBytes > MaxWatchLogBytes {
		t.Fatalf("log holds %d changes, %d bytes", w.head-w.tail, w.ringBytes)
	}
}
