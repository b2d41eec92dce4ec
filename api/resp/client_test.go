package resp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
)

// TestGoRedis drives every command family through go-redis, which first
// speaks RESP3 after HELLO 3 and sends CLIENT SETINFO.
func TestGoRedis(t *testing.T) {
	f := start(t, Config{})
	c := f.client()
	ctx := bg()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Ping(ctx).Err())
	must(c.Set(ctx, "a", "1", 0).Err())
	if v, err := c.Get(ctx, "a").Result(); err != nil || v != "1" {
		t.Fatalf("GET a = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "missing").Result(); err != redis.Nil {
		t.Fatalf("GET missing: %v", err)
	}
	if n, err := c.Incr(ctx, "a").Result(); err != nil || n != 2 {
		t.Fatalf("INCR a = %d, %v", n, err)
	}
	must(c.Set(ctx, "e", "x", time.Minute).Err())
	if d, err := c.TTL(ctx, "e").Result(); err != nil || d != time.Minute {
		t.Fatalf("TTL after SET EX = %v, %v", d, err)
	}
	must(c.Del(ctx, "e").Err())
	if ok, err := c.SetNX(ctx, "a", "y", 0).Result(); err != nil || ok {
		t.Fatalf("SETNX existing = %v, %v", ok, err)
	}
	must(c.MSet(ctx, "k1", "v1", "k2", "v2").Err())
	if vs, err := c.MGet(ctx, "k1", "k2", "k3").Result(); err != nil || fmt.Sprint(vs) != "[v1 v2 <nil>]" {
		t.Fatalf("MGET = %v, %v", vs, err)
	}
	if n, err := c.SAdd(ctx, "s", "a", "b", "c").Result(); err != nil || n != 3 {
		t.Fatalf("SADD = %d, %v", n, err)
	}
	if ms, err := c.SMembers(ctx, "s").Result(); err != nil || strings.Join(ms, ",") != "a,b,c" {
		t.Fatalf("SMEMBERS = %v, %v", ms, err)
	}
	if bs, err := c.SMIsMember(ctx, "s", "a", "z").Result(); err != nil || fmt.Sprint(bs) != "[true false]" {
		t.Fatalf("SMISMEMBER = %v, %v", bs, err)
	}
	if n, err := c.HSet(ctx, "h", "f", "v", "g", "w").Result(); err != nil || n != 2 {
		t.Fatalf("HSET = %d, %v", n, err)
	}
	if m, err := c.HGetAll(ctx, "h").Result(); err != nil || fmt.Sprint(m) != "map[f:v g:w]" {
		t.Fatalf("HGETALL = %v, %v", m, err)
	}
	if n, err := c.HIncrBy(ctx, "h", "n", 7).Result(); err != nil || n != 7 {
		t.Fatalf("HINCRBY = %d, %v", n, err)
	}
	if _, err := c.Get(ctx, "s").Result(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("GET of a set: %v", err)
	}
	if ty, err := c.Type(ctx, "h").Result(); err != nil || ty != "hash" {
		t.Fatalf("TYPE = %q, %v", ty, err)
	}
	keys, cursor, err := c.Scan(ctx, 0, "k*", 100).Result()
	if err != nil || cursor != 0 || strings.Join(keys, ",") != "k1,k2" {
		t.Fatalf("SCAN = %v %d %v", keys, cursor, err)
	}
	var all []string
	iter := c.Scan(ctx, 0, "", 2).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	if iter.Err() != nil || strings.Join(all, ",") != "a,h,k1,k2,s" {
		t.Fatalf("SCAN iterator = %v, %v", all, iter.Err())
	}
	if n, err := c.Del(ctx, "a", "s", "nope").Result(); err != nil || n != 2 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 3 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	if name, err := c.ClientGetName(ctx).Result(); err != redis.Nil || name != "" {
		t.Fatalf("CLIENT GETNAME = %q, %v", name, err)
	}
	must(c.Do(ctx, "CLIENT", "SETNAME", "tester").Err())
	if n, err := c.Wait(ctx, 0, 0).Result(); err != nil || n != 0 {
		t.Fatalf("WAIT 0 0 = %d, %v", n, err)
	}
	must(c.FlushAll(ctx).Err())
	if n, _ := c.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL = %d", n)
	}
}

