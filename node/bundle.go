package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
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

// ExportBundle implements api.Bundler. In audit mode the export signs
// this node's last transaction if it is still unsigned (a bundle's runs
// end on a signed transaction, replica.TxnsSince), which writes a record
// and pushes a signed copy: it runs in the loop, and returns once that
// record is durable. Otherwise it only reads.
func (n *Node) ExportBundle(since causal.VersionVector) ([]byte, int, error) {
	var txns []*crdt.Txn
	var err error
	if n.cfg.AuditKeysDir == "" {
		n.mu.RLock()
		txns, err = n.r.TxnsSince(&since)
		n.mu.RUnlock()
	} else {
		req := &request{viaCore: true}
		req.action = func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
			if txns, err = c.Replica().TxnsSince(&since); err != nil {
				return replica.Token{}, err
			}
			// An empty Import registers t with the core, which answers
			// it once the signature's record is durable.
			_, ierr := c.Import(t, nil)
			return replica.Token{}, ierr
		}
		res, _ := n.submit(context.Background(), req)
		if res.err != nil {
			return nil, 0, res.err // txns is not to be read: the loop may not be done with it
		}
	}
	if err != nil {
		return nil, 0, err
	}
	return replica.EncodeBundle(n.ID(), &since, txns), len(txns), nil
}

// ImportBundle implements api.Bundler. The imported transactions are
// logged and synced like any others before this returns. Refused counts
// the audit and rights refusals the import raised.
func (n *Node) ImportBundle(ctx context.Context, bundle []byte) (api.BundleImport, error) {
	_, _, txns, err := replica.DecodeBundle(bundle)
	if err != nil {
		return api.BundleImport{}, fmt.Errorf("%w: %v", api.ErrBadBundle, err)
	}
	var refused uint64
	req := &request{viaCore: true}
	req.action = func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
		r := c.Replica()
		before := r.AuditRefused() + r.RightsRefused()
		applied, err := c.Import(t, txns)
		req.n = applied
		refused = r.AuditRefused() + r.RightsRefused() - before
		return replica.Token{}, err
	}
	res, _ := n.submit(ctx, req)
	if res.err != nil {
		return api.BundleImport{Txns: len(txns)}, res.err // refused is not to be read: the loop may not be done with it
	}
	return api.BundleImport{Txns: len(txns), Applied: res.n, Refused: int(refused)}, nil
}

// ExportState implements httpapi.StateBundler: the whole state as a
// state bundle, for a receiver the retained log no longer reaches (a
// fresh node, one far behind, or an export with no vector). It returns
// the bundle and its key count.
func (n *Node) ExportState() ([]byte, int, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
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
	req := &request{viaCore: true}
	req.action = func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
		if err := c.Failed(); err != nil {
			return replica.Token{}, fmt.Errorf("%w: %w", driver.ErrFailed, err)
		}
		// The join changes the state and leaves its snapshot in the
		// replica's Ready; an empty Import then registers t with the core,
		// which answers it once that snapshot is durable.
		_, k, ch, err := c.Replica().ImportState(file)
		if err != nil {
			return replica.Token{}, err
		}
		keys, req.n = k, ch
		_, err = c.Import(t, nil)
		return replica.Token{}, err
	}
	res, _ := n.submit(ctx, req)
	switch {
	case errors.Is(res.err, replica.ErrBadBundle):
		return 0, 0, true, fmt.Errorf("%w: %v", api.ErrBadBundle, res.err)
	case res.err != nil:
		return 0, 0, true, res.err // keys is not to be read: the loop may not be done with it
	}
	return keys, res.n, true, nil
}
