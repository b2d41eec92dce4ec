package resp

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStreamCommands(t *testing.T) {
	expectSteps(t, []step{
		{`"1-1"`, []string{"XADD", "s", "1-1", "f", "a"}},
		{`"2-0"`, []string{"XADD", "s", "2", "f", "b", "g", "c"}},
		{`"3-0"`, []string{"XADD", "s", "3-0", "f", "c"}},
		{":3", []string{"XLEN", "s"}},
		{":0", []string{"XLEN", "missing"}},
		{"+stream", []string{"TYPE", "s"}},
		{`[["1-1" ["f" "a"]] ["2-0" ["f" "b" "g" "c"]] ["3-0" ["f" "c"]]]`, []string{"XRANGE", "s", "-", "+"}},
		{`[["1-1" ["f" "a"]]]`, []string{"XRANGE", "s", "-", "+", "COUNT", "1"}},
		{"(nil)", []string{"XRANGE", "s", "-", "+", "COUNT", "0"}},
		{`[["2-0" ["f" "b" "g" "c"]]]`, []string{"XRANGE", "s", "2", "2"}},
		{`[["2-0" ["f" "b" "g" "c"]] ["3-0" ["f" "c"]]]`, []string{"XRANGE", "s", "(1-1", "+"}},
		{`[["3-0" ["f" "c"]] ["2-0" ["f" "b" "g" "c"]]]`, []string{"XREVRANGE", "s", "+", "-", "COUNT", "2"}},
		{`[]`, []string{"XRANGE", "missing", "-", "+"}},
		{"-ERR Invalid stream ID specified as stream command argument", []string{"XRANGE", "s", "x", "+"}},
		{"-ERR syntax error", []string{"XRANGE", "s", "-", "+", "LIMIT", "1"}},
		{"-ERR The ID specified in XADD is equal or smaller than the target stream top item", []string{"XADD", "s", "3-0", "f", "x"}},
		{"-ERR The ID specified in XADD must be greater than 0-0", []string{"XADD", "s", "0-0", "f", "x"}},
		{"-ERR wrong number of arguments for 'xadd' command", []string{"XADD", "s", "*", "f"}},
		{"-ERR wrong number of arguments for 'xadd' command", []string{"XADD", "s", "*", "f", "v", "g"}},
		{"(nil)", []string{"XADD", "nostream", "NOMKSTREAM", "*", "f", "v"}},
		{":0", []string{"EXISTS", "nostream"}},
		{":1", []string{"XDEL", "s", "2-0", "9-9"}},
		{":2", []string{"XLEN", "s"}},
		{`"4-0"`, []string{"XADD", "s", "MAXLEN", "2", "4-0", "f", "d"}},
		{`[["3-0" ["f" "c"]] ["4-0" ["f" "d"]]]`, []string{"XRANGE", "s", "-", "+"}},
		{":1", []string{"XTRIM", "s", "MAXLEN", "=", "1"}},
		{":0", []string{"XTRIM", "s", "MAXLEN", "~", "0"}},
		{":1", []string{"XTRIM", "s", "MINID", "5"}},
		{":0", []string{"XLEN", "s"}},
		{"+stream", []string{"TYPE", "s"}},
		{"-ERR The MAXLEN argument must be >= 0.", []string{"XTRIM", "s", "MAXLEN", "-1"}},
		{"-ERR syntax error, LIMIT cannot be used without the special ~ option", []string{"XTRIM", "s", "MAXLEN", "1", "LIMIT", "10"}},
		{"-ERR syntax error", []string{"XTRIM", "s", "FOO", "1"}},
		{`["length" :0 "last-generated-id" "4-0" "groups" :0 "first-entry" (nil) "last-entry" (nil)]`, []string{"XINFO", "STREAM", "s"}},
		{"-ERR no such key", []string{"XINFO", "STREAM", "missing"}},
		{"+OK", []string{"SET", "str", "x"}},
		{wrongType, []string{"XADD", "str", "*", "f", "v"}},
		{wrongType, []string{"XRANGE", "str", "-", "+"}},
		{wrongType, []string{"XLEN", "str"}},
		{wrongType, []string{"SADD", "s", "m"}},
		{":1", []string{"DEL", "s"}},
		{`"1-0"`, []string{"XADD", "s", "1-0", "f", "v"}},
		{`[["s" [["1-0" ["f" "v"]]]]]`, []string{"XREAD", "STREAMS", "s", "0"}},
		{`[["s" [["1-0" ["f" "v"]]]]]`, []string{"XREAD", "COUNT", "5", "STREAMS", "s", "missing", "0", "0"}},
		{"(nil)", []string{"XREAD", "STREAMS", "s", "$"}},
		{"(nil)", []string{"XREAD", "STREAMS", "s", "1-0"}},
		{"-ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.", []string{"XREAD", "STREAMS", "s", "t", "0"}},
		{"-ERR timeout is negative", []string{"XREAD", "BLOCK", "-1", "STREAMS", "s", "0"}},
		{"(nil)", []string{"XREAD", "BLOCK", "10", "STREAMS", "s", "$"}},
		{"-" + string(errNoGroups), []string{"XGROUP", "CREATE", "s", "g", "$"}},
		{"-" + string(errNoGroups), []string{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}},
		{"+OK", []string{"MULTI"}},
		{"+QUEUED", []string{"XADD", "s", "2-0", "f", "w"}},
		{"+QUEUED", []string{"XREAD", "BLOCK", "0", "STREAMS", "s", "1-0"}},
		{`["2-0" [["s" [["2-0" ["f" "w"]]]]]]`, []string{"EXEC"}},
	})
}

