package resp

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
)

// Blocking commands (XREAD BLOCK, BLPOP, BRPOP, BLMOVE) wait on this node
// only: a blocked client is served by the node it is connected to, when a
// key it waits for changes there (a local write or a replicated one).
//
// The server keeps one registry of blocked clients by key. While any
// client is blocked it holds one Backend.Watch subscription (all keys)
// and wakes the clients waiting for each changed key; a woken client runs
// its command again and either answers or waits on. A client also retries
// every blockRecheckInterval, so a missed wake-up (the watch fell behind
// and was restarted, or the node refused another watcher) delays an
// answer by at most that long; the same tick checks whether the client
// has hung up, so a disconnected client stops waiting and frees its slot.
// At most MaxBlockedClients clients are blocked at once; one more gets an
// error reply at once. Inside MULTI the commands do not block (as in
// Redis): they answer with what is there now.

const (
	// MaxBlockedClients bounds the clients blocked in XREAD BLOCK, BLPOP,
	// BRPOP, BLMOVE, BLMPOP, BZPOPMIN, BZPOPMAX or BZMPOP at once on one
	// server; one more is answered
	// errTooManyBlocked at once.
	MaxBlockedClients = 1 << 12
	// blockRecheckInterval is how often a blocked client retries its
	// command and checks that its connection is still open, whatever the
	// watch says.
	blockRecheckInterval = 250 * time.Millisecond
	// blockWatchBuffer is the change buffer of the registry's watch; if it
	// falls further behind, the watch is restarted and every blocked
	// client retried.
	blockWatchBuffer = 1 << 12
)

// errTooManyBlocked answers a blocking command over MaxBlockedClients.
const errTooManyBlocked respErr = "ERR max number of blocked clients reached on this node (MaxBlockedClients 4096)"

// blocked is one blocked client's registration.
type blocked struct {
	keys []string
	wake chan struct{} // capacity 1: a pending wake-up
}

// blockRegistry is the server's table of blocked clients.
type blockRegistry struct {
	mu    sync.Mutex
	byKey map[string]map[*blocked]struct{}
	n     int
	// watching is non-nil while a watch goroutine runs; closing it stops
	// the goroutine (when the last client unblocks).
	watching chan struct{}
}

// add registers a client waiting on keys and starts the watch if it is
// the first. It fails over MaxBlockedClients.
func (s *Server) blockAdd(keys [][]byte) (*blocked, error) {
	r := &s.blocks
	b := &blocked{wake: make(chan struct{}, 1)}
	for _, k := range keys {
		b.keys = append(b.keys, string(k))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= MaxBlockedClients {
		return nil, errTooManyBlocked
	}
	if r.byKey == nil {
		r.byKey = map[string]map[*blocked]struct{}{}
	}
	for _, k := range b.keys {
		set := r.byKey[k]
		if set == nil {
			set = map[*blocked]struct{}{}
			r.byKey[k] = set
		}
		set[b] = struct{}{}
	}
	r.n++
	if r.watching == nil {
		r.watching = make(chan struct{})
		// Subscribe before returning, so a change committed after the
		// caller's first try is seen.
		sub := s.backend.Watch(nil, blockWatchBuffer)
		s.wg.Add(1)
		go s.runBlockWatch(r.watching, sub)
	}
	return b, nil
}

// blockRemove unregisters b and stops the watch after the last client.
func (s *Server) blockRemove(b *blocked) {
	r := &s.blocks
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range b.keys {
		if set := r.byKey[k]; set != nil {
			delete(set, b)
			if len(set) == 0 {
				delete(r.byKey, k)
			}
		}
	}
	r.n--
	if r.n == 0 && r.watching != nil {
		close(r.watching)
		r.watching = nil
	}
}

// runBlockWatch wakes the clients blocked on each changed key until stop
// is closed or the server closes. If the watch ends (it fell behind, or
// the node refused it), every blocked client is woken and the watch is
// taken again after blockRecheckInterval.
func (s *Server) runBlockWatch(stop chan struct{}, sub api.Subscription) {
	defer s.wg.Done()
	for {
		ended := false
		for !ended {
			select {
			case <-stop:
				sub.Close()
				return
			case <-s.ctx.Done():
				sub.Close()
				return
			case ch, ok := <-sub.C():
				if !ok {
					ended = true
					break
				}
				s.wakeKey(string(ch.Key))
			}
		}
		sub.Close()
		s.wakeAll()
		select {
		case <-stop:
			return
		case <-s.ctx.Done():
			return
		case <-time.After(blockRecheckInterval):
		}
		sub = s.backend.Watch(nil, blockWatchBuffer)
	}
}

func (s *Server) wakeKey(key string) {
	r := &s.blocks
	r.mu.Lock()
	defer r.mu.Unlock()
	for b := range r.byKey[key] {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

func (s *Server) wakeAll() {
	r := &s.blocks
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, set := range r.byKey {
		for b := range set {
			select {
			case b.wake <- struct{}{}:
			default:
			}
		}
	}
}

// errBlockTimeout is what block returns when the timeout passed.
var errBlockTimeout = errors.New("resp: blocking command timed out")

// block runs try until it reports done, waiting between tries for a
// change to one of keys, for at most timeout (0: no limit). It returns
// nil once try is done, errBlockTimeout when the time is up,
// errTooManyBlocked, or the context's error when the server closes or
// the client hangs up. try must not block; it writes nothing when it is
// not done.
func (s *Server) block(c *client, keys [][]byte, timeout time.Duration, try func() (bool, error)) error {
	b, err := s.blockAdd(keys)
	if err != nil {
		return err
	}
	defer s.blockRemove(b)
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(blockRecheckInterval)
	defer tick.Stop()
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		select {
		case <-b.wake:
		case <-tick.C:
			if c.hungUp() {
				return context.Canceled
			}
		case <-deadline:
			return errBlockTimeout
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
	}
}

// hungUp reports whether the client's connection has been closed by the
// peer, without consuming anything it sent (connGone peeks at the
// socket). A connection whose socket cannot be reached (a pipe, a
// WebSocket) never reports a hang-up: its client waits out its timeout.
func (c *client) hungUp() bool {
	if c.out == nil {
		return false
	}
	nc := c.out.nc
	for nc != nil {
		switch v := nc.(type) {
		case *net.TCPConn:
			return connGone(v)
		case *net.UnixConn:
			return connGone(v)
		case interface{ Unwrap() net.Conn }:
			nc = v.Unwrap()
		default:
			return false
		}
	}
	return false
}
