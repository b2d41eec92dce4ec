package node

import (
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// TestStatusEventNamesPeer: an event names its member by name, with the
// id in addition, and its transaction as a token.
func TestStatusEventNamesPeer(t *testing.T) {
	nodes, _ := startCluster(t, 2, false)
	n, peer := nodes[0], causal.NodeIDFromName("n2")
	ev := n.statusEvent(replica.Event{Type: replica.EventPeerSuspect, Node: peer,
		Dot: causal.Dot{Node: peer, Counter: 3}, Reason: "missed a probe"})
	n.mu.RLock()
	stranger := n.peerName(causal.NodeIDFromName("nobody"))
	n.mu.RUnlock()
	if ev.Type != "peer-suspect" || ev.Peer != "n2" || ev.PeerID != peer || ev.Txn != peer.String()+":3" ||
		ev.Detail != "missed a probe" || ev.Time.IsZero() {
		t.Fatalf("%+v", ev)
	}
	if stranger != causal.NodeIDFromName("nobody").String() {
		t.Fatalf("stranger named %q", stranger)
	}
}
