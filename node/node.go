package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// Node runs one replica. It implements api.Backend. Create it with Start;
// Close stops it.
type Node struct {
	cfg Config
	log *slog.Logger

	// auditMu orders audit reads of the history (read lock) against
	// retention rewriting its base and trimming the log (retention.go).
	auditMu sync.RWMutex
	// atReads caches the states point-in-time reads rebuild and bounds
	// the rebuilds (atread.go).
	atReads atReads

	// mu guards the replica's state. Only the loop goroutine changes it,
	// holding mu for writing while it does; readers (View, Status, Wait,
	// the peers' address lookups) hold it for reading. The replica is
	// settled (replica.Settle) before the loop lets go of mu, so
	// concurrent readers change nothing.
	mu   sync.RWMutex
	core *driver.Core
	r    *replica.Replica // core.Replica(): reads under mu

	// failed holds the fail-stop cause once the node failed, for readers
	// that do not take mu (readiness, Update's fast refusal).
	failed atomic.Pointer[error]

	requests chan *request // client writes and admin actions, to the loop
	// curFn is the client function the loop is proposing; runCurFn, made
	// once, runs it through unlockedDuring (no closure per write).
	curFn    func(b *crdt.Builder) error
	runCurFn func(b *crdt.Builder) error
	inbound  chan inbound  // peer messages and link events, to the loop
	synced   chan syncDone // completed disk rounds, to the loop
	// disk writes the log off the loop (policies batch and always); nil
	// without a data directory or under policy none.
	disk *disk

	// Wait callers park on changed, which the loop closes and replaces
	// after a pass while waiting > 0.
	waitMu  sync.Mutex
	changed chan struct{}
	waiting int

	eventsMu sync.Mutex
	events   []api.Event // recent events, newest last, at most maxRecentEvents

	advertise string         // the address peers dial to reach this node
	joinPeers []replica.Peer // the peers found at Config.Join addresses

	store          *storage.Store // nil when DataDir is empty
	lastIndex      uint64         // index of the last record the loop appended (policy none only)
	recordsSinceSn int            // records handed out since the last snapshot (loop only)

	stop     chan struct{} // closed by Close
	loopDone chan struct{} // closed when the loop has answered its last request
	wg       sync.WaitGroup
	closeMu  sync.Once

	guard   guard // data-directory identity and removal state (removal.go)
	peers   *peerSet
	pub     *publisher // cluster-wide PUBLISH (publish.go)
	ingress *ingress
	watch   *watchers
	metrics *metrics
}

var _ api.Backend = (*Node)(nil)

const (
	// maxRecentEvents bounds the events Status reports.
	maxRecentEvents = 32
	// MaxQueuedRequests bounds client writes waiting for the loop; a
	// client beyond it waits in Update (or gives up with its context).
	MaxQueuedRequests = 4096
	// MaxQueuedMessages bounds peer messages waiting for the loop; a peer
	// link beyond it stops being read, so TCP pushes back on the sender.
	MaxQueuedMessages = 4096
	// maxPassRequests and maxPassMessages bound what one loop pass takes,
	// so ticks and syncs are never starved by a flood of either.
	maxPassRequests = 1024
	maxPassMessages = 1024
	// metricsEvery is how often the loop refreshes gauges from Status.
	metricsEvery = 100 * time.Millisecond
)