// TestPipelineOrder sends many commands in one pipeline and checks every
// reply arrives in order.
func TestPipelineOrder(t *testing.T) {
	f := start(t, Config{})
	c := f.client()
	ctx := bg()
	const n = 2000
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < n; i++ {
			p.Incr(ctx, "ctr")
			p.Set(ctx, fmt.Sprintf("k%d", i), i, 0)
			p.Get(ctx, fmt.Sprintf("k%d", i))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if v := cmds[3*i].(*redis.IntCmd).Val(); v != int64(i+1) {
			t.Fatalf("INCR #%d = %d", i, v)
		}
		if v := cmds[3*i+2].(*redis.StringCmd).Val(); v != fmt.Sprint(i) {
			t.Fatalf("GET k%d = %q", i, v)
		}
	}
}

func TestMultiExec(t *testing.T) {
	f := start(t, Config{})
	c := f.client()
	ctx := bg()
	// go-redis's TxPipelined wraps the commands in MULTI/EXEC.
	var incr *redis.IntCmd
	var get *redis.StringCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "a", "1", 0)
		incr = p.IncrBy(ctx, "a", 5)
		get = p.Get(ctx, "a") // sees the transaction's own writes
		p.SAdd(ctx, "s", "x")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if incr.Val() != 6 || get.Val() != "6" {
		t.Fatalf("in-transaction results: incr %d get %q", incr.Val(), get.Val())
	}

	// The whole EXEC is one transaction: the watcher sees its keys
	// together, from one dot.
	sub := f.backend.Watch(nil, 16)
	defer sub.Close()
	r := f.raw()
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "SET", "x", "1")
	r.expect("+QUEUED", "SADD", "s", "y")
	r.expect("+QUEUED", "INCR", "s") // fails at run time: WRONGTYPE
	r.expect("+QUEUED", "HSET", "h", "f", "v")
	r.expect("+QUEUED", "PING")
	r.expect(`[+OK :1 -WRONGTYPE Operation against a key holding the wrong kind of value :1 +PONG]`, "EXEC")
	origin := ""
	keys := []string{}
	for range 3 {
		select {
		case ch := <-sub.C():
			keys = append(keys, string(ch.Key))
			if origin != "" && origin != ch.Origin.String() {
				t.Errorf("changes from two origins")
			}
			origin = ch.Origin.String()
		case <-time.After(5 * time.Second):
			t.Fatal("no change")
		}
	}
	if strings.Join(keys, ",") != "h,s,x" {
		t.Errorf("changes %v", keys)
	}
	if tok := f.backend.Status().Applied["n1"]; tok != 2 {
		t.Errorf("EXEC made %d transactions in total, want 2 (TxPipelined, EXEC)", tok)
	}

	// A queue-time error aborts the EXEC.
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "SET", "y", "1")
	r.expect("-ERR wrong number of arguments for 'get' command", "GET")
	r.expect("-ERR unknown command 'NOPE', with args beginning with: ", "NOPE")
	r.expect("-ERR Command not allowed inside a transaction", "KEYS", "*")
	r.expect("-ERR MULTI calls can not be nested", "MULTI")
	r.expect("-EXECABORT Transaction discarded because of previous errors.", "EXEC")
	r.expect("(nil)", "GET", "y")

	// DISCARD drops the queue.
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "SET", "z", "1")
	r.expect("+OK", "DISCARD")
	r.expect("(nil)", "GET", "z")

	// A read-only EXEC and an empty one.
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "GET", "x")
	r.expect(`["1"]`, "EXEC")
	r.expect("+OK", "MULTI")
	r.expect("[]", "EXEC")
}

func TestMultiQueueLimit(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect("+OK", "MULTI")
	// Pipeline the queue for speed.
	var b bytes.Buffer
	for range MaxQueuedCommands + 1 {
		b.WriteString("*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n")
	}
	if _, err := r.conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	for range MaxQueuedCommands {
		if got := r.read(); got != "+QUEUED" {
			t.Fatalf("queue: %s", got)
		}
	}
	if got := r.read(); !strings.HasPrefix(got, "-ERR too many commands queued in MULTI") {
		t.Fatalf("over the queue limit: %s", got)
	}
	r.expect("-EXECABORT Transaction discarded because of previous errors.", "EXEC")
}

