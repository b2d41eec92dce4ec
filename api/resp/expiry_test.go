package resp

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestExpiryReplies checks the expiry commands' replies and error texts
// against Redis 7's, in order on one connection. Deadlines are far in the
// future or in the past, so nothing depends on timing but the one
// explicit wait below.
func TestExpiryReplies(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	far := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	farMs := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	steps := []struct {
		want string
		args []string
	}{
		{":-2", []string{"TTL", "k"}},
		{":0", []string{"EXPIRE", "k", "100"}},
		{"+OK", []string{"SET", "k", "v"}},
		{":-1", []string{"TTL", "k"}},
		{":-1", []string{"PTTL", "k"}},
		{":-1", []string{"EXPIRETIME", "k"}},
		{":-2", []string{"PEXPIRETIME", "nope"}},
		{":0", []string{"PERSIST", "k"}},
		{":1", []string{"EXPIRE", "k", "100"}},
		{":100", []string{"TTL", "k"}},
		{":0", []string{"EXPIRE", "k", "50", "NX"}},
		{":1", []string{"EXPIRE", "k", "200", "XX"}},
		{":200", []string{"TTL", "k"}},
		{":0", []string{"EXPIRE", "k", "150", "GT"}},
		{":1", []string{"EXPIRE", "k", "300", "GT"}},
		{":0", []string{"EXPIRE", "k", "400", "LT"}},
		{":1", []string{"EXPIRE", "k", "250", "LT"}},
		{":250", []string{"TTL", "k"}},
		{":1", []string{"PERSIST", "k"}},
		{":0", []string{"EXPIRE", "k", "100", "GT"}},
		{":0", []string{"EXPIRE", "k", "100", "XX"}},
		{":1", []string{"EXPIRE", "k", "100", "LT"}},
		{":1", []string{"PERSIST", "k"}},
		{":1", []string{"EXPIRE", "k", "100", "NX"}},
		{"-ERR NX and XX, GT or LT options at the same time are not compatible", []string{"EXPIRE", "k", "1", "NX", "XX"}},
		{"-ERR NX and XX, GT or LT options at the same time are not compatible", []string{"EXPIRE", "k", "1", "NX", "GT"}},
		{"-ERR GT and LT options at the same time are not compatible", []string{"EXPIRE", "k", "1", "GT", "LT"}},
		{"-ERR Unsupported option bogus", []string{"EXPIRE", "k", "1", "bogus"}},
		{"-ERR value is not an integer or out of range", []string{"EXPIRE", "k", "x"}},
		{"-ERR value is not an integer or out of range", []string{"EXPIRE", "k", "1.5"}},
		{"-ERR invalid expire time in 'expire' command", []string{"EXPIRE", "k", "9223372036854775807"}},
		{"-ERR invalid expire time in 'pexpire' command", []string{"PEXPIRE", "k", "9223372036854775807"}},
		{"-ERR wrong number of arguments for 'expire' command", []string{"EXPIRE", "k"}},
		{":1", []string{"EXPIREAT", "k", far}},
		{":" + far, []string{"EXPIRETIME", "k"}},
		{":1", []string{"PEXPIREAT", "k", farMs}},
		{":" + farMs, []string{"PEXPIRETIME", "k"}},
		{":1", []string{"PEXPIRE", "k", "100000"}},
		{":100", []string{"TTL", "k"}},
		// INCR, SADD and the like keep the deadline; SET clears it.
		{"+OK", []string{"SET", "n", "1"}},
		{":1", []string{"EXPIRE", "n", "100"}},
		{":2", []string{"INCR", "n"}},
		{":100", []string{"TTL", "n"}},
		{"+OK", []string{"SET", "n", "5"}},
		{":-1", []string{"TTL", "n"}},
		// A deadline in the past deletes the key at once.
		{":1", []string{"EXPIRE", "n", "-1"}},
		{":0", []string{"EXISTS", "n"}},
		{":-2", []string{"TTL", "n"}},
		{"+OK", []string{"SET", "n", "5"}},
		{":1", []string{"PEXPIREAT", "n", "1"}},
		{"(nil)", []string{"GET", "n"}},
		// SET options.
		{"+OK", []string{"SET", "s", "v", "EX", "100"}},
		{":100", []string{"TTL", "s"}},
		{"+OK", []string{"SET", "s", "w", "KEEPTTL"}},
		{":100", []string{"TTL", "s"}},
		{`"w"`, []string{"SET", "s", "x", "GET", "PX", "200000"}},
		{":200", []string{"TTL", "s"}},
		{"+OK", []string{"SET", "s", "x", "EXAT", far}},
		{":" + far, []string{"EXPIRETIME", "s"}},
		{"+OK", []string{"SET", "s", "x", "PXAT", farMs}},
		{":" + farMs, []string{"PEXPIRETIME", "s"}},
		{"+OK", []string{"SET", "s", "x", "EX", "5", "EX", "100"}},
		{":100", []string{"TTL", "s"}},
		{"+OK", []string{"SET", "s", "y"}},
		{":-1", []string{"TTL", "s"}},
		{"(nil)", []string{"SET", "s", "z", "NX", "EX", "10"}},
		{":-1", []string{"TTL", "s"}},
		{"+OK", []string{"SET", "s", "z", "XX", "EX", "10"}},
		{":10", []string{"TTL", "s"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "EX", "10", "PX", "10"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "EX", "10", "KEEPTTL"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "KEEPTTL", "EX", "10"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "PERSIST"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "EX", "x", "NX", "XX"}},
		{"-ERR value is not an integer or out of range", []string{"SET", "s", "v", "EX", "x"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "s", "v", "EX", "0"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "s", "v", "PX", "-5"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "s", "v", "EX", "9223372036854775807"}},
		{"-ERR invalid expire time in 'set' command", []string{"SET", "s", "v", "EXAT", "0"}},
		{":10", []string{"TTL", "s"}},
		// SETEX, PSETEX.
		{"+OK", []string{"SETEX", "x", "100", "v"}},
		{":100", []string{"TTL", "x"}},
		{"+OK", []string{"PSETEX", "x", "200000", "v"}},
		{":200", []string{"TTL", "x"}},
		{"-ERR invalid expire time in 'setex' command", []string{"SETEX", "x", "0", "v"}},
		{"-ERR invalid expire time in 'psetex' command", []string{"PSETEX", "x", "-1", "v"}},
		{"-ERR value is not an integer or out of range", []string{"SETEX", "x", "y", "v"}},
		// GETEX.
		{"(nil)", []string{"GETEX", "nope", "EX", "10"}},
		{"(nil)", []string{"GETEX", "nope", "PXAT", "x"}}, // the key is checked before the time
		{`"v"`, []string{"GETEX", "x"}},
		{":200", []string{"TTL", "x"}},
		{`"v"`, []string{"GETEX", "x", "EX", "50"}},
		{":50", []string{"TTL", "x"}},
		{`"v"`, []string{"GETEX", "x", "PERSIST"}},
		{":-1", []string{"TTL", "x"}},
		{`"v"`, []string{"GETEX", "x", "PXAT", farMs}},
		{":" + farMs, []string{"PEXPIRETIME", "x"}},
		{"-ERR syntax error", []string{"GETEX", "x", "KEEPTTL"}},
		{"-ERR syntax error", []string{"GETEX", "x", "EX", "10", "PERSIST"}},
		{"-ERR syntax error", []string{"GETEX", "x", "EX"}},
		{"-ERR invalid expire time in 'getex' command", []string{"GETEX", "x", "EX", "0"}},
		{"-ERR value is not an integer or out of range", []string{"GETEX", "x", "PX", "z"}},
		{":1", []string{"SADD", "set", "m"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"GETEX", "set", "EX", "10"}},
		{":-1", []string{"TTL", "set"}},
		{":1", []string{"EXPIRE", "set", "100"}},
		{":100", []string{"TTL", "set"}},
		// Commands that modify a string in place keep its deadline; GETSET
		// and MSET replace it and drop it.
		{"+OK", []string{"SET", "m1", "10", "EX", "100"}},
		{":4", []string{"APPEND", "m1", "00"}},
		{":4", []string{"SETRANGE", "m1", "0", "2"}},
		{":0", []string{"SETBIT", "m1", "0", "0"}},
		{`"2000.5"`, []string{"INCRBYFLOAT", "m1", "0.5"}},
		{":100", []string{"TTL", "m1"}},
		{`"2000.5"`, []string{"GETSET", "m1", "x"}},
		{":-1", []string{"TTL", "m1"}},
		{":1", []string{"EXPIRE", "m1", "100"}},
		{"+OK", []string{"MSET", "m1", "y"}},
		{":-1", []string{"TTL", "m1"}},
		// RENAME and COPY carry the deadline, as in Redis.
		{"+OK", []string{"SET", "r", "v", "EX", "100"}},
		{"+OK", []string{"RENAME", "r", "r2"}},
		{":100", []string{"TTL", "r2"}},
		{":1", []string{"COPY", "r2", "r3"}},
		{":100", []string{"TTL", "r3"}},
		{"+OK", []string{"SET", "r4", "v"}},
		{":1", []string{"COPY", "r4", "r3", "REPLACE"}},
		{":-1", []string{"TTL", "r3"}},
		// Inside MULTI the commands see the transaction's time.
		{"+OK", []string{"MULTI"}},
		{"+QUEUED", []string{"SET", "m", "v", "EX", "100"}},
		{"+QUEUED", []string{"TTL", "m"}},
		{"+QUEUED", []string{"PERSIST", "m"}},
		{"+QUEUED", []string{"TTL", "m"}},
		{`[+OK :100 :1 :-1]`, []string{"EXEC"}},
	}
	for _, s := range steps {
		r.expect(s.want, s.args...)
	}
}

