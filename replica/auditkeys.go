package replica

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"maps"
	"slices"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
)

// AddAuditKeys adds to a running replica the public keys of keys it does
// not hold yet: a member added to an audited cluster is known to the
// others without their restart (the node rereads its keys directory).
// A transaction refused because its origin's key was unknown was never
// applied, so it comes again with the next catch-up from its origin and
// is checked then. Keys already held are left as they are; a key that
// differs from the one held for its node refuses the whole call with
// ErrConfig (rotating a key is not supported: the chains and records
// already checked under the old key would no longer verify). It returns
// the nodes whose key it added, in ascending order. Audit mode must be
// on.
func (r *Replica) AddAuditKeys(keys audit.Keys) ([]causal.NodeID, error) {
	if !r.cfg.Audit.enabled() {
		return nil, fmt.Errorf("%w: audit mode is off", ErrConfig)
	}
	var added []causal.NodeID
	for id, pub := range keys {
		held, ok := r.cfg.Audit.Keys[id]
		switch {
		case len(pub) != ed25519.PublicKeySize:
			return nil, fmt.Errorf("%w: the key of %s has %d bytes, want %d", ErrConfig, causal.NodeID(id), len(pub), ed25519.PublicKeySize)
		case !ok:
			added = append(added, causal.NodeID(id))
		case !bytes.Equal(held, pub):
			return nil, fmt.Errorf("%w: the key of %s differs from the one held (a key cannot be rotated)", ErrConfig, causal.NodeID(id))
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	// Copy on write: the map may be shared with the caller's config.
	next := maps.Clone(r.cfg.Audit.Keys)
	for _, id := range added {
		next[uint64(id)] = keys[uint64(id)]
	}
	r.cfg.Audit.Keys = next
	slices.Sort(added)
	return added, nil
}