func TestAuth(t *testing.T) {
	f := start(t, Config{Password: "s3cret"})
	r := f.raw()
	r.expect("-NOAUTH Authentication required.", "GET", "a")
	r.expect("-NOAUTH Authentication required.", "PING")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "wrong")
	r.expect("-WRONGPASS invalid username-password pair or user is disabled.", "AUTH", "bob", "s3cret")
	if got := r.do("HELLO", "2"); !strings.HasPrefix(got, "-NOAUTH HELLO must be called") {
		t.Errorf("HELLO unauthenticated: %s", got)
	}
	r.expect("+OK", "AUTH", "s3cret")
	r.expect("(nil)", "GET", "a")

	r2 := f.raw()
	if got := r2.do("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "x"); !strings.HasPrefix(got, `["server"`) {
		t.Errorf("HELLO AUTH: %s", got)
	}
	r2.expect(`"x"`, "CLIENT", "GETNAME")

	// go-redis authenticates with HELLO 3 AUTH.
	c := f.client(func(o *redis.Options) { o.Password = "s3cret" })
	if err := c.Set(bg(), "a", "b", 0).Err(); err != nil {
		t.Fatal(err)
	}
	bad := f.client(func(o *redis.Options) { o.Password = "nope" })
	if err := bad.Get(bg(), "a").Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestWait(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect(":0", "WAIT", "1", "10") // no write yet: nothing to wait for
	r.expect("+OK", "SET", "a", "1")
	r.expect(":0", "WAIT", "0", "0") // this node has it: 0 others
	// One other member can never have it in a cluster of one: the
	// timeout decides.
	start := time.Now()
	r.expect(":0", "WAIT", "1", "50")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("WAIT 1 50 returned after %v", d)
	}
	r.expect("-ERR value is not an integer or out of range", "WAIT", "x", "0")

	// WAIT with no timeout blocks until the server closes.
	r2 := f.raw()
	r2.expect("+OK", "SET", "b", "1")
	r2.send("WAIT", "1", "0")
	done := make(chan string)
	go func() {
		s, _ := readReply(r2.r)
		done <- s
	}()
	select {
	case s := <-done:
		t.Fatalf("WAIT 1 0 returned %s", s)
	case <-time.After(20 * time.Millisecond):
	}
	f.server.Close()
	if s := <-done; s != ":0" && s != "" {
		t.Fatalf("WAIT after Close: %q", s)
	}
}