// TestExpiryHides: a key read after its deadline is absent for every
// command, and a write to it starts from nothing.
func TestExpiryHides(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect("+OK", "SET", "k", "v", "PX", "30")
	r.expect(":3", "SADD", "s", "a", "b", "c")
	r.expect(":1", "PEXPIRE", "s", "30")
	r.expect(":5", "INCRBY", "n", "5")
	r.expect(":1", "PEXPIRE", "n", "30")
	time.Sleep(80 * time.Millisecond)
	r.expect("(nil)", "GET", "k")
	r.expect(":0", "EXISTS", "k", "s", "n")
	r.expect(":-2", "TTL", "k")
	r.expect(":0", "SCARD", "s")
	r.expect("[]", "KEYS", "*")
	r.expect(":1", "SADD", "s", "z")
	r.expect(`["z"]`, "SMEMBERS", "s")
	r.expect(":-1", "TTL", "s")
	r.expect(":1", "INCR", "n")
	r.expect(":0", "PERSIST", "k")
	r.expect(":0", "DEL", "k")
	if got := r.do("SCAN", "0"); !strings.Contains(got, `["n" "s"]`) {
		t.Fatalf("SCAN after expiry: %s", got)
	}
}

// TestRandomKeySkipsExpired: RANDOMKEY never returns an expired key that
// is not yet reclaimed.
func TestRandomKeySkipsExpired(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	for _, k := range []string{"a", "b", "c"} {
		r.expect("+OK", "SET", k, "v", "PX", "20")
	}
	r.expect("+OK", "SET", "live", "v")
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 20; i++ {
		r.expect(`"live"`, "RANDOMKEY")
	}
	r.expect(":1", "DEL", "live")
	r.expect("(nil)", "RANDOMKEY")
}
