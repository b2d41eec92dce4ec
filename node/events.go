package node

import (
	"fmt"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// statusEvent is e as Status reports it and the log prints it: the
// member concerned by name (its id only in addition), the time this node
// noted it, the transaction as a token. Called without n.mu (the loop
// publishes events after letting go of it); it takes mu for reading.
func (n *Node) statusEvent(e replica.Event) api.Event {
	out := api.Event{Type: e.Type.String(), Time: n.cfg.now().UTC(), Detail: e.Reason}
	if e.Node != 0 {
		n.mu.RLock()
		out.Peer, out.PeerID = n.peerName(e.Node), e.Node
		n.mu.RUnlock()
	}
	if !e.Dot.IsZero() {
		out.Txn = fmt.Sprintf("%s:%d", e.Dot.Node, e.Dot.Counter)
	}
	return out
}

// peerName is the name of member id as people know it, or its hex id
// for a node this replica has no name for (a stranger's message). Called
// with n.mu held, for reading at least.
func (n *Node) peerName(id causal.NodeID) string {
	for _, m := range n.r.Members() {
		if m.ID == id && m.Name != "" {
			return m.Name
		}
	}
	return id.String()
}
