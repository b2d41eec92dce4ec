package node

import (
	"testing"

	"github.com/spooksystems/spook/replica"
)

// TestReceivePublishAtMostOnce: a message whose number is not above the
// last one delivered from its origin is dropped (a repeat), per origin;
// a full inbound queue drops rather than blocks the link.
func TestReceivePublishAtMostOnce(t *testing.T) {
	n := &Node{pub: newPublisher(0)}
	msg := func(seq uint64) replica.Message {
		return replica.Message{Type: replica.MsgPublish, Seq: seq, Channel: []byte("c"), Chunk: []byte("m")}
	}
	n.receivePublish(1, msg(5))
	n.receivePublish(1, msg(5)) // repeat
	n.receivePublish(1, msg(4)) // older
	n.receivePublish(2, msg(5)) // another origin
	n.receivePublish(1, msg(6))
	if got := len(n.pub.in); got != 3 {
		t.Fatalf("%d messages queued, want 3", got)
	}
	for i := uint64(0); i < MaxInboundPublishes+10; i++ {
		n.receivePublish(3, msg(i+1)) // must not block once full
	}
	if got := len(n.pub.in); got != MaxInboundPublishes {
		t.Fatalf("%d messages queued, want the bound %d", got, MaxInboundPublishes)
	}
}
