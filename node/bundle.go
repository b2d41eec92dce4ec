package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

var _ api.Bundler = (*Node)(nil)

// AppliedVector implements api.Bundler.
func (n *Node) AppliedVector() causal.VersionVector {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.r.Applied()
}

// ExportBundle implements api.Bundler.
func (n *Node) ExportBundle(since causal.VersionVector) ([]byte, int, error) {
	n.mu.Lock()
	txns, err := n.r.TxnsSince(&since)
	n.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return replica.EncodeBundle(n.ID(), &since, txns), len(txns), nil
}

// ImportBundle implements api.Bundler. The imported transactions are
// logged and synced like any others before this returns.
func (n *Node) ImportBundle(ctx context.Context, bundle []byte) (int, int, error) {
	_, _, txns, err := replica.DecodeBundle(bundle)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %v", api.ErrBadBundle, err)
	}
	if n.stopped() {
		return 0, 0, api.ErrStopped
	}
	n.mu.Lock()
	if n.closing || n.failed != nil {
		n.mu.Unlock()
		return 0, 0, api.ErrStopped
	}
	applied := n.r.Import(txns)
	n.proposed++ // a sequence point: waitDurable below covers the import
	seq := n.proposed
	n.mu.Unlock()
	n.signal()
	if n.store != nil {
		if err := n.waitDurable(ctx, seq); err != nil {
			return len(txns), applied, err
		}
	}
	return len(txns), applied, nil
}

// ExportState implements httpapi.StateBundler: the whole state as a
// state bundle, for a receiver the retained log no longer reaches (a
// fresh node, one far behind, or an export with no vector). It returns
// the bundle and its key count.
func (n *Node) ExportState() ([]byte, int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	b, keys := n.r.StateBundle()
	return b, keys, nil
}

// ImportState implements httpapi.StateBundler: a state bundle is joined
// into this node's state (a lattice join: nothing it holds is lost, and
// importing twice changes nothing), persisted as a snapshot and synced
// before this returns. ok is false, and nothing done, for a file that is
// not a state bundle.
func (n *Node) ImportState(ctx context.Context, file []byte) (keys, changed int, ok bool, err error) {
	if !replica.IsStateBundle(file) {
		return 0, 0, false, nil
	}
	if n.stopped() {
		return 0, 0, true, api.ErrStopped
	}
	n.mu.Lock()
	if n.closing || n.failed != nil {
		n.mu.Unlock()
		return 0, 0, true, api.ErrStopped
	}
	_, keys, changed, err = n.r.ImportState(file)
	var seq uint64
	if err == nil {
		n.proposed++ // a sequence point: waitDurable below covers the joined state
		seq = n.proposed
	}
	n.mu.Unlock()
	switch {
	case errors.Is(err, replica.ErrBadBundle):
		return 0, 0, true, fmt.Errorf("%w: %v", api.ErrBadBundle, err)
	case errors.Is(err, replica.ErrReadOnly):
		return 0, 0, true, fmt.Errorf("%w: %v", api.ErrReadOnly, err)
	case err != nil:
		return 0, 0, true, err
	}
	n.signal()
	if n.store != nil {
		if err := n.waitDurable(ctx, seq); err != nil {
			return keys, changed, true, err
		}
	}
	return keys, changed, true, nil
}
