package node

import (
	"context"
	"fmt"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
)

var _ api.Bundler = (*Node)(nil)

// AppliedVector implements api.Bundler.
func (n *Node) AppliedVector() causal.VersionVector {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.r.Applied()
}

// ExportBundle implements api.Bundler.
func (n *Node) ExportBundle(since causal.VersionVector) ([]byte, int, error) {
	n.mu.RLock()
	txns, err := n.r.TxnsSince(&since)
	n.mu.RUnlock()
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
	req := &request{viaCore: true}
	req.action = func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
		applied, err := c.Import(t, txns)
		req.n = applied
		return replica.Token{}, err
	}
	res, _ := n.submit(ctx, req)
	return len(txns), res.n, res.err
}
