package node

import (
	"fmt"
	"time"

	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// loop ticks the replica and drains its Ready until Close.
func (n *Node) loop() {
	defer n.wg.Done()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-n.stop:
			n.mu.Lock()
			n.closing = true // no write after the final drain below
			n.mu.Unlock()
			n.process()
			return
		case <-ticker.C:
			n.mu.Lock()
			n.r.Tick(uint64(n.cfg.now().UnixMilli()))
			n.mu.Unlock()
		case <-n.kick:
		}
		n.process()
	}
}

// process drains one Ready in the replica's order: persist, send, publish,
// Advance.
//
// Records are made durable before any message leaves, under every policy
// but none: a message advertises the applied vector, and a peer that saw a
// transaction the origin then lost in a crash would later receive a
// different transaction under the same dot from the restarted origin. The
// policies differ only in whether Update waits for that sync (always) or
// returns at once (batch). Writes that arrive while one sync runs share the
// next one (group commit).
func (n *Node) process() {
	n.mu.Lock()
	if !n.r.HasReady() || n.failed != nil {
		n.mu.Unlock()
		return
	}
	rd := n.r.Ready()
	seq := n.proposed // every proposal so far is in this Ready
	err := n.persist(rd)
	var snapshot []byte
	if err == nil && n.store != nil && n.recordsSinceSn >= n.cfg.SnapshotEveryRecords {
		snapshot = n.r.Snapshot()
		n.recordsSinceSn = 0
	}
	if err != nil {
		n.failed = err
	} else {
		n.r.Advance()
	}
	n.noteEvents(rd.Events)
	n.wakeWaiters()
	n.mu.Unlock()

	if err != nil {
		n.log.Error("storage failed; refusing writes from now on (fail-stop)", "err", err)
		n.markDurable(0) // wake waiters so they see the failure
		return
	}
	if len(rd.Records) > 0 || rd.Snapshot != nil {
		if !n.syncLog() {
			return
		}
	}
	n.markDurable(seq)
	if snapshot != nil {
		if err := n.store.WriteSnapshot(n.lastIndex, snapshot); err != nil {
			n.fail(fmt.Errorf("write snapshot: %w", err))
			return
		}
		n.log.Info("snapshot written", "index", n.lastIndex, "bytes", len(snapshot))
	}
	for _, env := range rd.Messages {
		n.peers.send(env)
	}
	n.watch.publish(rd.Changes)
	n.peers.reconcile()
	n.metrics.observe(n)
}

// persist writes a Ready's snapshot and records to the log (not synced).
// Called with n.mu held.
func (n *Node) persist(rd replica.Ready) error {
	if n.store == nil {
		return nil
	}
	if rd.Snapshot != nil {
		// A joining node's installed state replaces everything before it.
		if err := n.store.WriteSnapshot(n.lastIndex, rd.Snapshot); err != nil {
			return fmt.Errorf("write join snapshot: %w", err)
		}
	}
	for _, rec := range rd.Records {
		idx, err := n.store.Log().Append(rec)
		if err != nil {
			return fmt.Errorf("append log record: %w", err)
		}
		n.lastIndex = idx
		n.recordsSinceSn++
	}
	return nil
}

// syncLog makes appended records durable per the policy: fsync under
// always and batch, a write to the OS (surviving a process crash, not a
// power loss) under none. It reports false, after failing the node, on error.
func (n *Node) syncLog() bool {
	if n.store == nil {
		return true
	}
	var err error
	if n.cfg.Fsync == storage.SyncNone {
		err = n.store.Log().Flush()
	} else {
		err = n.store.Log().Sync()
	}
	if err != nil {
		n.fail(fmt.Errorf("sync log: %w", err))
		return false
	}
	return true
}

// fail puts the node in fail-stop: writes are refused from now on.
func (n *Node) fail(err error) {
	n.mu.Lock()
	if n.failed == nil {
		n.failed = err
	}
	n.mu.Unlock()
	n.log.Error("storage failed; refusing writes from now on (fail-stop)", "err", err)
	n.markDurable(0)
}

// noteEvents logs replica events and keeps the most recent for Status.
// Called with n.mu held.
func (n *Node) noteEvents(events []replica.Event) {
	for _, e := range events {
		n.log.Info("event", "type", e.Type.String(), "peer", e.Node, "detail", e.Reason)
		n.events = append(n.events, e.String())
		n.metrics.events.WithLabelValues(e.Type.String()).Inc()
	}
	if over := len(n.events) - maxRecentEvents; over > 0 {
		n.events = append(n.events[:0], n.events[over:]...)
	}
}
