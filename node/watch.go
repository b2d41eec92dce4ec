package node

import (
	"bytes"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/replica"
)

// Watch bounds.
const (
	// DefaultWatchBuffer is a watcher's lag bound when the caller asks
	// for 0: how many changes the node may apply (to any key) past the
	// one the watcher is waiting to take before the watcher is ended with
	// api.ErrWatchOverflow.
	DefaultWatchBuffer = 1024
	// MaxWatchBuffer caps the lag bound a caller may ask for. It is the
	// change log's length, the most any watcher can lag.
	MaxWatchBuffer = MaxWatchLogChanges
	// MaxWatchers bounds the subscriptions of one node. Watch past it
	// returns a subscription already ended with api.ErrTooManyWatchers
	// (HTTP answers 503, RESP an error).
	MaxWatchers = 4096
	// MaxWatchLogChanges is the length of the change log all watchers
	// read from: a ring of the latest changes, kept only while someone
	// watches.
	MaxWatchLogChanges = 1 << 16
	// MaxWatchLogBytes bounds the key bytes the change log holds; past
	// it the oldest changes leave the log early, and a watcher that still
	// needed them is ended with api.ErrWatchOverflow.
	MaxWatchLogBytes = 64 << 20
	// MaxWatchQueue is how many changes a watcher's channel holds ahead
	// of its reader. With the batch its goroutine holds
	// (watchBatchChanges), a watcher holds at most
	// (MaxWatchQueue + watchBatchChanges) × crdt.MaxKeyBytes key bytes
	// of its own (128 KiB), whatever its lag; the rest is in the shared log.
	MaxWatchQueue = 64
	// watchBatchChanges is how many changes a watcher's goroutine copies
	// out of the log per lock.
	watchBatchChanges = 64
	// watchWakeInterval is the least time between two wake-ups of the
	// watchers: a change published sooner after the last wake-up waits
	// for the next one, so under a stream of writes every watcher wakes
	// at most 1/watchWakeInterval times a second and takes a batch, while
	// a lone change is delivered at once.
	watchWakeInterval = 2 * time.Millisecond
)

// watchers fans changes out to subscriptions through one shared log.
//
// publish appends each change to the log once, under a short lock, and
// wakes the waiting watchers by closing one channel (at most once per
// watchWakeInterval): its cost does not grow with the number of
// watchers, and it never blocks on a watcher.
// Each subscription has a goroutine that reads the log from its own
// cursor, filters by prefix and feeds the subscription's channel. A
// watcher whose reader stops costs nothing per change: its goroutine
// waits on a full channel. One that falls further behind than its lag
// bound, or behind the log, is ended with api.ErrWatchOverflow when its
// goroutine next looks.
type watchers struct {
	// mu is written by publish, add and the ends of subscriptions, and
	// read by the subscriptions' goroutines copying changes out.
	mu   sync.RWMutex
	ring []api.Change // MaxWatchLogChanges entries once anyone watched; seq s at s % len
	head uint64       // seq of the next change
	tail uint64       // seq of the oldest change still in the ring
	// ringBytes counts the key bytes of the changes in the ring.
	ringBytes int
	// wake is closed and replaced when changes are appended (at most
	// once per watchWakeInterval: lastWake, wakeScheduled).
	wake          chan struct{}
	lastWake      time.Time
	wakeScheduled bool
	subs          map[*subscription]struct{}
	closed        error // set by closeAll: no more subscriptions
}

type subscription struct {
	w      *watchers
	prefix []byte
	lag    uint64
	ch     chan api.Change
	done   chan struct{} // closed by end: the goroutine stops
	once   sync.Once
	errMu  sync.Mutex
	err    error
}

func newWatchers() *watchers {
	return &watchers{subs: map[*subscription]struct{}{}, wake: make(chan struct{})}
}

