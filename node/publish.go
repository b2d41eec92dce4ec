package node

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// Cluster-wide PUBLISH. A client message is not replicated state: it is
// sent once, on the existing peer links, to every peer the node has a
// link for, as a replica.MsgPublish the receiving node hands to its own
// subscribers without stepping it into its replica. Delivery is at most
// once: a message is never retried (a link that is down, or a queue that
// is full, drops it), and a receiver delivers a message only if its
// number is above the last one it delivered from that origin. Numbers
// start at the origin's start time in nanoseconds, so a restarted node's
// messages are not taken for repeats.
const (
	// MaxQueuedPublishes bounds the client messages queued for one peer
	// link, apart from the replication traffic (PeerQueueMax), so a flood
	// of PUBLISH cannot crowd out probes and acknowledgements. A message
	// beyond it is dropped for that peer.
	MaxQueuedPublishes = 1024
	// MaxInboundPublishes bounds the messages received from peers and
	// waiting for this node's subscribers; beyond it they are dropped, so
	// a slow subscriber never stalls the link that carries replication.
	MaxInboundPublishes = 4096
)

// publisher is the node's side of cluster-wide PUBLISH.
type publisher struct {
	seq atomic.Uint64 // the last number this node gave a message

	mu   sync.Mutex
	last map[causal.NodeID]uint64 // the last number delivered, per origin
	in   chan replica.Message     // received, waiting for deliverPublishes
	// deliver hands a message to this node's subscribers; set once, by
	// SetPublishHandler, before any peer message can arrive.
	deliver atomic.Pointer[func(channel, message []byte)]
}

func newPublisher(startNs uint64) *publisher {
	p := &publisher{last: map[causal.NodeID]uint64{}, in: make(chan replica.Message, MaxInboundPublishes)}
	p.seq.Store(startNs)
	return p
}

var _ api.Publisher = (*Node)(nil)

// Publish implements api.Publisher: it queues message on channel for
// every peer, at most once each. A message larger than
// replica.MaxPublishBytes (with its channel) stays on this node.
func (n *Node) Publish(channel, message []byte) {
	if len(channel)+len(message) > replica.MaxPublishBytes {
		return
	}
	m := replica.Message{Type: replica.MsgPublish, Seq: n.pub.seq.Add(1),
		Channel: bytes.Clone(channel), Chunk: bytes.Clone(message)}
	for _, p := range n.peers.all() {
		if !p.push(m) {
			n.metrics.dropped.WithLabelValues(p.name).Inc()
		}
	}
}

// SetPublishHandler implements api.Publisher: fn receives the messages
// published on other nodes, one at a time, on a goroutine of the node.
func (n *Node) SetPublishHandler(fn func(channel, message []byte)) {
	n.pub.deliver.Store(&fn)
}

// receivePublish takes a MsgPublish from a peer link: a repeat or a
// message that finds the inbound queue full is dropped.
func (n *Node) receivePublish(from causal.NodeID, m replica.Message) {
	p := n.pub
	p.mu.Lock()
	if m.Seq <= p.last[from] {
		p.mu.Unlock()
		return
	}
	p.last[from] = m.Seq
	p.mu.Unlock()
	select {
	case p.in <- m:
	default:
	}
}

// deliverPublishes hands received messages to the handler until the node
// stops.
func (n *Node) deliverPublishes() {
	defer n.wg.Done()
	for {
		select {
		case m := <-n.pub.in:
			if fn := n.pub.deliver.Load(); fn != nil {
				(*fn)(m.Channel, m.Chunk)
			}
		case <-n.stop:
			return
		}
	}
}

// all returns the peers the node has a link for.
func (ps *peerSet) all() []*peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]*peer, 0, len(ps.peers))
	for _, p := range ps.peers {
		out = append(out, p)
	}
	return out
}
