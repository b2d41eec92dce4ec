package test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestExpiredNotificationOnThreeNodes: when a key's deadline passes, the
// node that reclaims it deletes it in a transaction, and every node's
// keyspace subscribers get the event "expired" (not "del") for it.
func TestExpiredNotificationOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)
	var subs []*redis.PubSub
	for _, c := range nodes[1:] {
		ps := c.Subscribe(ctx, "__keyevent@0__:expired", "__keyevent@0__:del")
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ps.Close() })
		subs = append(subs, ps)
	}
	// Both confirmations must be read before the write (go-redis reads
	// the second subscribe reply as a message otherwise).
	for _, ps := range subs {
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(0, func(c *redis.Conn) error { return c.Set(ctx, "short", "v", 300*time.Millisecond).Err() })
	for i, ps := range subs {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("n%d: %v", i+2, err)
		}
		if msg.Channel != "__keyevent@0__:expired" || msg.Payload != "short" {
			t.Fatalf("n%d: got %s %q, want the expired event of short", i+2, msg.Channel, msg.Payload)
		}
	}
}
