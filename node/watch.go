package node

import (
	"bytes"
	"sync"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/replica"
)

// Watch buffer bounds.
const (
	// DefaultWatchBuffer is a watcher's queue when the caller asks for 0.
	DefaultWatchBuffer = 1024
	// MaxWatchBuffer caps the queue a caller may ask for.
	MaxWatchBuffer = 1 << 16
)

// watchers fans changes out to subscriptions. A subscription whose queue
// is full is closed with api.ErrWatchOverflow instead of blocking the node
// or growing without bound.
type watchers struct {
	mu   sync.Mutex
	subs map[*subscription]struct{}
}

type subscription struct {
	w      *watchers
	prefix []byte
	ch     chan api.Change
	once   sync.Once
	errMu  sync.Mutex
	err    error
}

func newWatchers() *watchers { return &watchers{subs: map[*subscription]struct{}{}} }

func (w *watchers) add(prefix []byte, buffer int) api.Subscription {
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	buffer = min(buffer, MaxWatchBuffer)
	s := &subscription{w: w, prefix: append([]byte(nil), prefix...), ch: make(chan api.Change, buffer)}
	w.mu.Lock()
	w.subs[s] = struct{}{}
	w.mu.Unlock()
	return s
}

// publish delivers changes in order. Internal keys (membership) are never
// shown to watchers. Keys are copied: the replica's slices are read-only
// and may be reused.
func (w *watchers) publish(changes []replica.Change) {
	if len(changes) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range changes {
		if replica.IsInternalKey(c.Key) {
			continue
		}
		var key []byte
		for s := range w.subs {
			if !bytes.HasPrefix(c.Key, s.prefix) {
				continue
			}
			if key == nil {
				key = append([]byte(nil), c.Key...)
			}
			select {
			case s.ch <- api.Change{Key: key, Type: c.Type, Deleted: c.Deleted, Origin: c.Origin}:
			default:
				s.end(api.ErrWatchOverflow)
				delete(w.subs, s)
			}
		}
	}
}

func (w *watchers) closeAll(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for s := range w.subs {
		s.end(err)
		delete(w.subs, s)
	}
}

// end closes the channel once, recording why.
func (s *subscription) end(err error) {
	s.once.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.ch)
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
