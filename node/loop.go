package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// request is one client write (fn) or admin action, queued for the loop.
type request struct {
	fn     func(b *crdt.Builder) error
	action func(c *driver.Core, t driver.Ticket) (replica.Token, error)
	state  atomic.Int32 // requestQueued, then Taken by the loop or Abandoned by its caller
	done   chan result  // capacity 1: the loop never blocks answering
	// viaCore marks an action the core answers even when it wrote
	// nothing (a bundle import: answered once what it wrote is durable).
	viaCore bool
	tok     replica.Token
	n       int // action-specific count (bundle imports)
	// user is the client user fn writes for (api.UserOf of Update's
	// context), checked against the policy's user rules; "" for none.
	user string
}

const (
	requestQueued int32 = iota
	requestTaken
	requestAbandoned
)

// result is a request's answer; see Node.Update for what err means.
type result struct {
	tok replica.Token
	n   int
	err error
}

// inbound is one peer message, or news from a link: that the outbound
// link to a peer broke (linkDown), or that a member refused this node as
// removed at removedAtMs.
type inbound struct {
	from        causal.NodeID
	msg         replica.Message
	linkDown    bool
	removedAtMs uint64
}

// syncDone reports a completed sync up to upTo, or its error.
type syncDone struct {
	upTo uint64
	err  error
}

// snapshotJob is a periodic snapshot to write once the log is synced.
type snapshotJob struct {
	index uint64
	data  []byte
}

// loop is the node's one writer: each pass takes what has arrived (client
// requests, peer messages, completed disk rounds, a tick), runs it through
// the driver core under mu, then does the core's output without holding
// mu: hands records to the disk goroutine, queues messages to peers,
// publishes changes and answers clients. Disk waits (append, fsync,
// snapshot files) happen on the disk goroutine, never here, except under
// policy none, where the loop appends (no fsync) before sending.
func (n *Node) loop() {
	defer n.wg.Done()
	defer close(n.loopDone)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	st := &loopState{tickets: map[driver.Ticket]*request{}}
	var p pass // reused: its slices keep their storage between passes
	for {
		p.reset()
		requests, inbound := n.requests, n.inbound
		busy := n.disk != nil && n.disk.full()
		if busy {
			// The disk is behind: take no new work until it catches up
			// (a nil channel is never ready).
			requests, inbound = nil, nil
		}
		select {
		case <-n.stop:
			n.shutdown(st)
			return
		case <-ticker.C:
			p.tick = true
		case req := <-requests:
			p.requests = append(p.requests, req)
		case m := <-inbound:
			p.inbound = append(p.inbound, m)
		case s := <-n.synced:
			p.synced = append(p.synced, s)
		}
		if busy {
			n.run(st, &p)
			continue
		}
		p.gather(n)
		n.run(st, &p)
	}
}

// loopState is what the loop keeps between passes.
type loopState struct {
	nextTicket  driver.Ticket
	tickets     map[driver.Ticket]*request // accepted writes awaiting an answer
	notSent     []replica.Envelope         // messages a full peer queue refused
	outs        []driver.Output            // run's buffer, empty between passes
	lastMetrics time.Time
}

// pass is what one loop pass handles.
type pass struct {
	tick     bool
	requests []*request
	inbound  []inbound
	synced   []syncDone
}

// reset empties p for the next pass, keeping its slices' storage (and
// dropping their references, so nothing handled stays reachable).
func (p *pass) reset() {
	clear(p.requests)
	clear(p.inbound)
	clear(p.synced)
	*p = pass{requests: p.requests[:0], inbound: p.inbound[:0], synced: p.synced[:0]}
}

// gather takes, without waiting, what else has arrived, up to the pass
// limits.
func (p *pass) gather(n *Node) {
	for {
		select {
		case req := <-n.requests:
			p.requests = append(p.requests, req)
			if len(p.requests) < maxPassRequests {
				continue
			}
		case m := <-n.inbound:
			p.inbound = append(p.inbound, m)
			if len(p.inbound) < maxPassMessages {
				continue
			}
		case s := <-n.synced:
			p.synced = append(p.synced, s)
			continue
		default:
		}
		return
	}
}

