package node

import (
	"context"
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
