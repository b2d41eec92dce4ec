package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
	"github.com/spooksystems/spook/wire"
)

// A node never silently becomes an island. Its data directory records
// whose it is (storage.CheckIdentity: another --node-id or --cluster is
// refused), and a node an operator removed learns it: from the membership
// record if it arrives, else from any member, which refuses its handshake
// or closes its link with the reason "removed". The replica then refuses
// every write with a *replica.RemovedError (RESP -REMOVED, HTTP 410
// "removed"), /readyz fails, the log says how to rejoin, and the data
// directory records the removal so a restart on it stays removed.

// guard is the node's identity and removal state.
type guard struct {
	mu sync.Mutex
	// identity is what the data directory records (zero without one).
	identity storage.Identity
	// removalNoted is set once the removal was logged and recorded.
	removalNoted bool
}

// checkDataDir runs on a freshly opened store, before its records are
// replayed: it logs what recovery cut from the log, and checks (or, on
// first start, records) the directory's node and cluster.
func (n *Node) checkDataDir(store *storage.Store) error {
	if rep := store.Recovery(); rep.TruncatedFile != "" || rep.RemovedFile != "" {
		n.log.Warn("log recovery cut a torn tail (a crash during an unsynced write); records after it were never acknowledged as durable",
			"file", rep.TruncatedFile, "bytes", rep.TruncatedBytes, "reason", rep.TornReason, "removed_segment", rep.RemovedFile)
	}
	id, err := storage.CheckIdentity(vfs.OS{}, n.cfg.DataDir, storage.Identity{Node: n.cfg.Name, Cluster: n.cfg.Cluster})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.guard.mu.Lock()
	n.guard.identity = id
	n.guard.mu.Unlock()
	return nil
}

// restoreRemoval marks r removed if the data directory says so, before
// the node serves anything.
func (n *Node) restoreRemoval(r *replica.Replica) {
	n.guard.mu.Lock()
	at := n.guard.identity.RemovedAtMs
	n.guard.mu.Unlock()
	if at != 0 {
		r.MarkRemoved(at)
	}
}

// removedMember reports whether node id was removed by an operator, with
// the text a member sends it (wire.RemovedText).
func (n *Node) removedMember(id causal.NodeID, name string) (string, bool) {
	n.mu.RLock()
	if n.r == nil { // dialling join addresses, before the replica exists
		n.mu.RUnlock()
		return "", false
	}
	at, removed := n.r.RemovedAt(id)
	n.mu.RUnlock()
	if !removed {
		return "", false
	}
	return wire.RemovedText(name, n.cfg.Cluster, time.UnixMilli(int64(at))), true
}

// learnRemoval handles an error from a link: if a member refused or
// closed it with the reason "removed", this node was removed, and the
// replica is told so.
func (n *Node) learnRemoval(err error) {
	if !errors.Is(err, wire.ErrRemoved) {
		return
	}
	var text string
	var refusal *wire.RefusalError
	var closed *wire.CloseError
	switch {
	case errors.As(err, &refusal):
		text = refusal.Text
	case errors.As(err, &closed):
		text = closed.Text
	}
	at, ok := wire.ParseRemovedTime(text)
	if !ok {
		at = n.cfg.now()
	}
	select { // the loop, the only writer, tells the replica
	case n.inbound <- inbound{removedAtMs: max(uint64(at.UnixMilli()), 1)}:
	case <-n.stop:
	}
}

// noteRemoval runs after each Ready: the first time the replica is
// removed, it logs how to rejoin and records the removal in the data
// directory, so a restart stays removed.
func (n *Node) noteRemoval() bool {
	n.mu.RLock()
	at, removed := n.r.RemovedAt(n.ID())
	n.mu.RUnlock()
	if !removed {
		return false
	}
	n.guard.mu.Lock()
	defer n.guard.mu.Unlock()
	if n.guard.removalNoted {
		return true
	}
	n.guard.removalNoted = true
	re := &replica.RemovedError{Cluster: n.cfg.Cluster, AtMs: at}
	dir := n.cfg.DataDir
	if dir == "" {
		dir = "(none: in memory)"
	}
	if n.cfg.DataDir != "" && n.guard.identity.RemovedAtMs == 0 {
		id := n.guard.identity
		id.Node, id.Cluster, id.RemovedAtMs = n.cfg.Name, n.cfg.Cluster, max(at, 1)
		if err := storage.WriteIdentity(vfs.OS{}, n.cfg.DataDir, id); err != nil {
			n.log.Warn("could not record the removal in the data directory", "err", err)
		} else {
			n.guard.identity = id
		}
	}
	// Logged after the removal is recorded, so whoever reads this line
	// can restart the node and find it still removed.
	n.log.Error(re.Error()+"; it refuses writes and is not ready. To rejoin: stop it, delete its data directory, "+
		"and start it with --join <a member's address> under a new --node-id (its old name stays removed)",
		"data", dir)
	return true
}

// removed reports whether this node has noted its own removal.
func (n *Node) removed() bool {
	n.guard.mu.Lock()
	defer n.guard.mu.Unlock()
	return n.guard.removalNoted
}

// writeError maps an error from replica.Propose to what client surfaces
// show: a removal becomes an api.RemovedError; other read-only states
// api.ErrReadOnly.
func writeError(err error) error {
	var re *replica.RemovedError
	switch {
	case errors.As(err, &re):
		out := &api.RemovedError{Cluster: re.Cluster}
		if re.AtMs != 0 {
			out.At = time.UnixMilli(int64(re.AtMs)).UTC()
		}
		return out
	case errors.Is(err, replica.ErrReadOnly):
		return fmt.Errorf("%w: %v", api.ErrReadOnly, err)
	}
	return err
}
