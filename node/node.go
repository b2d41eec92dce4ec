package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// Node runs one replica. It implements api.Backend. Create it with Start;
// Close stops it.
type Node struct {
	cfg Config
	log *slog.Logger

	// mu guards the replica and everything below it up to the next blank
	// line. It is held for short, bounded work: a Propose, a Step, a Tick,
	// taking a Ready, a read through View.
	mu       sync.Mutex
	r        *replica.Replica
	proposed uint64        // local transactions proposed so far (a sequence, not a dot)
	changed  chan struct{} // closed and replaced whenever the replica's state moved and someone waits
	waiting  int           // Wait calls blocked on changed
	failed   error         // fail-stop cause (an I/O error); writes refused once set
	closing  bool          // the loop has drained its last Ready; writes refused
	events   []string      // recent events, newest last, at most maxRecentEvents

	// durable is the proposal sequence known durable under the fsync
	// policy; durableCond wakes Update calls waiting on it (always policy).
	durMu       sync.Mutex
	durable     uint64
	durableCond *sync.Cond

	advertise string         // the address peers dial to reach this node
	joinPeers []replica.Peer // the peers found at Config.Join addresses

	store          *storage.Store // nil when DataDir is empty
	lastIndex      uint64         // index of the last log record appended
	recordsSinceSn int            // records appended since the last snapshot

	kick    chan struct{} // wakes the loop: there may be a Ready
	stop    chan struct{} // closed by Close
	wg      sync.WaitGroup
	closeMu sync.Once

	guard   guard // data-directory identity and removal state (removal.go)
	peers   *peerSet
	ingress *ingress
	watch   *watchers
	metrics *metrics
}

var _ api.Backend = (*Node)(nil)

// maxRecentEvents bounds the events Status reports.
const maxRecentEvents = 32

// Start opens the data directory, restores the replica, starts listening
// on cfg.Listen and connects to peers.
func Start(cfg Config) (*Node, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.Name),
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		watch:   newWatchers(),
		metrics: newMetrics(),
	}
	n.durableCond = sync.NewCond(&n.durMu)

	// Listen first: the advertised address must be known before the
	// replica writes its membership record.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("node: listen %s: %w", cfg.Listen, err)
	}
	n.advertise = cfg.Advertise
	if n.advertise == "" {
		n.advertise = ln.Addr().String()
	}

	rcfg := cfg.Replica
	rcfg.Name, rcfg.Addr, rcfg.Cluster = cfg.Name, n.advertise, cfg.Cluster
	rcfg.Members = cfg.Members
	rcfg.Seed = uint64(cfg.now().UnixNano())
	rcfg.NowMs = uint64(cfg.now().UnixMilli())
	n.peers = newPeerSet(n)
	if err := n.restore(rcfg); err != nil {
		ln.Close()
		return nil, err
	}

	n.ingress, err = startIngress(n, ln)
	if err != nil {
		ln.Close()
		n.closeStore()
		return nil, err
	}
	n.wg.Add(1)
	go n.loop()
	n.log.Info("started", "addr", n.advertise, "data", cfg.DataDir, "fsync", cfg.Fsync.String(),
		"members", len(cfg.Members), "join", cfg.Join)
	n.signal()
	return n, nil
}

