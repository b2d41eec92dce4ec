package test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestPublishReachesEveryNode: messages PUBLISHed on one node reach the
// channel and pattern subscribers of every node, in order and never
// twice; PUBLISH's reply counts the publishing node's subscribers only.
// Delivery is at most once (a message that finds a link down is dropped),
// so each round publishes numbered messages until every subscriber has
// one.
func TestPublishReachesEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, _ := threeNodeClients(t, ctx)
	var subs []*redis.PubSub
	for _, c := range nodes {
		subs = append(subs, c.Subscribe(ctx, "news"))
	}
	subs = append(subs, nodes[2].PSubscribe(ctx, "n*"))
	for _, s := range subs {
		t.Cleanup(func() { s.Close() })
		if _, err := s.Receive(ctx); err != nil { // the subscription confirmation
			t.Fatal(err)
		}
	}
	for _, from := range []int{0, 1} {
		got := make([][]string, len(subs))
		for seq := 0; ; seq++ {
			n, err := nodes[from].Publish(ctx, "news", fmt.Sprint(seq)).Result()
			if err != nil || n != 1 {
				t.Fatalf("PUBLISH on n%d = %d, %v; want 1 (that node's subscribers)", from+1, n, err)
			}
			done := true
			for i, s := range subs {
				for {
					msg, err := s.ReceiveTimeout(ctx, 50*time.Millisecond)
					if err != nil {
						break
					}
					if m, ok := msg.(*redis.Message); ok && m.Channel == "news" {
						got[i] = append(got[i], m.Payload)
					}
				}
				done = done && len(got[i]) > 0
			}
			if done {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("not every subscriber got a message from n%d: %v", from+1, got)
			}
		}
		for i, g := range got {
			for j := 1; j < len(g); j++ {
				a, _ := strconv.Atoi(g[j-1])
				b, _ := strconv.Atoi(g[j])
				if b <= a {
					t.Fatalf("subscriber %d got %v from n%d: a repeat or out of order", i, g, from+1)
				}
			}
		}
	}
}