// run handles one pass: inputs into the core under mu, output after.
func (n *Node) run(st *loopState, p *pass) {
	n.mu.Lock()
	c := n.core
	for _, s := range p.synced {
		if s.err != nil {
			n.failLocked(s.err)
			continue
		}
		c.Synced(s.upTo)
	}
	for _, env := range st.notSent {
		c.NotSent(env)
	}
	st.notSent = st.notSent[:0]
	for _, m := range p.inbound {
		if m.linkDown {
			c.LinkDown(m.from)
			continue
		}
		if m.removedAtMs != 0 {
			c.MarkRemoved(m.removedAtMs)
			continue
		}
		if err := c.Step(m.from, m.msg); err != nil && c.Failed() == nil {
			n.log.Debug("message refused", "from", m.from, "err", err)
		}
	}
	for _, req := range p.requests {
		if !req.state.CompareAndSwap(requestQueued, requestTaken) {
			continue // its caller gave up before the loop got to it
		}
		n.propose(st, req)
	}
	if p.tick {
		c.Tick(uint64(n.cfg.now().UnixMilli()))
	}
	outs := n.drainLocked(st.outs[:0])
	due := n.snapshotDueLocked()
	n.r.Settle()
	n.mu.Unlock()
	var job *snapshotJob
	if due {
		// Encoding a large state takes a while: hold only the read lock,
		// so reads go on (nothing changes meanwhile: the loop is the only
		// writer, and it is here).
		n.mu.RLock()
		job = &snapshotJob{data: n.r.Snapshot()}
		n.mu.RUnlock()
	}

	n.wakeWaiters()
	for i := range outs {
		n.do(st, &outs[i])
	}
	clear(outs)
	st.outs = outs[:0]
	if job != nil {
		n.writeSnapshot(job)
	}
	if p.tick {
		n.peers.reconcile()
		if now := time.Now(); now.Sub(st.lastMetrics) >= metricsEvery {
			st.lastMetrics = now
			n.metrics.observe(n)
		}
	}
}

// propose runs one request through the core. Called with mu held.
func (n *Node) propose(st *loopState, req *request) {
	st.nextTicket++
	t := st.nextTicket
	var tok replica.Token
	var err error
	if req.fn != nil {
		n.curFn = req.fn
		tok, err = n.core.ProposeAs(t, req.user, n.runCurFn)
		n.curFn = nil
	} else {
		tok, err = req.action(n.core, t)
	}
	if err == nil && (!tok.IsZero() || req.viaCore) {
		req.tok = tok
		st.tickets[t] = req // answered through the core's Output
		return
	}
	req.done <- result{tok: tok, n: req.n, err: refusal(err)}
}

// unlockedDuring wraps a client's transaction function so that it runs
// with mu held for reading only: the loop is the only writer and stays
// inside the core while fn runs, so nothing changes underneath, and fn may
// itself read through View or Get without deadlocking. Called with mu held
// for writing; returns with it held for writing.
func (n *Node) unlockedDuring(fn func(b *crdt.Builder) error) func(b *crdt.Builder) error {
	return func(b *crdt.Builder) error {
		n.r.Settle()
		n.mu.Unlock()
		n.mu.RLock()
		defer func() {
			n.mu.RUnlock()
			n.mu.Lock()
		}()
		return fn(b)
	}
}

// refusal maps a core or replica refusal to the API's errors: nothing was
// written.
func refusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, driver.ErrFailed):
		return fmt.Errorf("%w: %v", api.ErrReadOnly, err)
	case errors.Is(err, driver.ErrClosed):
		return api.ErrStopped
	case errors.Is(err, replica.ErrReadOnly):
		return writeError(err) // removal.go: a removal, or read-only
	}
	return err
}

// drainLocked appends every Output the core has to outs. Called with mu
// held.
func (n *Node) drainLocked(outs []driver.Output) []driver.Output {
	for n.core.HasReady() {
		outs = append(outs, n.core.Ready())
	}
	return outs
}

// snapshotDueLocked reports whether a periodic snapshot is due: enough
// records were handed out since the last. Called with mu held.
func (n *Node) snapshotDueLocked() bool {
	if n.store == nil || n.recordsSinceSn < n.cfg.SnapshotEveryRecords || n.core.Failed() != nil {
		return false
	}
	n.recordsSinceSn = 0
	return true
}

// writeSnapshot has a periodic snapshot written after the records handed
// out so far: by the disk goroutine once they are durable, or here under
// policy none.
func (n *Node) writeSnapshot(job *snapshotJob) {
	if n.disk != nil {
		n.disk.submit(diskJob{periodic: job})
		return
	}
	if err := n.store.WriteSnapshot(n.lastIndex, job.data); err != nil {
		n.fail(fmt.Errorf("write snapshot: %w", err))
		return
	}
	n.log.Info("snapshot written", "index", n.lastIndex, "bytes", len(job.data))
}

// do carries out one Output in its order: persist, sync, send, publish,
// answer.
func (n *Node) do(st *loopState, out *driver.Output) {
	if n.disk != nil {
		if out.Snapshot != nil || len(out.Records) > 0 || out.SyncTo > 0 {
			n.disk.submit(diskJob{snapshot: out.Snapshot, records: out.Records, upTo: out.SyncTo})
		}
		n.recordsSinceSn += len(out.Records)
	} else if err := n.persist(out); err != nil {
		n.fail(err)
		// The writes this Output would answer (batch answers at once) are
		// applied but their records did not reach the log: unknown. The
		// core turns the writes it still holds into Unknown itself.
		out.Unknown = append(out.Unknown, out.Done...)
		out.Done = nil
	}
	for _, env := range out.Send {
		if !n.peers.send(env) {
			st.notSent = append(st.notSent, env)
		}
	}
	n.watch.publish(out.Changes)
	n.noteEvents(out.Events)
	for _, t := range out.Done {
		if req := st.tickets[t]; req != nil {
			delete(st.tickets, t)
			req.done <- result{tok: req.tok, n: req.n}
		}
	}
	for _, t := range out.Unknown {
		if req := st.tickets[t]; req != nil {
			delete(st.tickets, t)
			req.done <- result{tok: req.tok, err: fmt.Errorf("%w: %v", api.ErrUnknownOutcome, n.Failed())}
		}
	}
}

