package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// resp3DiffCommands are sent, after HELLO 3, on one connection to a real
// redis-server and to one spookd; each reply must be byte-identical. The
// data is chosen so that Redis's order is deterministic (one-member sets,
// hashes filled in field order).
var resp3DiffCommands = [][]string{
	{"GET", "nokey"},
	{"SET", "k", "v"},
	{"SET", "k", "w", "GET"},
	{"SET", "k2", "w", "NX", "GET"},
	{"MGET", "k", "nokey"},
	{"HSET", "h", "a", "1", "b", "2"},
	{"HGETALL", "h"},
	{"HGETALL", "nokey"},
	{"HGET", "h", "nofield"},
	{"HMGET", "h", "a", "nofield"},
	{"HRANDFIELD", "nokey"},
	{"ZADD", "z", "1.5", "a", "2", "b"},
	{"ZSCORE", "z", "a"},
	{"ZSCORE", "z", "x"},
	{"ZINCRBY", "z", "1", "a"},
	{"ZMSCORE", "z", "a", "x"},
	{"ZADD", "z", "INCR", "1", "b"},
	{"ZADD", "z", "NX", "INCR", "1", "b"},
	{"ZRANGE", "z", "0", "-1"},
	{"ZRANGE", "z", "0", "-1", "WITHSCORES"},
	{"ZREVRANGE", "z", "0", "-1", "WITHSCORES"},
	{"ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"},
	{"ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES"},
	{"ZUNION", "1", "z", "WITHSCORES"},
	{"ZINTER", "1", "z", "WITHSCORES"},
	{"ZDIFF", "1", "z", "WITHSCORES"},
	{"ZRANK", "z", "nope"},
	{"ZPOPMIN", "z"},
	{"ZADD", "z", "1", "a", "3", "c"},
	{"ZPOPMAX", "z", "2"},
	{"ZPOPMIN", "nokey"},
	{"ZPOPMIN", "nokey", "2"},
	{"ZADD", "z", "inf", "i"},
	{"ZSCORE", "z", "i"},
	{"INCRBYFLOAT", "f", "1.5"},
	{"HINCRBYFLOAT", "h", "c", "1.5"},
	{"SADD", "s", "x"},
	{"SMEMBERS", "s"},
	{"SMEMBERS", "nokey"},
	{"SINTER", "s"},
	{"SUNION", "s"},
	{"SDIFF", "s"},
	{"SMISMEMBER", "s", "x", "y"},
	{"SPOP", "nokey"},
	{"SPOP", "s", "1"},
	{"LPOP", "nol"},
	{"LPOP", "nol", "2"},
	{"BLPOP", "nol", "0.01"},
	{"LPOS", "nol", "a"},
	{"XADD", "x", "1-1", "f", "v"},
	{"XRANGE", "x", "-", "+"},
	{"XREAD", "STREAMS", "x", "0"},
	{"XREAD", "STREAMS", "nox", "0"},
	{"XREAD", "BLOCK", "10", "STREAMS", "nox", "$"},
	{"HSET", "h1", "f", "v"},
	{"HRANDFIELD", "h1", "-2", "WITHVALUES"},
	{"HRANDFIELD", "h1", "1"},
	{"SRANDMEMBER", "s", "-2"},
	{"SPOP", "nokey", "2"},
	{"ZRANGESTORE", "zd", "z", "0", "-1"},
	{"ZSCAN", "zd", "0"},
	{"TYPE", "zd"},
	{"TTL", "zd"},
	{"GETEX", "nokey"},
	{"GETDEL", "nokey"},
	{"CONFIG", "GET", "nosuchparameter"},
	{"MULTI"},
	{"ZSCORE", "z", "c"},
	{"HGETALL", "h"},
	{"GET", "nokey"},
	{"SMEMBERS", "s"},
	{"EXEC"},
	{"PING"},
	{"SUBSCRIBE", "ch"},
	{"PING"},
	{"PING", "x"},
	{"UNSUBSCRIBE", "ch"},
	{"CONFIG", "SET", "notify-keyspace-events", "KA"},
	{"CONFIG", "GET", "notify-keyspace-events"},
	{"CONFIG", "SET", "NOTIFY-KEYSPACE-EVENTS", "Kgx$lshzetdmnE"},
	{"CONFIG", "GET", "notify*"},
	{"CONFIG", "SET", "notify-keyspace-events", "E$"},
	{"CONFIG", "GET", "notify-keyspace-events"},
	{"CONFIG", "SET", "notify-keyspace-events", "Q"},
	{"CONFIG", "SET", "notify-keyspace-events", "K", "notify-keyspace-events", "E"},
	{"CONFIG", "SET", "notify-keyspace-events"},
	{"CONFIG", "SET", "notify-keyspace-events", "K", "x"},
	{"CONFIG", "SET", "nope", "1"},
	{"CONFIG", "SET", "maxmemory-policy", "bogus"},
	{"CONFIG", "SET", "maxmemory-policy", "NoEviction"},
	{"CONFIG", "GET", "maxmemory-policy"},
}

