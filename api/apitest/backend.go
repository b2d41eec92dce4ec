package apitest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Named limits.
const (
	// DefaultWatchBuffer is the buffer of a Watch called with buffer ≤ 0.
	DefaultWatchBuffer = 256
	// MaxWatchBuffer caps the buffer a watcher may ask for, in changes.
	MaxWatchBuffer = 1 << 16
	// ClusterName is the cluster name Status reports.
	ClusterName = "apitest"
)

// Backend is a single-node api.Backend over a crdt.Keyspace. The zero
// value is not usable; call New. All methods are safe for concurrent use.
type Backend struct {
	name string
	id   causal.NodeID
	// NowMs reads physical time in milliseconds since the epoch for the
	// hybrid clock. New sets it to the real clock; tests may replace it
	// before first use.
	NowMs func() uint64

	mu       sync.Mutex
	ks       *crdt.Keyspace
	clock    causal.Clock
	watchers map[*subscription]struct{}
	closed   bool
}

var _ api.Backend = (*Backend)(nil)

// New returns an empty single-node backend whose node is called name.
func New(name string) *Backend {
	return &Backend{
		name:     name,
		id:       causal.NodeIDFromName(name),
		NowMs:    func() uint64 { return uint64(time.Now().UnixMilli()) },
		ks:       crdt.NewKeyspace(),
		watchers: map[*subscription]struct{}{},
	}
}

// ID returns the node's id.
func (b *Backend) ID() causal.NodeID { return b.id }

// Close stops the backend: later Updates return api.ErrStopped, every
// subscription ends. Reads keep working. Close is idempotent.
func (b *Backend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.watchers {
		s.endLocked(nil)
	}
}

// View calls fn with the keyspace under the backend's lock.
func (b *Backend) View(fn func(ks *crdt.Keyspace) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fn(b.ks)
}

// Update runs fn on a transaction made by this node and applies it.
func (b *Backend) Update(ctx context.Context, fn func(tx *crdt.Builder) error) (api.Token, error) {
	if err := ctx.Err(); err != nil {
		return api.Token{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return api.Token{}, api.ErrStopped
	}
	return b.applyLocked(b.id, fn)
}

// applyLocked begins a transaction of node on the current state, runs fn
// and applies the result.
func (b *Backend) applyLocked(node causal.NodeID, fn func(tx *crdt.Builder) error) (api.Token, error) {
	dot := causal.Dot{Node: node, Counter: b.ks.Context().Vector.Get(node) + 1}
	tx := b.ks.Begin(dot, b.clock.Now(b.NowMs()))
	if err := fn(tx); err != nil {
		return api.Token{}, err
	}
	if tx.Empty() {
		return api.Token{}, nil
	}
	txn := tx.Finish()
	if err := b.ks.Apply(txn); err != nil {
		return api.Token{}, fmt.Errorf("apitest: apply own transaction: %w", err)
	}
	b.publishLocked(txn, node)
	return api.Token{Dot: dot}, nil
}

// Concurrent makes one transaction per fn, each by a distinct fake node
// ("<name>-c1", "<name>-c2", ...) and all begun on the same state, then
// applies them in order: the transactions are concurrent, as writes made
// on different replicas during a partition are. It returns their tokens.
// If any fn fails nothing is applied.
func (b *Backend) Concurrent(fns ...func(tx *crdt.Builder) error) ([]api.Token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, api.ErrStopped
	}
	txns := make([]*crdt.Txn, 0, len(fns))
	nodes := make([]causal.NodeID, 0, len(fns))
	for i, fn := range fns {
		node := causal.NodeIDFromName(fmt.Sprintf("%s-c%d", b.name, i+1))
		dot := causal.Dot{Node: node, Counter: b.ks.Context().Vector.Get(node) + 1}
		tx := b.ks.Begin(dot, b.clock.Now(b.NowMs()))
		if err := fn(tx); err != nil {
			return nil, err
		}
		if tx.Empty() {
			continue
		}
		txns = append(txns, tx.Finish())
		nodes = append(nodes, node)
	}
	tokens := make([]api.Token, 0, len(txns))
	for i, txn := range txns {
		if err := b.ks.Apply(txn); err != nil {
			return tokens, fmt.Errorf("apitest: apply concurrent transaction: %w", err)
		}
		b.publishLocked(txn, nodes[i])
		tokens = append(tokens, api.Token{Dot: txn.Dot})
	}
	return tokens, nil
}

// Wait returns 1 (this node) at once when n ≤ 1 and t was applied here;
// otherwise it blocks until ctx ends, as a cluster of one can never reach
// more members.
func (b *Backend) Wait(ctx context.Context, t api.Token, n int) (int, error) {
	b.mu.Lock()
	have := t.IsZero() || b.ks.Context().Contains(t.Dot)
	b.mu.Unlock()
	if have && n <= 1 {
		return 1, nil
	}
	<-ctx.Done()
	if have {
		return 1, ctx.Err()
	}
	return 0, ctx.Err()
}

// Status reports this node as the only member.
func (b *Backend) Status() api.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	applied := map[string]uint64{}
	for _, e := range b.ks.Context().Vector.Entries() {
		name := e.Node.String()
		if e.Node == b.id {
			name = b.name
		}
		applied[name] = e.Counter
	}
	collapsed := make(map[string]uint64, len(applied))
	self := make(map[string]uint64, len(applied))
	for k, v := range applied {
		collapsed[k] = v
		self[k] = v
	}
	return api.Status{
		ID:        b.id,
		Name:      b.name,
		Cluster:   ClusterName,
		Keys:      b.ks.Len(),
		StateHash: fmt.Sprintf("%016x", b.ks.Hash()),
		Applied:   applied,
		Collapsed: collapsed,
		Members:   []api.MemberStatus{{ID: b.id, Name: b.name, State: "self", Applied: self}},
	}
}

// Watch subscribes to changes of keys starting with prefix.
func (b *Backend) Watch(prefix []byte, buffer int) api.Subscription {
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	buffer = min(buffer, MaxWatchBuffer)
	s := &subscription{b: b, prefix: bytes.Clone(prefix), c: make(chan api.Change, buffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.c)
		s.ended = true
		return s
	}
	b.watchers[s] = struct{}{}
	return s
}

// publishLocked sends one Change per key of txn to every matching watcher.
func (b *Backend) publishLocked(txn *crdt.Txn, origin causal.NodeID) {
	if len(b.watchers) == 0 {
		return
	}
	txn.Keys(func(key []byte) bool {
		ch := api.Change{Key: bytes.Clone(key), Origin: origin, Deleted: true}
		if v := b.ks.Get(key); v != nil {
			ch.Type = v.Type()
			ch.Deleted = ch.Type == crdt.TypeNone
		}
		ch.Expired = ch.Deleted && b.ks.LastApplyExpired(key)
		for s := range b.watchers {
			if !bytes.HasPrefix(key, s.prefix) {
				continue
			}
			select {
			case s.c <- ch:
			default:
				s.endLocked(api.ErrWatchOverflow)
			}
		}
		return true
	})
}

type subscription struct {
	b      *Backend
	prefix []byte
	c      chan api.Change
	err    error // guarded by b.mu
	ended  bool  // guarded by b.mu
}

func (s *subscription) C() <-chan api.Change { return s.c }

func (s *subscription) Err() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.endLocked(nil)
}

func (s *subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended = true
	s.err = err
	close(s.c)
	delete(s.b.watchers, s)
}
