package test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStreamsOnThreeNodes drives streams through go-redis against three
// real nodes: entries added on two nodes at once converge in ID order
// with distinct generated IDs, XDEL and XTRIM on one node are seen on
// the others, and a blocked XREAD on one node is woken by an XADD made
// on another (a replicated write).
func TestStreamsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)

	// A blocked XREAD on n3, before anything exists.
	woken := make(chan []redis.XStream, 1)
	go func() {
		res, err := nodes[2].XRead(ctx, &redis.XReadArgs{Streams: []string{"events", "$"}, Block: 10 * time.Second}).Result()
		if err != nil {
			t.Error("blocked XREAD:", err)
		}
		woken <- res
	}()
	time.Sleep(100 * time.Millisecond) // let it block (a later start only makes it return the entry as new)

	// Concurrent XADDs on n1 and n2: generated IDs never collide.
	ids := make(chan string, 20)
	for i := 0; i < 2; i++ {
		go func() {
			for j := 0; j < 10; j++ {
				id, err := nodes[i].XAdd(ctx, &redis.XAddArgs{Stream: "log", Values: []string{"n", string(rune('a' + i))}}).Result()
				if err != nil {
					t.Error(err)
				}
				ids <- id
			}
		}()
	}
	seen := map[string]bool{}
	for k := 0; k < 20; k++ {
		id := <-ids
		if seen[id] {
			t.Fatalf("ID %s generated twice", id)
		}
		seen[id] = true
	}
	write(0, func(c *redis.Conn) error { return nil })
	write(1, func(c *redis.Conn) error { return c.Ping(ctx).Err() })
	var first []redis.XMessage
	for i, c := range nodes {
		msgs, err := c.XRange(ctx, "log", "-", "+").Result()
		if err != nil || len(msgs) != 20 {
			t.Fatalf("n%d XRANGE: %d entries, %v", i+1, len(msgs), err)
		}
		if i == 0 {
			first = msgs
			continue
		}
		for j := range msgs {
			if msgs[j].ID != first[j].ID {
				t.Fatalf("n%d entry %d is %s, n1 has %s", i+1, j, msgs[j].ID, first[j].ID)
			}
		}
	}

	// XDEL and XTRIM on one node, seen on another.
	write(1, func(c *redis.Conn) error {
		if n, err := c.XDel(ctx, "log", first[0].ID).Result(); err != nil || n != 1 {
			t.Fatalf("XDEL: %d %v", n, err)
		}
		return c.XTrimMaxLen(ctx, "log", 5).Err()
	})
	if n, err := nodes[2].XLen(ctx, "log").Result(); err != nil || n != 5 {
		t.Fatalf("XLEN on n3 after XDEL and XTRIM on n2: %d %v", n, err)
	}
	if ty, _ := nodes[0].Type(ctx, "log").Result(); ty != "stream" {
		t.Fatalf("TYPE %q", ty)
	}

	// The XADD on n1 wakes the XREAD blocked on n3.
	write(0, func(c *redis.Conn) error {
		return c.XAdd(ctx, &redis.XAddArgs{Stream: "events", ID: "100-1", Values: []string{"k", "v"}}).Err()
	})
	select {
	case res := <-woken:
		if len(res) != 1 || len(res[0].Messages) != 1 || res[0].Messages[0].ID != "100-1" {
			t.Fatalf("blocked XREAD got %+v", res)
		}
	case <-ctx.Done():
		t.Fatal("blocked XREAD on n3 not woken by an XADD on n1")
	}
}