// Start opens the data directory, restores the replica, starts listening
// on cfg.Listen and connects to peers.
func Start(cfg Config) (*Node, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger.With("node", cfg.Name),
		changed:  make(chan struct{}),
		requests: make(chan *request, MaxQueuedRequests),
		inbound:  make(chan inbound, MaxQueuedMessages),
		synced:   make(chan syncDone, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		watch:    newWatchers(),
		metrics:  newMetrics(),
	}
	n.runCurFn = n.unlockedDuring(func(b *crdt.Builder) error { return n.curFn(b) })

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
	rcfg.Name, rcfg.Addr, rcfg.Cluster, rcfg.Region = cfg.Name, n.advertise, cfg.Cluster, cfg.Region
	rcfg.Members = cfg.Members
	rcfg.Seed = uint64(cfg.now().UnixNano())
	rcfg.NowMs = uint64(cfg.now().UnixMilli())
	// A want outlives the decrement that made it (config.go).
	rcfg.BCounterWantTicks = bcounterWantTicks(rcfg.BCounterWantTicks, cfg.TickInterval)
	if err := cfg.auditConfig(&rcfg); err != nil { // audit.go
		ln.Close()
		return nil, err
	}
	n.peers = newPeerSet(n)
	n.pub = newPublisher(uint64(cfg.now().UnixNano()))
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
	if n.store != nil && n.cfg.Fsync != storage.SyncNone {
		n.disk = newDisk(n.store)
	}
	n.wg.Add(1)
	go n.loop()
	n.wg.Add(1)
	go n.reclaimLoop()
	n.wg.Add(1)
	go n.deliverPublishes()
	if n.disk != nil {
		n.wg.Add(1)
		go n.runDisk(n.disk)
	}
	if n.cfg.AuditKeysDir != "" {
		n.wg.Add(1)
		go n.auditKeysLoop() // auditkeys.go
	}
	if n.store != nil && n.cfg.AuditKeysDir != "" && !n.cfg.AuditRetention.keepsAll() {
		n.wg.Add(1)
		go n.retentionLoop() // retention.go
	}
	n.log.Info("started", "addr", n.advertise, "data", cfg.DataDir, "fsync", cfg.Fsync.String(),
		"members", len(cfg.Members), "join", cfg.Join, "region", cfg.Region)
	return n, nil
}

