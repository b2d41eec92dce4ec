package node

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// Point-in-time reads (GET /v1/kv/KEY?at=N, SPOOK.GETAT) and replays
// (GET /v1/audit/replay?to=N) need the state at a checkpoint, which only
// a pass over the node's history rebuilds (stateAt: it verifies the
// history, then replays it up to the checkpoint's cut); a proof (GET
// /v1/audit/proof) needs a verifying pass. Two things keep a client from
// making the node do that work per request, or many passes at once:
//
//   - The states rebuilt last are kept, up to MaxAtReadStates of at most
//     MaxAtReadStateBytes each, least recently used evicted first. A
//     checkpoint's state never changes once the checkpoint is logged, so
//     an entry never goes stale; but retention may drop the history a
//     checkpoint needs, so the cache is used only while no retention
//     base exists (AuditBaseFile: nothing dropped yet). Once one does,
//     every request takes the uncached path, which answers as before
//     (rebuilt from the archive, or refused with errRetained).
//   - At most MaxAtReadRebuilds rebuilds and proofs run at once. A
//     request that needs one waits for a slot with its context; at most
//     MaxAtReadWaiters wait, and one more is refused at once with
//     api.ErrAtReadBusy. A waiter that gets its slot looks in the cache
//     again first, so concurrent requests for one checkpoint cost one
//     pass.
//
// A kept state is read by many requests at once: readers must not
// change it (crdt.Keyspace reads are safe to run concurrently, as the
// live state's View readers are).

// Point-in-time read limits.
const (
	// MaxAtReadStates bounds the rebuilt states kept, in states; when
	// it is reached, keeping one more evicts the least recently used.
	MaxAtReadStates = 4
	// MaxAtReadStateBytes bounds one kept state, in bytes of its
	// encoded keys and values (the in-memory form is a small multiple);
	// a larger state is served and not kept, so the next read of its
	// checkpoint rebuilds it. With MaxAtReadStates it bounds the cache
	// near 4 × 64 MiB of encoded state.
	MaxAtReadStateBytes = 64 << 20
	// MaxAtReadRebuilds bounds the rebuilds from the history and the
	// proofs running at once (each is a pass over the whole history);
	// further requests wait for a slot.
	MaxAtReadRebuilds = 1
	// MaxAtReadWaiters bounds the requests waiting for a rebuild slot;
	// one more gets api.ErrAtReadBusy (HTTP 503, RESP -BUSY).
	MaxAtReadWaiters = 16
)

// atReads holds the kept states and the rebuild slots. The zero value is
// ready; the slots are made on first use.
type atReads struct {
	mu      sync.Mutex
	states  []atReadState // least recently used first; ≤ MaxAtReadStates
	slots   chan struct{} // one token per running rebuild; cap MaxAtReadRebuilds
	waiting atomic.Int64  // requests waiting for a slot; ≤ MaxAtReadWaiters

	// passes counts rebuilds from the history; active is the rebuilds
	// running now, maxActive the most seen at once. Tests read them.
	passes            atomic.Uint64
	active, maxActive atomic.Int64
	// rebuildHook, when set, runs inside each rebuild (tests).
	rebuildHook func()
}

// atReadState is one kept state.
type atReadState struct {
	index uint64
	ks    *crdt.Keyspace
	cp    replica.SignedCheckpoint
}

// lookup returns the kept state of checkpoint index and marks it used.
func (a *atReads) lookup(index uint64) (atReadState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.states, func(s atReadState) bool { return s.index == index })
	if i < 0 {
		return atReadState{}, false
	}
	s := a.states[i]
	a.states = append(slices.Delete(a.states, i, i+1), s)
	return s, true
}

// keep adds s, evicting the least recently used past MaxAtReadStates.
func (a *atReads) keep(s atReadState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.states = slices.DeleteFunc(a.states, func(x atReadState) bool { return x.index == s.index })
	if len(a.states) >= MaxAtReadStates {
		a.states = slices.Delete(a.states, 0, len(a.states)-MaxAtReadStates+1)
	}
	a.states = append(a.states, s)
}

// drop forgets every kept state.
func (a *atReads) drop() {
	a.mu.Lock()
	a.states = nil
	a.mu.Unlock()
}

// acquire takes a rebuild slot, waiting with ctx; api.ErrAtReadBusy if
// MaxAtReadWaiters already wait.
func (a *atReads) acquire(ctx context.Context) error {
	a.mu.Lock()
	if a.slots == nil {
		a.slots = make(chan struct{}, MaxAtReadRebuilds)
	}
	slots := a.slots
	a.mu.Unlock()
	select {
	case slots <- struct{}{}:
		return nil
	default:
	}
	if a.waiting.Add(1) > MaxAtReadWaiters {
		a.waiting.Add(-1)
		return api.ErrAtReadBusy
	}
	defer a.waiting.Add(-1)
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *atReads) release() { <-a.slots }

// stateAtCached is stateAt for point-in-time reads and replays: a kept
// state when there is one, else a rebuild in a slot, kept if small
// enough (see the top of this file). The state returned may be shared:
// it must not be changed.
func (n *Node) stateAtCached(ctx context.Context, index uint64) (*crdt.Keyspace, replica.SignedCheckpoint, error) {
	a := &n.atReads
	cacheable, err := n.historyWhole()
	if err != nil {
		return nil, replica.SignedCheckpoint{}, err
	}
	if !cacheable {
		a.drop()
	} else if s, ok := a.lookup(index); ok {
		return s.ks, s.cp, nil
	}
	if err := a.acquire(ctx); err != nil {
		return nil, replica.SignedCheckpoint{}, err
	}
	defer a.release()
	if s, ok := a.lookup(index); ok && cacheable { // built while this one waited
		return s.ks, s.cp, nil
	}
	ks, cp, err := n.rebuildAt(index)
	if err == nil && cacheable && stateBytes(ks, MaxAtReadStateBytes) <= MaxAtReadStateBytes {
		a.keep(atReadState{index: index, ks: ks, cp: cp})
	}
	return ks, cp, err
}

// rebuildAt runs stateAt, counted (passes, active) for tests.
func (n *Node) rebuildAt(index uint64) (*crdt.Keyspace, replica.SignedCheckpoint, error) {
	a := &n.atReads
	cur := a.active.Add(1)
	defer a.active.Add(-1)
	for m := a.maxActive.Load(); cur > m && !a.maxActive.CompareAndSwap(m, cur); m = a.maxActive.Load() {
	}
	if a.rebuildHook != nil {
		a.rebuildHook()
	}
	a.passes.Add(1)
	return n.stateAt(index)
}

// historyWhole reports whether retention has dropped nothing yet (no
// retention base): only then are rebuilt states kept and served. A node
// not in audit mode answers errAuditOff, as stateAt does.
func (n *Node) historyWhole() (bool, error) {
	if n.cfg.AuditKeysDir == "" || n.store == nil {
		return false, errAuditOff
	}
	n.auditMu.RLock()
	defer n.auditMu.RUnlock()
	_, err := n.cfg.fs.Stat(path.Join(n.cfg.DataDir, AuditBaseFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return false, err
	}
	return false, nil
}

// stateBytes is the encoded size of ks's keys and values, counted up to
// just past limit.
func stateBytes(ks *crdt.Keyspace, limit int) int {
	var total int
	var scratch []byte
	ks.RangeState(nil, func(key []byte, v *crdt.Value) bool {
		scratch = crdt.AppendValue(scratch[:0], v)
		total += len(key) + len(scratch)
		return total <= limit
	})
	return total
}