// persist writes an Output's snapshot and records to the log on the loop,
// under policy none (there is no disk goroutine then), and flushes them to
// the operating system before anything that advertises them leaves.
func (n *Node) persist(out *driver.Output) error {
	if n.store == nil {
		return nil
	}
	if out.Snapshot != nil {
		// A joining node's installed state replaces everything before it.
		if err := n.store.WriteSnapshot(n.lastIndex, out.Snapshot); err != nil {
			return fmt.Errorf("write join snapshot: %w", err)
		}
	}
	for _, rec := range out.Records {
		idx, err := n.store.Log().Append(rec)
		if err != nil {
			return fmt.Errorf("append log record: %w", err)
		}
		n.lastIndex = idx
		n.recordsSinceSn++
	}
	if n.cfg.Fsync == storage.SyncNone && len(out.Records) > 0 {
		if err := n.store.Log().Flush(); err != nil {
			return fmt.Errorf("flush log: %w", err)
		}
	}
	return nil
}

// fail puts the node in fail-stop: the core refuses input from now on and
// turns writes waiting for durability into Unknown; peer links close;
// reads go on.
func (n *Node) fail(err error) {
	n.mu.Lock()
	n.failLocked(err)
	n.mu.Unlock()
}

func (n *Node) failLocked(err error) {
	if n.core.Failed() != nil {
		return
	}
	n.core.Fail(err)
	n.failed.Store(&err)
	n.log.Error("storage failed; refusing writes and peer messages from now on (fail-stop)", "err", err)
	go n.peers.stopLinks() // not under mu: stopping waits for link goroutines
}

// shutdown is the loop's last work: refuse new requests, persist, sync
// and answer everything accepted, queue the messages that carry it.
func (n *Node) shutdown(st *loopState) {
	n.mu.Lock()
	n.core.Close()
	n.mu.Unlock()
	for {
		var p pass
		p.gather(n)
		for _, req := range p.requests {
			if req.state.CompareAndSwap(requestQueued, requestTaken) {
				req.done <- result{err: api.ErrStopped}
			}
		}
		p.requests = nil
		p.inbound = nil // the core refuses them once closed
		n.run(st, &p)
		if len(st.tickets) == 0 || n.Failed() != nil || n.disk == nil {
			break
		}
		// Writes wait for the disk round that covers them.
		n.run(st, &pass{synced: []syncDone{<-n.synced}})
	}
	// Requests still queued get a definite "not done".
	for {
		select {
		case req := <-n.requests:
			if req.state.CompareAndSwap(requestQueued, requestTaken) {
				req.done <- result{err: api.ErrStopped}
			}
			continue
		default:
		}
		break
	}
	for t, req := range st.tickets {
		delete(st.tickets, t)
		req.done <- result{tok: req.tok, err: fmt.Errorf("%w: %v", api.ErrUnknownOutcome, n.Failed())}
	}
	// The disk goroutine writes and syncs what it still holds, then ends:
	// under batch, everything acknowledged is durable before Close returns.
}

// noteEvents logs replica events and keeps the most recent for Status.
func (n *Node) noteEvents(events []replica.Event) {
	if len(events) == 0 {
		return
	}
	evs := make([]api.Event, len(events))
	for i, e := range events {
		evs[i] = n.statusEvent(e) // takes mu for reading: not under eventsMu
	}
	n.eventsMu.Lock()
	defer n.eventsMu.Unlock()
	for i, e := range events {
		ev := evs[i]
		n.log.Log(context.Background(), eventLevel(e.Type), "event", "type", ev.Type, "peer", ev.Peer, "peer_id", ev.PeerID, "txn", ev.Txn, "detail", ev.Detail)
		n.events = append(n.events, ev)
		n.metrics.events.WithLabelValues(e.Type.String()).Inc()
	}
	if over := len(n.events) - maxRecentEvents; over > 0 {
		n.events = append(n.events[:0], n.events[over:]...)
	}
}

// eventLevel is the log level of a replica event: what an operator must
// see with --log-level warn (a member unreachable or behind the log, a
// divergence, a refused clock, a dropped transaction, an abandoned repair,
// a write outside its origin's rights)
// is a warning; the rest is information.
func eventLevel(t replica.EventType) slog.Level {
	switch t {
	case replica.EventPeerUnreachable, replica.EventDivergence, replica.EventRepairAborted,
		replica.EventBufferFull, replica.EventClockRefused, replica.EventMessageRefused,
		replica.EventCatchUpTooFar, replica.EventPeerBehindLog, replica.EventMemberRemoved, replica.EventRightsRefused:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