// TestRESP3RepliesMatchRealRedis is the RESP3 counterpart of
// TestRepliesMatchRealRedis: after HELLO 3 on both servers, every reply
// of resp3DiffCommands (maps, doubles, sets, nulls, pushes, and the
// nested pairs of WITHSCORES) must be the bytes Redis 7 sends.
func TestRESP3RepliesMatchRealRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	redisAddr := startRedis(t)
	spook := startCluster(t, 1)[0]
	rc, sc := dialRESP(t, redisAddr), dialRESP(t, spook.addr)
	for _, c := range []*respConn{rc, sc} {
		hello := c.rawDo(t, "HELLO", "3")
		if !strings.HasPrefix(hello, "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n") || !strings.Contains(hello, "$5\r\nproto\r\n:3\r\n") {
			t.Fatalf("HELLO 3: %q", hello)
		}
	}
	for _, args := range resp3DiffCommands {
		want, got := rc.rawDo(t, args...), sc.rawDo(t, args...)
		if got != want {
			t.Errorf("%q:\n spook %q\n redis %q", args, got, want)
		}
	}
}

// TestRESP3GoRedis runs go-redis with Protocol 3 against a real spookd:
// the typed replies decode into the same Go values as over RESP2.
func TestRESP3GoRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	addr := startCluster(t, 1)[0].addr
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 3})
	defer c.Close()
	if err := c.HSet(ctx, "h", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.HGetAll(ctx, "h").Result(); err != nil || len(got) != 2 || got["a"] != "1" || got["b"] != "2" {
		t.Errorf("HGETALL = %v, %v", got, err)
	}
	if err := c.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "m"}).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ZScore(ctx, "z", "m").Result(); err != nil || got != 1.5 {
		t.Errorf("ZSCORE = %v, %v", got, err)
	}
	if got, err := c.ZRangeWithScores(ctx, "z", 0, -1).Result(); err != nil || len(got) != 1 || got[0].Score != 1.5 || got[0].Member != "m" {
		t.Errorf("ZRANGE WITHSCORES = %v, %v", got, err)
	}
	if err := c.Get(ctx, "nokey").Err(); err != redis.Nil {
		t.Errorf("GET missing = %v, want redis.Nil", err)
	}
	if err := c.SAdd(ctx, "s", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.SMembers(ctx, "s").Result(); err != nil || len(got) != 2 {
		t.Errorf("SMEMBERS = %v, %v", got, err)
	}
	sub := c.Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "news", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Channel != "news" || msg.Payload != "hello" {
		t.Errorf("message = %v, %v", msg, err)
	}
}

// rawDo sends args and returns the raw bytes of one RESP2 or RESP3 reply.
func (c *respConn) rawDo(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.conn, b.String()); err != nil {
		t.Fatalf("write %q: %v", args, err)
	}
	var raw strings.Builder
	if err := readRaw3(c.r, &raw); err != nil {
		t.Fatalf("read reply to %q: %v (so far %q)", args, err, raw.String())
	}
	return raw.String()
}

// readRaw3 copies one RESP2 or RESP3 reply from r to w.
func readRaw3(r *bufio.Reader, w *strings.Builder) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	w.WriteString(line)
	if len(line) < 3 {
		return fmt.Errorf("short line %q", line)
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	switch line[0] {
	case '$', '=', '!':
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		w.Write(buf)
	case '*', '~', '>':
		for range max(n, 0) {
			if err := readRaw3(r, w); err != nil {
				return err
			}
		}
	case '%', '|':
		for range 2 * n {
			if err := readRaw3(r, w); err != nil {
				return err
			}
		}
	}
	return nil
}
