package test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSortedSetsOnThreeNodes drives the sorted-set family through
// go-redis against three real nodes: writes on one node read back on
// another, concurrent ZINCRBYs on every node add up, and concurrent ZADDs
// of different scores resolve to one score on every node.
func TestSortedSetsOnThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodes, write := threeNodeClients(t, ctx)
	check := func(what string, got any, err error, want any) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}

	// A leaderboard written on n1, read on n2 and n3.
	write(0, func(c *redis.Conn) error {
		return c.ZAdd(ctx, "board", redis.Z{Score: 10, Member: "ann"}, redis.Z{Score: 20, Member: "bob"}, redis.Z{Score: 15, Member: "cy"}).Err()
	})
	top, err := nodes[1].ZRevRangeWithScores(ctx, "board", 0, 1).Result()
	check("ZREVRANGE WITHSCORES", top, err, []redis.Z{{Score: 20, Member: "bob"}, {Score: 15, Member: "cy"}})
	rank, err := nodes[2].ZRank(ctx, "board", "cy").Result()
	check("ZRANK", rank, err, 1)
	byScore, err := nodes[2].ZRangeByScore(ctx, "board", &redis.ZRangeBy{Min: "(10", Max: "+inf"}).Result()
	check("ZRANGEBYSCORE", byScore, err, []string{"cy", "bob"})
	typ, err := nodes[1].Type(ctx, "board").Result()
	check("TYPE", typ, err, "zset")
	write(1, func(c *redis.Conn) error {
		return c.ZUnionStore(ctx, "union", &redis.ZStore{Keys: []string{"board", "board"}, Weights: []float64{1, 2}}).Err()
	})
	s, err := nodes[0].ZScore(ctx, "union", "bob").Result()
	check("ZUNIONSTORE WEIGHTS on another node", s, err, 60)
	write(2, func(c *redis.Conn) error { return c.ZPopMin(ctx, "board").Err() })
	n, err := nodes[0].ZCard(ctx, "board").Result()
	check("ZCARD after ZPOPMIN on another node", n, err, 2)

	// Concurrent ZINCRBY on every node: the increments add.
	const perNode = 20
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perNode {
				if err := nodes[i].ZIncrBy(ctx, "hits", 0.5, "page").Err(); err != nil {
					t.Errorf("ZINCRBY on n%d: %v", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := 0.5 * perNode * float64(len(nodes))
	converged(t, ctx, nodes, "ZSCORE hits page", func(c *redis.Client) (string, error) {
		v, err := c.ZScore(ctx, "hits", "page").Result()
		return fmt.Sprint(v), err
	}, fmt.Sprint(want))

	// Concurrent ZADD of different scores: one score wins, the same on
	// every node.
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perNode {
				if err := nodes[i].ZAdd(ctx, "race", redis.Z{Score: float64(100*i + j), Member: "m"}).Err(); err != nil {
					t.Errorf("ZADD on n%d: %v", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	converged(t, ctx, nodes, "ZSCORE race m", func(c *redis.Client) (string, error) {
		v, err := c.ZScore(ctx, "race", "m").Result()
		return fmt.Sprint(v), err
	}, "")
	// Each node's last ZADD removed its own earlier ones, so the winner is
	// one node's last score.
	s, err = nodes[0].ZScore(ctx, "race", "m").Result()
	if err != nil || (s != perNode-1 && s != 100+perNode-1 && s != 200+perNode-1) {
		t.Fatalf("ZSCORE race m = %v, %v: not a node's last ZADD", s, err)
	}
}

// converged waits until read returns one value on every node (want, if
// not empty) and fails the test if that does not happen before ctx ends.
func converged(t *testing.T, ctx context.Context, nodes []*redis.Client, what string, read func(c *redis.Client) (string, error), want string) {
	t.Helper()
	var got []string
	for {
		got = got[:0]
		for _, c := range nodes {
			v, err := read(c)
			if err != nil {
				v = "error: " + err.Error()
			}
			got = append(got, v)
		}
		same := !slices.ContainsFunc(got, func(v string) bool { return v != got[0] })
		if same && (want == "" || got[0] == want) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v on the three nodes, want %q everywhere", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