// add subscribes to changes of keys under prefix from now on. Over
// MaxWatchers, or once closed, the subscription returned has ended.
func (w *watchers) add(prefix []byte, buffer int) api.Subscription {
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	buffer = min(buffer, MaxWatchBuffer)
	s := &subscription{w: w, prefix: append([]byte(nil), prefix...), lag: uint64(buffer),
		ch: make(chan api.Change, MaxWatchQueue), done: make(chan struct{})}
	w.mu.Lock()
	var refuse error
	switch {
	case w.closed != nil:
		refuse = w.closed
	case len(w.subs) >= MaxWatchers:
		refuse = api.ErrTooManyWatchers
	}
	if refuse != nil {
		w.mu.Unlock()
		s.end(refuse)
		close(s.ch)
		return s
	}
	if w.ring == nil {
		w.ring = make([]api.Change, MaxWatchLogChanges)
	}
	w.subs[s] = struct{}{}
	cursor := w.head
	w.mu.Unlock()
	go s.run(cursor)
	return s
}

// publish appends changes to the log in order. Internal keys
// (membership) are never shown to watchers. Keys are copied: the
// replica's slices are read-only and may be reused. With no watcher it
// does nothing.
func (w *watchers) publish(changes []replica.Change) {
	if len(changes) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.subs) == 0 {
		return
	}
	appended := false
	n := uint64(len(w.ring))
	for _, c := range changes {
		if replica.IsInternalKey(c.Key) {
			continue
		}
		if w.head-w.tail == n {
			w.evict() // the slot about to be reused
		}
		key := append([]byte(nil), c.Key...)
		w.ring[w.head%n] = api.Change{Key: key, Type: c.Type, Deleted: c.Deleted, Expired: c.Expired, Origin: c.Origin}
		w.head++
		w.ringBytes += len(key)
		for w.ringBytes > MaxWatchLogBytes && w.tail < w.head-1 {
			w.evict()
		}
		appended = true
	}
	if !appended || w.wakeScheduled {
		return
	}
	now := time.Now()
	if wait := watchWakeInterval - now.Sub(w.lastWake); wait > 0 {
		w.wakeScheduled = true
		time.AfterFunc(wait, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.wakeScheduled = false
			w.wakeLocked(time.Now())
		})
		return
	}
	w.wakeLocked(now)
}

// wakeLocked wakes every watcher waiting for changes. Called with w.mu
// held.
func (w *watchers) wakeLocked(now time.Time) {
	close(w.wake)
	w.wake = make(chan struct{})
	w.lastWake = now
}

// evict drops the oldest change of the log. Called with w.mu held.
func (w *watchers) evict() {
	old := &w.ring[w.tail%uint64(len(w.ring))]
	w.ringBytes -= len(old.Key)
	*old = api.Change{}
	w.tail++
}

// run feeds the subscription's channel from the log, from cursor on,
// until the subscription ends. It is the only sender on s.ch and closes
// it when it returns.
func (s *subscription) run(cursor uint64) {
	defer close(s.ch)
	batch := make([]api.Change, 0, watchBatchChanges)
	for {
		w := s.w
		w.mu.RLock()
		if cursor < w.tail || w.head-cursor > s.lag {
			w.mu.RUnlock()
			w.mu.Lock()
			delete(w.subs, s)
			w.mu.Unlock()
			s.end(api.ErrWatchOverflow)
			return
		}
		batch = batch[:0]
		for seq := cursor; seq < w.head && len(batch) < watchBatchChanges; seq++ {
			batch = append(batch, w.ring[seq%uint64(len(w.ring))])
		}
		wake := w.wake
		w.mu.RUnlock()
		if len(batch) == 0 {
			select {
			case <-wake:
			case <-s.done:
				return
			}
			continue
		}
		for _, c := range batch {
			cursor++
			if !bytes.HasPrefix(c.Key, s.prefix) {
				continue
			}
			select {
			case s.ch <- c:
			case <-s.done:
				return
			}
		}
	}
}

func (w *watchers) closeAll(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed == nil {
		w.closed = err
	}
	for s := range w.subs {
		s.end(err)
		delete(w.subs, s)
	}
}

// end records why the subscription ended (the first reason wins) and
// stops its goroutine, which then closes the channel.
func (s *subscription) end(err error) {
	s.once.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.done)
	})
}

func (s *subscription) C() <-chan api.Change { return s.ch }

func (s *subscription) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.w.mu.Lock()
	delete(s.w.subs, s)
	s.w.mu.Unlock()
	s.end(nil)
}