// TestStreamAutoIDs: generated IDs grow and carry the node's tag.
func TestStreamAutoIDs(t *testing.T) {
	f := start(t, Config{})
	c := f.client()
	ctx := context.Background()
	var last string
	for i := 0; i < 50; i++ {
		id, err := c.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []string{"i", "x"}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		if last != "" {
			a, _ := parseStreamID([]byte(last), 0, false)
			b, _ := parseStreamID([]byte(id), 0, false)
			if a.Compare(b) >= 0 {
				t.Fatalf("ID %s after %s", id, last)
			}
		}
		last = id
	}
	if n, _ := c.XLen(ctx, "s").Result(); n != 50 {
		t.Fatalf("XLEN %d", n)
	}
}

// TestXReadBlock: a blocked XREAD is answered by a write from another
// client, times out with a null reply, and a client that hangs up while
// blocked frees its slot.
func TestXReadBlock(t *testing.T) {
	f := start(t, Config{})
	ctx := context.Background()
	c1, c2 := f.client(), f.client()
	got := make(chan []redis.XStream, 1)
	go func() {
		res, err := c1.XRead(ctx, &redis.XReadArgs{Streams: []string{"s", "$"}, Block: 5 * time.Second}).Result()
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	waitBlocked(t, f.server, 1)
	if _, err := c2.XAdd(ctx, &redis.XAddArgs{Stream: "s", ID: "7-1", Values: []string{"f", "v"}}).Result(); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if len(res) != 1 || res[0].Stream != "s" || len(res[0].Messages) != 1 || res[0].Messages[0].ID != "7-1" {
			t.Fatalf("XREAD got %+v", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked XREAD not woken")
	}

	// Timeout: a null reply.
	r := f.raw()
	r.expect("(nil)", "XREAD", "BLOCK", "50", "STREAMS", "s", "$")

	// A client that hangs up while blocked is forgotten.
	r2 := f.raw()
	r2.send("XREAD", "BLOCK", "0", "STREAMS", "other", "$")
	waitBlocked(t, f.server, 1)
	r2.conn.Close()
	waitBlocked(t, f.server, 0)
}

// waitBlocked waits until the server has n blocked clients.
func waitBlocked(t *testing.T, s *Server, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		s.blocks.mu.Lock()
		got := s.blocks.n
		s.blocks.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("blocked clients never reached %d", n)
}