func TestPubSub(t *testing.T) {
	f := start(t, Config{})
	c := f.client()
	ctx := bg()
	ps := c.PSubscribe(ctx, "__keyspace@0__:user:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the psubscribe confirmation
		t.Fatal(err)
	}
	if err := ps.Subscribe(ctx, "__keyevent@0__:del", "__keyevent@0__:incrby"); err != nil {
		t.Fatal(err)
	}
	msgs := ps.Channel()
	w := f.client()
	for _, cmd := range [][]any{
		{"SET", "user:1", "x"},
		{"SET", "other", "x"}, // no subscription matches
		{"INCR", "n"},
		{"SADD", "user:2", "m"},
		{"HSET", "user:3", "f", "v"},
		{"DEL", "user:1"},
		{"SET", "\x00spook/x", "v"}, // refused
	} {
		_ = w.Do(ctx, cmd...).Err()
	}
	// A reserved key written by the replica notifies no one.
	_, _ = f.backend.Update(ctx, func(tx *crdtBuilder) error { return tx.Set([]byte("\x00spook/y"), []byte("v")) })
	want := []string{
		"__keyspace@0__:user:* __keyspace@0__:user:1 set",
		"__keyevent@0__:incrby n",
		"__keyspace@0__:user:* __keyspace@0__:user:2 sadd",
		"__keyspace@0__:user:* __keyspace@0__:user:3 hset",
		"__keyspace@0__:user:* __keyspace@0__:user:1 del",
		"__keyevent@0__:del user:1",
	}
	for i, w := range want {
		select {
		case m := <-msgs:
			got := m.Channel + " " + m.Payload
			if m.Pattern != "" {
				got = m.Pattern + " " + got
			}
			if got != w {
				t.Errorf("message %d: got %q, want %q", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d (%q) never came", i, w)
		}
	}
	select {
	case m := <-msgs:
		t.Errorf("unexpected message %v", m)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestPubSubModeAndBack(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect(`["subscribe" "__keyspace@0__:a" :1]`, "SUBSCRIBE", "__keyspace@0__:a")
	r.expect(`["psubscribe" "__keyevent@0__:*" :2]`, "PSUBSCRIBE", "__keyevent@0__:*")
	r.expect("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", "GET", "a")
	r.expect(`["pong" ""]`, "PING")
	w := f.raw()
	w.expect("+OK", "SET", "a", "1")
	if got := r.read(); got != `["message" "__keyspace@0__:a" "set"]` {
		t.Errorf("keyspace message: %s", got)
	}
	if got := r.read(); got != `["pmessage" "__keyevent@0__:*" "__keyevent@0__:set" "a"]` {
		t.Errorf("keyevent message: %s", got)
	}
	r.expect(`["unsubscribe" "__keyspace@0__:a" :1]`, "UNSUBSCRIBE")
	r.expect(`["punsubscribe" "__keyevent@0__:*" :0]`, "PUNSUBSCRIBE")
	// Back to normal mode on the same connection.
	r.expect(`"1"`, "GET", "a")
	r.expect(`["unsubscribe" (nil) :0]`, "UNSUBSCRIBE")
	w.expect("+OK", "SET", "a", "2")
	r.expect(`"2"`, "GET", "a") // no stray notification before the reply
	// Subscribing again from the shared connection works too.
	r.expect(`["subscribe" "__keyevent@0__:set" :1]`, "SUBSCRIBE", "__keyevent@0__:set")
	w.expect("+OK", "SET", "b", "1")
	if got := r.read(); got != `["message" "__keyevent@0__:set" "b"]` {
		t.Errorf("after resubscribe: %s", got)
	}
	r.expect("+OK", "QUIT")
	if _, err := r.r.ReadByte(); err != io.EOF {
		t.Errorf("after QUIT: %v", err)
	}
}

func TestQuitAndReset(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.send("QUIT")
	r.send("SET", "after", "quit") // must not run
	if got := r.read(); got != "+OK" {
		t.Fatalf("QUIT: %s", got)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		t.Errorf("after QUIT: %v", err)
	}
	r2 := f.raw()
	r2.expect("(nil)", "GET", "after")
	r2.expect("+OK", "MULTI")
	r2.expect("+RESET", "RESET")
	r2.expect("-ERR EXEC without MULTI", "EXEC")
}

func TestProtocolLimits(t *testing.T) {
	f := start(t, Config{})
	cases := []struct{ name, input, want string }{
		{"bulk too long", fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n", MaxBulkBytes+1), "-ERR Protocol error: invalid bulk length"},
		{"too many args", fmt.Sprintf("*%d\r\n", MaxCommandArgs+1), "-ERR Protocol error: invalid multibulk length"},
		{"inline too long", strings.Repeat("x", MaxInlineBytes+1), "-ERR Protocol error: too big inline request"},
		{"bad count", "*x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"not a bulk", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'"},
		{"long header", "*" + strings.Repeat("1", 40) + "\r\n", "-ERR Protocol error: too big mbulk count string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.raw()
			go r.conn.Write([]byte(tc.input)) // may block on a full socket; the server closes
			got, err := readReply(r.r)
			if err != nil || got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			if _, err := r.r.ReadByte(); err == nil {
				t.Fatal("connection still open")
			}
		})
	}
	// The server still serves.
	f.raw().expect("+PONG", "PING")
	// Inline commands work.
	r := f.raw()
	if _, err := r.conn.Write([]byte("SET inl ine\r\nGET inl\r\n")); err != nil {
		t.Fatal(err)
	}
	if a, b := r.read(), r.read(); a != "+OK" || b != `"ine"` {
		t.Fatalf("inline: %s %s", a, b)
	}
}

func TestMaxClients(t *testing.T) {
	f := start(t, Config{MaxClients: 1})
	r := f.raw()
	r.expect("+PONG", "PING")
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "-ERR max number of clients reached\r\n" {
		t.Fatalf("second client got %q, %v", got, err)
	}
	r.conn.Close()
	// The slot frees once the first client's goroutine ends.
	deadline := time.Now().Add(5 * time.Second)
	for f.server.clients.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("client slot not released")
		}
		time.Sleep(time.Millisecond)
	}
	f.raw().expect("+PONG", "PING")
}

func TestRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not on PATH (Debian: apt-get install redis-tools)")
	}
	f := start(t, Config{})
	_, port, _ := net.SplitHostPort(f.addr)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cli, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("set", "a", "b"); got != "OK" {
		t.Errorf("set: %q", got)
	}
	if got := run("get", "a"); got != "b" {
		t.Errorf("get: %q", got)
	}
	if got := run("incr", "c"); got != "1" {
		t.Errorf("incr: %q", got)
	}
	if got := run("get", "c"); got != "1" {
		t.Errorf("get counter: %q", got)
	}
	if got := run("info", "spook"); !strings.Contains(got, "node_name:n1") {
		t.Errorf("info: %q", got)
	}
	if got := run("nosuch"); !strings.Contains(got, "ERR unknown command 'nosuch'") {
		t.Errorf("unknown: %q", got)
	}
}

