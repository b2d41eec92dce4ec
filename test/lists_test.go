package test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestListsOnThreeNodes drives lists through go-redis against three real
// nodes: writes on one node read back on another, a BLPOP blocked on one
// node woken by a push on another, and two nodes popping one queue at
// once — with LPOP every element is taken and the list ends empty on
// every node; with SPOOK.LPOPONCE, additionally, no element is delivered
// twice.
func TestListsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)

	write(0, func(c *redis.Conn) error { return c.RPush(ctx, "l", "a", "b", "c").Err() })
	write(1, func(c *redis.Conn) error {
		if err := c.LInsertBefore(ctx, "l", "b", "x").Err(); err != nil {
			return err
		}
		return c.LSet(ctx, "l", -1, "C").Err()
	})
	got, err := nodes[2].LRange(ctx, "l", 0, -1).Result()
	if err != nil || fmt.Sprint(got) != "[a x b C]" {
		t.Fatalf("LRANGE on n3: %v %v", got, err)
	}
	if ty, _ := nodes[2].Type(ctx, "l").Result(); ty != "list" {
		t.Fatalf("TYPE %q", ty)
	}

	// BLPOP on n3 woken by an RPUSH on n1.
	woken := make(chan []string, 1)
	go func() {
		res, err := nodes[2].BLPop(ctx, 10*time.Second, "jobs").Result()
		if err != nil {
			t.Error("BLPOP:", err)
		}
		woken <- res
	}()
	time.Sleep(100 * time.Millisecond)
	write(0, func(c *redis.Conn) error { return c.RPush(ctx, "jobs", "j1").Err() })
	select {
	case res := <-woken:
		if fmt.Sprint(res) != "[jobs j1]" {
			t.Fatalf("BLPOP got %v", res)
		}
	case <-ctx.Done():
		t.Fatal("BLPOP on n3 not woken by RPUSH on n1")
	}

	const n = 30
	fill := func(key string) []string {
		var elems []any
		var want []string
		for i := 0; i < n; i++ {
			elems = append(elems, fmt.Sprintf("e%02d", i))
			want = append(want, fmt.Sprintf("e%02d", i))
		}
		write(0, func(c *redis.Conn) error { return c.RPush(ctx, key, elems...).Err() })
		return want
	}
	// drain pops key from two clients on each of n1 and n2 at once until
	// it is empty and returns every element delivered.
	drain := func(key string, popOnce bool) []string {
		var mu sync.Mutex
		var delivered []string
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := nodes[w%2]
				for ctx.Err() == nil {
					var v string
					var err error
					if popOnce {
						v, err = c.Do(ctx, "SPOOK.LPOPONCE", key).Text()
					} else {
						v, err = c.LPop(ctx, key).Result()
					}
					if errors.Is(err, redis.Nil) {
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					delivered = append(delivered, v)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slices.Sort(delivered)
		return delivered
	}

	want := fill("q")
	popped := drain("q", false)
	if !slices.Equal(slices.Compact(slices.Clone(popped)), want) {
		t.Fatalf("LPOP from two nodes: delivered %v", popped)
	}
	t.Logf("plain LPOP from two nodes: %d deliveries of %d elements", len(popped), n)
	write(0, func(c *redis.Conn) error { return nil })
	write(1, func(c *redis.Conn) error { return nil })
	for i, c := range nodes {
		if l, err := c.LLen(ctx, "q").Result(); err != nil || l != 0 {
			t.Fatalf("n%d LLEN after the pops: %d %v", i+1, l, err)
		}
	}

	want = fill("once")
	popped = drain("once", true)
	if !slices.Equal(popped, want) {
		t.Fatalf("SPOOK.LPOPONCE from two nodes: delivered %v, want each of %v exactly once", popped, want)
	}
}
