package test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisCommandFamiliesOnThreeNodes drives the newer command families
// (set algebra, string ranges and floats, hash extras, key copies) and the
// counter-history fix through go-redis against three real nodes: each
// write is made on one node, WAITed for on its own connection, and read
// back on another.
func TestRedisCommandFamiliesOnThreeNodes(t *testing.T) {
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
		if got != want {
			t.Fatalf("%s = %#v, want %#v", what, got, want)
		}
	}

	// WAIT without a write answers what was asked, up to the reachable
	// members: 0 for WAIT 0 0, as Redis.
	n, err := nodes[0].Wait(ctx, 0, 0).Result()
	check("WAIT 0 0", n, err, int64(0))
	n, err = nodes[0].Wait(ctx, 2, 0).Result()
	check("WAIT 2 0 without a write", n, err, int64(2))

	// Issue 15: counter history before DEL, SET or HDEL on other nodes.
	write(0, func(c *redis.Conn) error { return c.IncrBy(ctx, "w1", 5000000000000000000).Err() })
	write(1, func(c *redis.Conn) error { return c.Del(ctx, "w1").Err() })
	v, err := nodes[2].IncrBy(ctx, "w1", 5000000000000000000).Result()
	check("INCRBY after DEL on another node", v, err, int64(5000000000000000000))
	write(0, func(c *redis.Conn) error { return c.HIncrBy(ctx, "w4", "f", 9223372036854775000).Err() })
	write(1, func(c *redis.Conn) error { return c.HDel(ctx, "w4", "f").Err() })
	v, err = nodes[0].HIncrBy(ctx, "w4", "f", 1000).Result()
	check("HINCRBY after HDEL", v, err, int64(1000))

	// Sets.
	write(0, func(c *redis.Conn) error {
		c.SAdd(ctx, "a", "1", "2", "3")
		c.SAdd(ctx, "b", "2", "3", "4")
		return nil
	})
	ms, err := nodes[1].SInter(ctx, "a", "b").Result()
	check("SINTER", strings.Join(ms, ","), err, "2,3")
	write(1, func(c *redis.Conn) error { return c.SUnionStore(ctx, "u", "a", "b").Err() })
	card, err := nodes[2].SCard(ctx, "u").Result()
	check("SCARD of SUNIONSTORE", card, err, int64(4))
	ms, err = nodes[2].SDiff(ctx, "a", "b").Result()
	check("SDIFF", strings.Join(ms, ","), err, "1")
	card, err = nodes[2].SInterCard(ctx, 1, "a", "b").Result()
	check("SINTERCARD LIMIT 1", card, err, int64(1))
	write(2, func(c *redis.Conn) error { return c.SMove(ctx, "a", "moved", "1").Err() })
	ok, err := nodes[0].SIsMember(ctx, "moved", "1").Result()
	check("SMOVE reached n1", ok, err, true)
	popped, err := nodes[0].SPop(ctx, "moved").Result()
	check("SPOP", popped, err, "1")
	keys, cur, err := nodes[1].SScan(ctx, "u", 0, "", 2).Result()
	check("SSCAN of a small set", strings.Join(keys, ",")+"@"+strconv.FormatUint(cur, 10), err, "1,2,3,4@0")

	// Strings.
	write(0, func(c *redis.Conn) error {
		c.Set(ctx, "s", "Hello World", 0)
		c.SetRange(ctx, "s", 6, "Redis")
		c.IncrByFloat(ctx, "f", 10.5)
		c.IncrByFloat(ctx, "f", 0.1)
		c.SetBit(ctx, "bits", 7, 1)
		return nil
	})
	str, err := nodes[1].GetRange(ctx, "s", 6, -1).Result()
	check("GETRANGE", str, err, "Redis")
	str, err = nodes[2].Get(ctx, "f").Result()
	check("INCRBYFLOAT result", str, err, "10.6")
	bits, err := nodes[2].BitCount(ctx, "bits", nil).Result()
	check("BITCOUNT", bits, err, int64(1))
	lcs, err := nodes[1].LCS(ctx, &redis.LCSQuery{Key1: "s", Key2: "f"}).Result()
	check("LCS", lcs.MatchString, err, "")
	str, err = nodes[2].GetDel(ctx, "s").Result()
	check("GETDEL", str, err, "Hello Redis")

	// Hashes.
	write(1, func(c *redis.Conn) error {
		c.HSet(ctx, "h", "name", "ada", "score", "1.5")
		c.HIncrByFloat(ctx, "h", "score", 1)
		return nil
	})
	str, err = nodes[0].HGet(ctx, "h", "score").Result()
	check("HINCRBYFLOAT", str, err, "2.5")
	hl, err := nodes[0].HStrLen(ctx, "h", "name").Result()
	check("HSTRLEN", hl, err, int64(3))
	fields, err := nodes[2].HRandField(ctx, "h", 5).Result()
	slices.Sort(fields)
	check("HRANDFIELD 5", strings.Join(fields, ","), err, "name,score")
	kv, _, err := nodes[2].HScan(ctx, "h", 0, "n*", 10).Result()
	check("HSCAN MATCH", strings.Join(kv, ","), err, "name,ada")

	// Keys.
	write(2, func(c *redis.Conn) error {
		c.Rename(ctx, "h", "h2")
		c.Copy(ctx, "w1", "w1copy", 0, false)
		return nil
	})
	enc, err := nodes[0].ObjectEncoding(ctx, "h2").Result()
	check("OBJECT ENCODING of the renamed hash", enc, err, "ormap")
	v, err = nodes[0].Incr(ctx, "w1copy").Result()
	check("INCR of the copied counter", v, err, int64(5000000000000000001))
	exists, err := nodes[1].Exists(ctx, "h").Result()
	check("EXISTS of the renamed key", exists, err, int64(0))
	if _, err := nodes[1].RandomKey(ctx).Result(); err != nil {
		t.Fatalf("RANDOMKEY: %v", err)
	}
	if tm, err := nodes[1].Time(ctx).Result(); err != nil || time.Since(tm).Abs() > time.Minute {
		t.Fatalf("TIME: %v, %v", tm, err)
	}
}

// threeNodeClients starts three real nodes, returns a go-redis client for
// each once every node sees the other two alive, and a write helper: it
// runs fn on one connection of node i, fails the test on fn's error, then
// WAITs there for both other members.
func threeNodeClients(t *testing.T, ctx context.Context) ([]*redis.Client, func(i int, fn func(c *redis.Conn) error)) {
	t.Helper()
	procs := startCluster(t, 3)
	nodes := make([]*redis.Client, len(procs))
	for i, p := range procs {
		nodes[i] = redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1, ReadTimeout: 10 * time.Second})
		t.Cleanup(func() { nodes[i].Close() })
	}
	// Every node sees the other two alive before WAIT can count them.
	for _, c := range nodes {
		for !strings.Contains(c.Info(ctx, "replication").Val(), "spook_peers_alive:2\r\n") {
			if ctx.Err() != nil {
				t.Fatalf("peers not alive in time: %s", c.Info(ctx, "replication").Val())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write := func(i int, fn func(c *redis.Conn) error) {
		t.Helper()
		conn := nodes[i].Conn()
		defer conn.Close()
		if err := fn(conn); err != nil {
			t.Fatalf("write on n%d: %v", i+1, err)
		}
		if n, err := conn.Wait(ctx, 2, 5*time.Second).Result(); err != nil || n != 2 {
			t.Fatalf("WAIT 2 on n%d: %d, %v", i+1, n, err)
		}
	}
	return nodes, write
}