// policy maps the node's storage policy to the driver core's.
func (n *Node) policy() driver.Policy {
	switch {
	case n.store == nil:
		return driver.Memory
	case n.cfg.Fsync == storage.SyncAlways:
		return driver.Always
	case n.cfg.Fsync == storage.SyncNone:
		return driver.None
	}
	return driver.Batch
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
		// Audit mode keeps the whole history; its retention policy trims
		// it (retention.go; docs/audit.md, "Retention").
		store, err := storage.OpenStore(n.cfg.fs, n.cfg.DataDir, storage.StoreOptions{KeepLog: n.cfg.AuditKeysDir != "",
			Log: storage.LogOptions{MaxSegmentBytes: n.cfg.logSegmentBytes}})
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
	n.core = driver.New(driver.Config{Policy: n.policy(), MaxWindowBytes: n.cfg.MaxPeerWindowBytes}, r)
	return nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() string { return n.ingress.addr() }

// Failed returns the fail-stop cause, or nil while the node is healthy.
func (n *Node) Failed() error {
	if p := n.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// ready reports whether the node serves writes (for /readyz).
func (n *Node) ready() error {
	if err := n.Failed(); err != nil {
		return fmt.Errorf("fail-stop: %w", err)
	}
	if err := n.ingress.err(); err != nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
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
		// Order matters. Stopping first makes the loop refuse new writes,
		// persist, sync and answer everything it accepted, and queue the
		// messages that carry it; clients blocked in Wait wake. Only then
		// do the client servers shut down and the peer links flush their
		// queues and close.
		close(n.stop)
		n.wg.Wait()
		n.ingress.close()
		n.peers.close()
		n.watch.closeAll(api.ErrStopped)
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

// stopped reports whether Close has begun.
func (n *Node) stopped() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// deliver hands a decoded peer message to the loop. It blocks while the
// loop's queue is full (so the link stops being read and TCP pushes back)
// and gives up when the node stops.
func (n *Node) deliver(from causal.NodeID, m replica.Message) {
	select {
	case n.inbound <- inbound{from: from, msg: m}:
	case <-n.stop:
	}
}

// linkDown tells the loop that the outbound link to peer broke.
func (n *Node) linkDown(peer causal.NodeID) {
	select {
	case n.inbound <- inbound{from: peer, linkDown: true}:
	case <-n.stop:
	}
}

// View implements api.Backend. fn runs under the node's read lock: it may
// call View, Get and Status again, but must not block.
func (n *Node) View(fn func(ks *crdt.Keyspace) error) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return fn(n.r.Keyspace())
}

// Update implements api.Backend. fn runs on the node's loop (the one
// goroutine that changes state, like a Redis script): it may read through
// the builder and through View or Get, but must not block, since writes
// and peer messages wait while it runs.
//
// The outcome is exact: nil means written (applied, and durable per the
// fsync policy); an error wrapping api.ErrUnknownOutcome means the write
// was applied in memory but the node failed, stopped or the caller gave up
// before its promise held; any other error means nothing was written.
//
// A client user in ctx (api.WithUser) makes it a write of that user: it
// is refused (an error matching audit.ErrNoRights, nothing written) if
// the write-rights policy in force has user rules that do not grant the
// user every key the transaction writes (docs/audit.md, "Write rights").
func (n *Node) Update(ctx context.Context, fn func(b *crdt.Builder) error) (api.Token, error) {
	req := requestPool.Get().(*request)
	req.fn, req.user = fn, api.UserOf(ctx)
	res, reusable := n.submit(ctx, req)
	if reusable {
		req.reset()
		requestPool.Put(req)
	}
	if res.err == nil && !res.tok.IsZero() {
		n.metrics.writes.Inc()
		n.metrics.trackCollapse(res.tok, n.cfg.now())
	}
	return api.Token{Dot: res.tok}, res.err
}

// requestPool holds the requests (and their done channels) of Update
// calls the loop is finished with: one fewer allocation pair per write.
var requestPool = sync.Pool{New: func() any { return &request{done: make(chan result, 1)} }}

// reset clears a request the loop is finished with for reuse; its done
// channel is empty and stays.
func (r *request) reset() {
	*r = request{done: r.done}
}

// submit queues req for the loop and waits for its answer. reusable
// reports that the loop never held req or is finished with it (it will
// not touch req or its done channel again, which is empty).
func (n *Node) submit(ctx context.Context, req *request) (res result, reusable bool) {
	if err := n.Failed(); err != nil {
		return result{err: fmt.Errorf("%w: %v", api.ErrReadOnly, err)}, true
	}
	if n.stopped() {
		return result{err: api.ErrStopped}, true
	}
	if err := ctx.Err(); err != nil {
		return result{err: err}, true
	}
	if req.done == nil {
		req.done = make(chan result, 1)
	}
	select {
	case n.requests <- req:
	case <-ctx.Done():
		return result{err: ctx.Err()}, true
	case <-n.stop:
		return result{err: api.ErrStopped}, true
	}
	select {
	case res := <-req.done:
		return res, true
	case <-ctx.Done():
		return n.abandon(req, ctx.Err()), false
	case <-n.loopDone:
		return n.abandon(req, api.ErrStopped), false
	}
}

// abandon settles a request its caller stops waiting for: not done if the
// loop never took it, else whatever the loop answered, or unknown.
func (n *Node) abandon(req *request, cause error) result {
	if req.state.CompareAndSwap(requestQueued, requestAbandoned) {
		return result{err: cause} // the loop will skip it: nothing written
	}
	select {
	case res := <-req.done:
		return res
	default:
	}
	return result{err: fmt.Errorf("%w: %w", api.ErrUnknownOutcome, cause)}
}

// Wait implements api.Backend. want ≤ 0 waits for collapse: every
// current member has t (re-checked on every wake-up, since members and
// what they have applied change while waiting).
func (n *Node) Wait(ctx context.Context, t api.Token, want int) (int, error) {
	return n.wait(ctx, t, want, (*replica.Replica).AppliedBy, (*replica.Replica).Collapsed)
}

var _ api.RegionWaiter = (*Node)(nil)

// WaitRegion implements api.RegionWaiter: Wait over the current members
// of this node's region only; want ≤ 0 waits for region collapse.
func (n *Node) WaitRegion(ctx context.Context, t api.Token, want int) (int, error) {
	return n.wait(ctx, t, want, (*replica.Replica).AppliedByRegion, (*replica.Replica).RegionCollapsed)
}

// wait blocks until appliedBy(t) reaches want, or, for want ≤ 0, until
// collapsed(t); both are called on the replica under n.mu.
func (n *Node) wait(ctx context.Context, t api.Token, want int,
	appliedByFn func(*replica.Replica, replica.Token) int, collapsedFn func(*replica.Replica, replica.Token) bool) (int, error) {
	appliedBy := func(d replica.Token) int { return appliedByFn(n.r, d) }
	collapsed := func(d replica.Token) bool { return collapsedFn(n.r, d) }
	for {
		n.mu.RLock()
		have := appliedBy(t.Dot)
		done := have >= want
		if want <= 0 {
			done = t.IsZero() || collapsed(t.Dot)
		}
		n.mu.RUnlock()
		if done {
			return have, nil
		}
		n.waitMu.Lock()
		ch := n.changed
		n.waiting++
		n.waitMu.Unlock()
		// Re-check under the new channel: the loop may have moved between
		// the check above and taking ch.
		n.mu.RLock()
		moved := appliedBy(t.Dot) != have || (want <= 0 && collapsed(t.Dot))
		n.mu.RUnlock()
		var err error
		if !moved {
			select {
			case <-ch:
			case <-ctx.Done():
				err = ctx.Err()
			case <-n.stop:
				err = api.ErrStopped
			}
		}
		n.waitMu.Lock()
		n.waiting--
		n.waitMu.Unlock()
		if err != nil {
			return have, err
		}
	}
}

// wakeWaiters wakes every Wait call to look at the replica again. It
// makes no channel when no one waits.
func (n *Node) wakeWaiters() {
	n.waitMu.Lock()
	if n.waiting > 0 {
		close(n.changed)
		n.changed = make(chan struct{})
	}
	n.waitMu.Unlock()
}

// Watch implements api.Backend.
func (n *Node) Watch(prefix []byte, buffer int) api.Subscription {
	if n.stopped() {
		return closedSubscription{}
	}
	return n.watch.add(prefix, buffer)
}

// Status implements api.Backend.
func (n *Node) Status() api.Status {
	n.mu.RLock()
	st := n.r.Status()
	n.mu.RUnlock()
	n.eventsMu.Lock()
	events := append([]api.Event(nil), n.events...)
	n.eventsMu.Unlock()
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
		Region: st.Region, RegionCollapsed: byName(st.RegionCollapsed),
		Events: events,
	}
	if err := n.Failed(); err != nil {
		out.Failed = err.Error()
	}
	for _, m := range st.Members {
		state := m.State.String()
		if m.Self {
			state = "self"
		}
		lag := st.Applied.Sum() - min(st.Applied.Sum(), m.Applied.Sum())
		out.Members = append(out.Members, api.MemberStatus{
			ID: m.ID, Name: m.Name, Addr: m.Addr, Region: m.Region, State: state,
			Applied: byName(m.Applied), LagTxns: lag, BehindLog: m.BehindLog,
		})
	}
	return out
}

// Remove marks a dead member removed (operator action), so collapse no
// longer waits for it.
func (n *Node) Remove(name string) (api.Token, error) {
	return n.RemoveMember(context.Background(), name)
}

var _ api.Admin = (*Node)(nil)

// RemoveMember implements api.Admin.
func (n *Node) RemoveMember(ctx context.Context, name string) (api.Token, error) {
	res, _ := n.submit(ctx, &request{action: func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
		return c.Remove(t, causal.NodeIDFromName(name))
	}})
	return api.Token{Dot: res.tok}, res.err
}

// closedSubscription is what Watch returns once the node is closing: its
// channel is closed at once and Err says why.
type closedSubscription struct{}

var closedChanges = func() chan api.Change { c := make(chan api.Change); close(c); return c }()

func (closedSubscription) C() <-chan api.Change { return closedChanges }
func (closedSubscription) Err() error           { return api.ErrStopped }
func (closedSubscription) Close()               {}
