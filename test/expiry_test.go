package test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestExpiryOnThreeNodes drives the expiry commands through go-redis
// against three real nodes: a deadline set on one node is reported by
// the others, an expired key reads as absent everywhere, and it is
// reclaimed (DBSIZE, which counts keys not yet reclaimed, drops to 0 on
// every node) by one DEL.
func TestExpiryOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)

	// A deadline set on n1 is seen on n2 and n3; PERSIST on n3 clears it.
	write(0, func(c *redis.Conn) error { return c.Set(ctx, "session", "s1", time.Hour).Err() })
	for i, c := range nodes {
		if d, err := c.TTL(ctx, "session").Result(); err != nil || d < 59*time.Minute || d > time.Hour {
			t.Fatalf("TTL session on n%d = %v, %v", i+1, d, err)
		}
	}
	write(2, func(c *redis.Conn) error { return c.Persist(ctx, "session").Err() })
	if d, err := nodes[0].TTL(ctx, "session").Result(); err != nil || d != -1 {
		t.Fatalf("TTL after PERSIST on n1 = %v, %v", d, err)
	}
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	write(1, func(c *redis.Conn) error { return c.ExpireAt(ctx, "session", at).Err() })
	if tm, err := nodes[2].ExpireTime(ctx, "session").Result(); err != nil || tm != time.Duration(at.Unix())*time.Second {
		t.Fatalf("EXPIRETIME on n3 = %v, %v", tm, err)
	}
	if v, err := nodes[0].GetEx(ctx, "session", 0).Result(); err != nil || v != "s1" {
		t.Fatalf("GETEX on n1 = %q, %v", v, err)
	}
	write(0, func(c *redis.Conn) error { return c.Del(ctx, "session").Err() })

	// Short deadlines: hidden everywhere once past, then reclaimed.
	write(0, func(c *redis.Conn) error { return c.Set(ctx, "a", "1", 300*time.Millisecond).Err() })
	write(1, func(c *redis.Conn) error { return c.SetEx(ctx, "b", "2", time.Second).Err() })
	write(2, func(c *redis.Conn) error {
		if err := c.SAdd(ctx, "c", "x", "y").Err(); err != nil {
			return err
		}
		return c.PExpire(ctx, "c", 300*time.Millisecond).Err()
	})
	for i, c := range nodes {
		if n, err := c.Exists(ctx, "a", "b", "c").Result(); err != nil || n != 3 {
			t.Fatalf("EXISTS before the deadlines on n%d = %d, %v", i+1, n, err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	for i, c := range nodes {
		if n, err := c.Exists(ctx, "a", "b", "c").Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS after the deadlines on n%d = %d, %v", i+1, n, err)
		}
		if _, err := c.Get(ctx, "a").Result(); err != redis.Nil {
			t.Fatalf("GET a on n%d: %v", i+1, err)
		}
		if d, err := c.TTL(ctx, "b").Result(); err != nil || d != -2 {
			t.Fatalf("TTL b on n%d = %v, %v", i+1, d, err)
		}
	}
	for i, c := range nodes {
		for {
			n, err := c.DBSize(ctx).Result()
			if err != nil {
				t.Fatalf("DBSIZE on n%d: %v", i+1, err)
			}
			if n == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("expired keys not reclaimed on n%d: DBSIZE %d", i+1, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A write to an expired key starts from nothing.
	write(0, func(c *redis.Conn) error { return c.Set(ctx, "d", "5", 200*time.Millisecond).Err() })
	time.Sleep(300 * time.Millisecond)
	if v, err := nodes[1].Incr(ctx, "d").Result(); err != nil || v != 1 {
		t.Fatalf("INCR of an expired key on n2 = %d, %v", v, err)
	}
}