// restore opens storage and rebuilds the replica from the newest snapshot
// and the log records after it. A node with no state and Config.Join asks
// the join addresses who they are first, so the replica can fetch a
// snapshot from them; a node that already holds state (a joined node
// restarting) restores from it and ignores Join, so it can restart while
// cut off from those addresses.
func (n *Node) restore(rcfg replica.Config) error {
	var snapshot []byte
	var records [][]byte
	if n.cfg.DataDir != "" {
		store, err := storage.OpenStore(vfs.OS{}, n.cfg.DataDir, storage.StoreOptions{})
		if err != nil {
			return fmt.Errorf("node: open data directory %s: %w", n.cfg.DataDir, err)
		}
		if err := n.checkDataDir(store); err != nil { // identity and recovery (removal.go)
			store.Close()
			return err
		}
		for _, skipped := range store.SkippedSnapshots() {
			n.log.Warn("skipped an invalid snapshot", "err", skipped)
		}
		if s := store.Snapshot(); s != nil {
			snapshot = s.Data
		}
		if err := store.Replay(func(index uint64, payload []byte) error {
			records = append(records, append([]byte(nil), payload...))
			return nil
		}); err != nil {
			store.Close()
			return fmt.Errorf("node: replay log: %w", err)
		}
		n.store = store
		n.lastIndex = store.Log().LastIndex()
	}
	hasState := snapshot != nil || len(records) > 0
	switch {
	case len(n.cfg.Join) > 0 && hasState:
		n.log.Info("data directory holds state; restoring from it, --join not needed", "data", n.cfg.DataDir)
	case len(n.cfg.Join) > 0:
		joinPeers, err := n.peers.identify(n.cfg.Join)
		if err != nil {
			n.closeStore()
			return err
		}
		n.joinPeers, rcfg.Join = joinPeers, joinPeers
	}
	started := time.Now()
	r, err := replica.Restore(rcfg, snapshot, records)
	if err != nil {
		n.closeStore()
		return fmt.Errorf("node: restore from %q: %w", n.cfg.DataDir, err)
	}
	n.restoreRemoval(r) // removal.go
	if hasState {
		n.log.Info("restored", "snapshot_bytes", len(snapshot), "records", len(records),
			"elapsed", time.Since(started).Round(time.Millisecond))
	}
	if n.store != nil {
		n.store.ReleaseSnapshotData() // the replica holds the state now
	}
	n.r = r
	return nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.ingress.addr() }

// ready reports whether the node serves writes (for /readyz).
func (n *Node) ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failed != nil {
		return n.failed
	}
	if st := n.r.Status(); st.State != replica.NodeMember {
		return fmt.Errorf("node is %s", st.State)
	}
	return nil
}

// advertised is the address peers dial to reach this node.
func (n *Node) advertised() string { return n.advertise }

// ID is the node's ID.
func (n *Node) ID() causal.NodeID { return causal.NodeIDFromName(n.cfg.Name) }

// Close stops the node: it stops accepting clients and peers, flushes what
// was acknowledged to the log (syncing it) and to peer links, and returns.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		// Order matters. Stopping first wakes clients blocked in Wait or
		// waitDurable, so the client servers can then shut down without
		// waiting on them; the loop drains its last Ready (persisting and
		// queueing everything acknowledged) and refuses later writes; only
		// then do the peer links flush their queues and close.
		close(n.stop)
		n.wg.Wait()
		n.ingress.close()
		n.peers.close()
		n.watch.closeAll(api.ErrStopped)
		n.durMu.Lock()
		n.durableCond.Broadcast()
		n.durMu.Unlock()
		err = n.closeStore()
		n.log.Info("stopped")
	})
	return err
}

func (n *Node) closeStore() error {
	if n.store == nil {
		return nil
	}
	return n.store.Close()
}

// signal wakes the loop without blocking.
func (n *Node) signal() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// stopped reports whether Close has begun.
func (n *Node) stopped() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// step hands one decoded message to the replica. Every message may move
// what a peer is known to have applied (acks produce no Ready output), so
// it wakes Wait callers itself rather than leaving them to the next Ready.
func (n *Node) step(from causal.NodeID, m replica.Message) {
	n.mu.Lock()
	err := n.r.Step(from, m)
	n.wakeWaiters()
	n.mu.Unlock()
	if err != nil {
		n.log.Debug("message refused", "from", from, "err", err)
	}
	n.signal()
}

// wakeWaiters wakes every Wait call to look at the replica again. It is
// called for every stepped message, so it costs nothing (no channel is
// made) when no one waits. Called with n.mu held.
func (n *Node) wakeWaiters() {
	if n.waiting == 0 {
		return
	}
	close(n.changed)
	n.changed = make(chan struct{})
}

// View implements api.Backend.
func (n *Node) View(fn func(ks *crdt.Keyspace) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fn(n.r.Keyspace())
}

// Update implements api.Backend.
func (n *Node) Update(ctx context.Context, fn func(b *crdt.Builder) error) (api.Token, error) {
	if n.stopped() {
		return api.Token{}, api.ErrStopped
	}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return api.Token{}, api.ErrStopped
	}
	if n.failed != nil {
		n.mu.Unlock()
		return api.Token{}, fmt.Errorf("%w: %v", api.ErrReadOnly, n.failed)
	}
	tok, err := n.r.Propose(fn)
	if err != nil {
		n.mu.Unlock()
		return api.Token{}, writeError(err) // removal.go
	}
	if tok.IsZero() { // an empty transaction: nothing to make durable
		n.mu.Unlock()
		return api.Token{}, nil
	}
	n.proposed++
	seq := n.proposed
	n.mu.Unlock()
	n.metrics.writes.Inc()
	n.metrics.trackCollapse(tok, n.cfg.now())
	n.signal()
	if n.cfg.Fsync == storage.SyncAlways && n.store != nil {
		if err := n.waitDurable(ctx, seq); err != nil {
			return api.Token{}, err
		}
	}
	return api.Token{Dot: tok}, nil
}

