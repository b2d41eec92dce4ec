package resp

import (
	"context"
	"testing"
	"time"
)

func TestListCommands(t *testing.T) {
	expectSteps(t, []step{
		{":3", []string{"RPUSH", "l", "a", "b", "c"}},
		{":5", []string{"LPUSH", "l", "y", "x"}},
		{`["x" "y" "a" "b" "c"]`, []string{"LRANGE", "l", "0", "-1"}},
		{`["b" "c"]`, []string{"LRANGE", "l", "-2", "100"}},
		{`[]`, []string{"LRANGE", "l", "4", "2"}},
		{":5", []string{"LLEN", "l"}},
		{"+list", []string{"TYPE", "l"}},
		{`"c"`, []string{"LINDEX", "l", "-1"}},
		{"(nil)", []string{"LINDEX", "l", "9"}},
		{":6", []string{"LINSERT", "l", "BEFORE", "a", "m"}},
		{":-1", []string{"LINSERT", "l", "AFTER", "zz", "m"}},
		{":0", []string{"LINSERT", "missing", "AFTER", "a", "m"}},
		{"-ERR syntax error", []string{"LINSERT", "l", "MIDDLE", "a", "m"}},
		{"+OK", []string{"LSET", "l", "0", "X"}},
		{"-ERR index out of range", []string{"LSET", "l", "10", "X"}},
		{"-ERR no such key", []string{"LSET", "missing", "0", "X"}},
		{`["X" "y" "m" "a" "b" "c"]`, []string{"LRANGE", "l", "0", "-1"}},
		{":2", []string{"RPUSH", "r", "a", "a"}},
		{":5", []string{"RPUSH", "r", "b", "a", "a"}},
		{":2", []string{"LREM", "r", "-2", "a"}},
		{`["a" "a" "b"]`, []string{"LRANGE", "r", "0", "-1"}},
		{":2", []string{"LREM", "r", "0", "a"}},
		{":2", []string{"LPOS", "l", "m"}},
		{`[]`, []string{"LPOS", "d", "a", "COUNT", "0"}},
		{":4", []string{"RPUSH", "d", "a", "a", "b", "a"}},
		{`[:0 :1 :3]`, []string{"LPOS", "d", "a", "COUNT", "0"}},
		{`[:3 :1]`, []string{"LPOS", "d", "a", "RANK", "-1", "COUNT", "2"}},
		{":1", []string{"LPOS", "d", "a", "RANK", "2"}},
		{"(nil)", []string{"LPOS", "d", "a", "RANK", "2", "MAXLEN", "1"}},
		{"-" + string(errRankZero), []string{"LPOS", "d", "a", "RANK", "0"}},
		{"+OK", []string{"LTRIM", "l", "1", "-2"}},
		{`["y" "m" "a" "b"]`, []string{"LRANGE", "l", "0", "-1"}},
		{`"y"`, []string{"LPOP", "l"}},
		{`["b" "a"]`, []string{"RPOP", "l", "2"}},
		{`[]`, []string{"LPOP", "l", "0"}},
		{"(nil)", []string{"LPOP", "missing", "2"}},
		{"-ERR value is out of range, must be positive", []string{"LPOP", "l", "-1"}},
		{`"m"`, []string{"LMOVE", "l", "l2", "LEFT", "RIGHT"}},
		{":0", []string{"EXISTS", "l"}},
		{"(nil)", []string{"LMOVE", "l", "l2", "LEFT", "RIGHT"}},
		{`"m"`, []string{"RPOPLPUSH", "l2", "l2"}},
		{":0", []string{"LPUSHX", "nol", "a"}},
		{":2", []string{"RPUSHX", "l2", "z"}},
		{"+OK", []string{"SET", "s", "v"}},
		{wrongType, []string{"LPUSH", "s", "a"}},
		{wrongType, []string{"LRANGE", "s", "0", "-1"}},
		{wrongType, []string{"LMOVE", "l2", "s", "LEFT", "LEFT"}},
		{`["l2" "m"]`, []string{"BLPOP", "nol", "l2", "1"}},
		{"-ERR timeout is not a float or out of range", []string{"BLPOP", "l2", "x"}},
		{"-ERR timeout is negative", []string{"BLPOP", "l2", "-1"}},
		{"(nil)", []string{"BRPOP", "nol", "0.05"}},
		{"+OK", []string{"MULTI"}},
		{"+QUEUED", []string{"BLPOP", "nol", "0"}},
		{"+QUEUED", []string{"BLMOVE", "nol", "x", "LEFT", "LEFT", "0"}},
		{`[(nil) (nil)]`, []string{"EXEC"}},
		{":1", []string{"COPY", "l2", "l3"}},
		{`["z"]`, []string{"LRANGE", "l3", "0", "-1"}},
	})
}

// TestBlockingListPops: BLPOP and BLMOVE wait for a push from another
// client and answer it; a timeout answers a null array.
func TestBlockingListPops(t *testing.T) {
	f := start(t, Config{})
	ctx := context.Background()
	c := f.client()
	got := make(chan []string, 1)
	go func() {
		res, err := c.BLPop(ctx, 5*time.Second, "q1", "q2").Result()
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	waitBlocked(t, f.server, 1)
	r := f.raw()
	r.expect(":1", "RPUSH", "q2", "job")
	select {
	case res := <-got:
		if len(res) != 2 || res[0] != "q2" || res[1] != "job" {
			t.Fatalf("BLPOP got %q", res)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BLPOP not woken")
	}
	moved := make(chan string, 1)
	go func() {
		v, err := c.BLMove(ctx, "src", "dst", "LEFT", "RIGHT", 5*time.Second).Result()
		if err != nil {
			t.Error(err)
		}
		moved <- v
	}()
	waitBlocked(t, f.server, 1)
	r.expect(":1", "LPUSH", "src", "m")
	if v := <-moved; v != "m" {
		t.Fatalf("BLMOVE got %q", v)
	}
	r.expect(`["m"]`, "LRANGE", "dst", "0", "-1")
	r.expect("(nil)", "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0.05")
	waitBlocked(t, f.server, 0)
}

// TestPopOnce: on one node a pop-once is a pop whose claim is judged at
// once; the winner's claims are forgotten after it answers.
func TestPopOnce(t *testing.T) {
	expectSteps(t, []step{
		{":3", []string{"RPUSH", "q", "a", "b", "c"}},
		{`"a"`, []string{"SPOOK.LPOPONCE", "q"}},
		{`"c"`, []string{"SPOOK.RPOPONCE", "q"}},
		{`"b"`, []string{"SPOOK.LPOPONCE", "q"}},
		{"(nil)", []string{"SPOOK.LPOPONCE", "q"}},
		{":0", []string{"HLEN", "spook:claims:q"}},
		{"+OK", []string{"SET", "s", "v"}},
		{wrongType, []string{"SPOOK.LPOPONCE", "s"}},
	})
}