// BenchmarkSetPipelined measures SETs through go-redis, 16 per pipeline,
// against the apitest backend (one mutex, no log, no peers).
func BenchmarkSetPipelined(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	backend := newBenchBackend()
	s := New(backend, Config{})
	go s.Serve(l)
	defer s.Close()
	c := redis.NewClient(&redis.Options{Addr: l.Addr().String()})
	defer c.Close()
	ctx := bg()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := 0; j < 16; j++ {
				p.Set(ctx, fmt.Sprintf("key:%d", (i+j)%10000), "value", 0)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestPubSubSlowSubscriberDisconnected: a subscriber that does not read
// falls behind its watch buffer and is disconnected, never left silently
// missing notifications.
func TestPubSubSlowSubscriberDisconnected(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect(`["psubscribe" "*" :1]`, "PSUBSCRIBE", "*")
	// Each change makes two pmessages of ~100 bytes; enough changes to
	// fill the socket buffers and then PubSubBuffer.
	const perTxn = 4000
	for i := 0; i < 100; i++ {
		_, err := f.backend.Update(bg(), func(tx *crdtBuilder) error {
			for j := 0; j < perTxn; j++ {
				if err := tx.Set([]byte(fmt.Sprintf("key:%08d", i*perTxn+j)), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = r.conn.SetDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, r.r)
	if err != nil {
		t.Fatalf("after %d bytes: %v (want the server to close the connection)", n, err)
	}
	if n >= 100*perTxn*2*50 {
		t.Fatalf("got %d bytes: every notification arrived, no overflow happened", n)
	}
	// The server still serves others.
	f.raw().expect("+PONG", "PING")
}

// TestConcurrentClients: many connections incrementing one counter and
// adding to one set at once lose no update.
func TestConcurrentClients(t *testing.T) {
	f := start(t, Config{})
	const clients, each = 8, 200
	errs := make(chan error, clients)
	for i := range clients {
		go func() {
			c := redis.NewClient(&redis.Options{Addr: f.addr, PoolSize: 1})
			defer c.Close()
			for j := range each {
				if err := c.Incr(bg(), "n").Err(); err != nil {
					errs <- err
					return
				}
				if err := c.SAdd(bg(), "s", fmt.Sprintf("%d-%d", i, j)).Err(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r := f.raw()
	r.expect(`"1600"`, "GET", "n")
	r.expect(":1600", "SCARD", "s")
}

// TestLifecycle: Close ends subscribed, blocked and idle connections alike
// and leaves no goroutine (TestMain's goleak checks); Serve after Close
// refuses.
func TestLifecycle(t *testing.T) {
	f := start(t, Config{})
	sub := f.raw()
	sub.expect(`["subscribe" "__keyevent@0__:set" :1]`, "SUBSCRIBE", "__keyevent@0__:set")
	idle := f.raw()
	idle.expect("+PONG", "PING")
	multi := f.raw()
	multi.expect("+OK", "MULTI")
	if err := f.server.Close(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*raw{"subscribed": sub, "idle": idle, "in MULTI": multi} {
		if _, err := r.r.ReadByte(); err != io.EOF {
			t.Errorf("%s connection after Close: %v", name, err)
		}
	}
	if err := f.server.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.server.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after Close left the listener open: %v", err)
	}

	// Close before Serve.
	s := New(f.backend, Config{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(l2); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after an early Close: %v", err)
	}
}

// adminBackend adds api.Admin to the test backend.
type adminBackend struct {
	*apitest.Backend
	removed []string
}

func (a *adminBackend) RemoveMember(ctx context.Context, name string) (api.Token, error) {
	if name != "dead" {
		return api.Token{}, errors.New("no member called " + name)
	}
	a.removed = append(a.removed, name)
	return a.Update(ctx, func(tx *crdtBuilder) error { return tx.Set([]byte("members-changed"), []byte(name)) })
}

func TestRemoveMember(t *testing.T) {
	f := start(t, Config{})
	f.raw().expect("-ERR SPOOK.REMOVEMEMBER is not supported by this node", "SPOOK.REMOVEMEMBER", "dead")

	ab := &adminBackend{Backend: apitest.New("n2")}
	defer ab.Close()
	s := New(ab, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	defer func() { s.Close(); <-done }()
	r := (&fixture{t: t, addr: l.Addr().String()}).raw()
	r.expect("+OK", "SPOOK.REMOVEMEMBER", "dead")
	r.expect("-ERR no member called alive", "SPOOK.REMOVEMEMBER", "alive")
	r.expect(":0", "WAIT", "0", "0")
	if len(ab.removed) != 1 {
		t.Errorf("removed %v", ab.removed)
	}
}

// TestInlineQuotingOverTCP (issue 15): inline commands are split by
// Redis's quoting rules, and unbalanced quotes are a protocol error that
// closes the connection, as in Redis.
func TestInlineQuotingOverTCP(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	if _, err := io.WriteString(r.conn, "ECHO \"c\\x41\"\r\nECHO 'a\\nb'\r\nECHO a\"b\"\r\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cA"`, `"a\\nb"`, `"ab"`} {
		if got := r.read(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	r = f.raw()
	if _, err := io.WriteString(r.conn, "PING\r\nECHO \"abc\r\nPING\r\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+PONG", "-ERR Protocol error: unbalanced quotes in request"} {
		if got := r.read(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	if _, err := r.r.ReadByte(); err == nil {
		t.Fatal("connection still open after unbalanced quotes")
	}
}

// TestQueuedCommandsOutliveTheReadBuffer: arguments alias the read
// buffer, so a command queued by MULTI must keep its own copy when later
// reads reuse the buffer.
func TestQueuedCommandsOutliveTheReadBuffer(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect("+OK", "MULTI")
	r.expect("+QUEUED", "SET", "k", "first-value")
	// Fill the read buffer from the front again, many times over.
	big := strings.Repeat("x", 500)
	for i := range 200 {
		r.expect("+QUEUED", "SET", "other"+strconv.Itoa(i), big)
	}
	if got := r.do("EXEC"); !strings.HasPrefix(got, "[+OK +OK") {
		t.Fatalf("EXEC: %.40s", got)
	}
	r.expect(`"first-value"`, "GET", "k")
	r.expect(strconv.Quote(big), "GET", "other199")
}

// TestPipelineAcrossReads: a pipeline of plain writes and reads, cut at
// every byte boundary into many reads, gets every reply in order.
func TestPipelineAcrossReads(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	var in strings.Builder
	var want []string
	for i := range 300 {
		k := strconv.Itoa(i % 7)
		fmt.Fprintf(&in, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%d\r\n", len(k), k, len(strconv.Itoa(i)), i)
		want = append(want, "+OK")
		if i%50 == 49 {
			fmt.Fprintf(&in, "GET %s\r\n", k)
			want = append(want, strconv.Quote(strconv.Itoa(i)))
		}
	}
	go func() {
		b := []byte(in.String())
		for len(b) > 0 {
			n := min(len(b), 37)
			if _, err := r.conn.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}()
	for i, w := range want {
		if got := r.read(); got != w {
			t.Fatalf("reply %d: %s, want %s", i, got, w)
		}
	}
}