// waitDurable blocks until proposal seq is synced, the node fails, or ctx
// ends. A write whose wait is cut short by ctx may still become durable.
func (n *Node) waitDurable(ctx context.Context, seq uint64) error {
	stopWatch := context.AfterFunc(ctx, func() {
		n.durMu.Lock()
		n.durableCond.Broadcast()
		n.durMu.Unlock()
	})
	defer stopWatch()
	n.durMu.Lock()
	defer n.durMu.Unlock()
	for n.durable < seq {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.stopped() {
			return api.ErrStopped
		}
		n.mu.Lock()
		failed := n.failed
		n.mu.Unlock()
		if failed != nil {
			return fmt.Errorf("%w: %v", api.ErrStopped, failed)
		}
		n.durableCond.Wait()
	}
	return nil
}

// markDurable records that every proposal up to seq is durable.
func (n *Node) markDurable(seq uint64) {
	n.durMu.Lock()
	if seq > n.durable {
		n.durable = seq
	}
	n.durableCond.Broadcast()
	n.durMu.Unlock()
}

// Wait implements api.Backend. want ≤ 0 waits for collapse: every
// current member has t (re-checked on every wake-up, since members and
// what they have applied change while waiting).
func (n *Node) Wait(ctx context.Context, t api.Token, want int) (int, error) {
	for {
		n.mu.Lock()
		have := n.r.AppliedBy(t.Dot)
		done := have >= want
		if want <= 0 {
			done = t.IsZero() || n.r.Collapsed(t.Dot)
		}
		if done {
			n.mu.Unlock()
			return have, nil
		}
		ch := n.changed
		n.waiting++
		n.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		case <-n.stop:
			err = api.ErrStopped
		}
		n.mu.Lock()
		n.waiting--
		n.mu.Unlock()
		if err != nil {
			return have, err
		}
	}
}

// Watch implements api.Backend.
func (n *Node) Watch(prefix []byte, buffer int) api.Subscription {
	return n.watch.add(prefix, buffer)
}

// Status implements api.Backend.
func (n *Node) Status() api.Status {
	n.mu.Lock()
	st := n.r.Status()
	events := append([]string(nil), n.events...)
	n.mu.Unlock()
	names := map[causal.NodeID]string{}
	for _, m := range st.Members {
		names[m.ID] = m.Name
	}
	byName := func(v causal.VersionVector) map[string]uint64 {
		out := make(map[string]uint64, v.Len())
		for _, e := range v.Entries() {
			name := names[e.Node]
			if name == "" {
				name = e.Node.String()
			}
			out[name] = e.Counter
		}
		return out
	}
	out := api.Status{
		ID: st.ID, Name: st.Name, Cluster: st.Cluster, Keys: st.Keys,
		StateHash: fmt.Sprintf("%016x", st.Hash),
		Applied:   byName(st.Applied), Collapsed: byName(st.Collapsed),
		Events: events,
	}
	for _, m := range st.Members {
		state := m.State.String()
		if m.Self {
			state = "self"
		}
		lag := st.Applied.Sum() - min(st.Applied.Sum(), m.Applied.Sum())
		out.Members = append(out.Members, api.MemberStatus{
			ID: m.ID, Name: m.Name, Addr: m.Addr, State: state,
			Applied: byName(m.Applied), LagTxns: lag,
		})
	}
	return out
}

// Remove marks a dead member removed (operator action), so collapse no
// longer waits for it.
func (n *Node) Remove(name string) (api.Token, error) {
	n.mu.Lock()
	tok, err := n.r.Remove(causal.NodeIDFromName(name))
	n.mu.Unlock()
	n.signal()
	return api.Token{Dot: tok}, err
}

var _ api.Admin = (*Node)(nil)

// RemoveMember implements api.Admin.
func (n *Node) RemoveMember(ctx context.Context, name string) (api.Token, error) {
	if n.stopped() {
		return api.Token{}, api.ErrStopped
	}
	return n.Remove(name)
}
