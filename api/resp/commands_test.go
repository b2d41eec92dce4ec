package resp

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// TestReplies checks exact replies, error texts included, command by
// command on one connection, in order.
func TestReplies(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	steps := []struct {
		want string
		args []string
	}{
		{"+PONG", []string{"PING"}},
		{`"hi"`, []string{"PING", "hi"}},
		{`"x y"`, []string{"ECHO", "x y"}},
		{"+OK", []string{"SELECT", "0"}},
		{"-ERR DB index is out of range", []string{"SELECT", "1"}},
		{"-ERR value is not an integer or out of range", []string{"SELECT", "x"}},

		// Strings.
		{"(nil)", []string{"GET", "s"}},
		{"+OK", []string{"SET", "s", "v1"}},
		{`"v1"`, []string{"GET", "s"}},
		{"(nil)", []string{"SET", "s", "v2", "NX"}},
		{`"v1"`, []string{"GET", "s"}},
		{"+OK", []string{"SET", "s", "v2", "XX"}},
		{"(nil)", []string{"SET", "nope", "v", "XX"}},
		{":0", []string{"EXISTS", "nope"}},
		{`"v2"`, []string{"SET", "s", "v3", "GET"}},
		{"(nil)", []string{"SET", "fresh", "f", "GET"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "NX", "XX"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "BOGUS"}},
		{"-ERR syntax error", []string{"SET", "s", "v", "EX"}},
		{"+OK", []string{"SET", "s", "v3", "EX", "10"}},
		{"+OK", []string{"SET", "s", "v3", "KEEPTTL"}},
		{`"v3"`, []string{"GET", "s"}},
		{":10", []string{"TTL", "s"}},
		{"+OK", []string{"SET", "s", "v3"}},
		{"-ERR wrong number of arguments for 'get' command", []string{"GET"}},
		{"-ERR wrong number of arguments for 'set' command", []string{"SET", "a"}},
		{"+OK", []string{"MSET", "m1", "a", "m2", "b"}},
		{"-ERR wrong number of arguments for 'mset' command", []string{"MSET", "m1", "a", "m2"}},
		{`["a" "b" (nil)]`, []string{"MGET", "m1", "m2", "m3"}},
		{":1", []string{"SETNX", "nx", "1"}},
		{":0", []string{"SETNX", "nx", "2"}},
		{":0", []string{"MSETNX", "nx", "3", "other", "4"}},
		{"(nil)", []string{"GET", "other"}},
		{`"1"`, []string{"GETSET", "nx", "5"}},
		{":1", []string{"STRLEN", "nx"}},
		{":0", []string{"STRLEN", "missing"}},
		{":5", []string{"APPEND", "ap", "hello"}},
		{":11", []string{"APPEND", "ap", " world"}},
		{`"hello world"`, []string{"GET", "ap"}},

		// Counters.
		{":1", []string{"INCR", "n"}},
		{":11", []string{"INCRBY", "n", "10"}},
		{":10", []string{"DECR", "n"}},
		{":-5", []string{"DECRBY", "n", "15"}},
		{`"-5"`, []string{"GET", "n"}},
		{":2", []string{"STRLEN", "n"}},
		{"+string", []string{"TYPE", "n"}},
		{"+OK", []string{"SET", "i", "41"}},
		{":42", []string{"INCR", "i"}},
		{"-ERR value is not an integer or out of range", []string{"INCR", "s"}},
		{"-ERR value is not an integer or out of range", []string{"INCRBY", "n", "x"}},
		{"-ERR value is not an integer or out of range", []string{"INCRBY", "n", "+1"}},
		{"+OK", []string{"SET", "big", "9223372036854775806"}},
		{":9223372036854775807", []string{"INCR", "big"}},
		{"-ERR increment or decrement would overflow", []string{"INCR", "big"}},
		{`"9223372036854775807"`, []string{"GET", "big"}},
		{"-ERR decrement would overflow", []string{"DECRBY", "n", "-9223372036854775808"}},
		{":3", []string{"APPEND", "i", "0"}},
		{`"420"`, []string{"GET", "i"}}, // counter text plus suffix, now a register

		// Sets.
		{":2", []string{"SADD", "set", "a", "b"}},
		{":1", []string{"SADD", "set", "b", "c"}},
		{`["a" "b" "c"]`, []string{"SMEMBERS", "set"}},
		{":1", []string{"SISMEMBER", "set", "a"}},
		{":0", []string{"SISMEMBER", "set", "z"}},
		{"[:1 :0]", []string{"SMISMEMBER", "set", "c", "z"}},
		{":3", []string{"SCARD", "set"}},
		{":1", []string{"SREM", "set", "a", "z"}},
		{":2", []string{"SCARD", "set"}},
		{"+set", []string{"TYPE", "set"}},
		{"[]", []string{"SMEMBERS", "noset"}},
		{":0", []string{"SREM", "noset", "a"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"GET", "set"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"SADD", "s", "x"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"INCR", "set"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"SET", "set", "x", "GET"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"APPEND", "set", "x"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"STRLEN", "set"}},
		{`[(nil)]`, []string{"MGET", "set"}},

		// Hashes.
		{":2", []string{"HSET", "h", "f1", "v1", "f2", "v2"}},
		{":0", []string{"HSET", "h", "f1", "v1b"}},
		{"-ERR wrong number of arguments for 'hset' command", []string{"HSET", "h", "f1", "v1", "f2"}},
		{`"v1b"`, []string{"HGET", "h", "f1"}},
		{"(nil)", []string{"HGET", "h", "nope"}},
		{"(nil)", []string{"HGET", "noh", "f"}},
		{":0", []string{"HSETNX", "h", "f1", "x"}},
		{":1", []string{"HSETNX", "h", "f3", "v3"}},
		{`["v1b" (nil) "v3"]`, []string{"HMGET", "h", "f1", "zz", "f3"}},
		{":3", []string{"HLEN", "h"}},
		{":1", []string{"HEXISTS", "h", "f2"}},
		{":0", []string{"HEXISTS", "h", "f9"}},
		{`["f1" "f2" "f3"]`, []string{"HKEYS", "h"}},
		{`["v1b" "v2" "v3"]`, []string{"HVALS", "h"}},
		{`["f1" "v1b" "f2" "v2" "f3" "v3"]`, []string{"HGETALL", "h"}},
		{":5", []string{"HINCRBY", "h", "cnt", "5"}},
		{":3", []string{"HINCRBY", "h", "cnt", "-2"}},
		{`"3"`, []string{"HGET", "h", "cnt"}},
		{"-ERR hash value is not an integer", []string{"HINCRBY", "h", "f1", "1"}},
		{"-ERR value is not an integer or out of range", []string{"HINCRBY", "h", "cnt", "x"}},
		{":2", []string{"HDEL", "h", "f2", "f3", "f9"}},
		{`["cnt" "3" "f1" "v1b"]`, []string{"HGETALL", "h"}},
		{"+hash", []string{"TYPE", "h"}},
		{"+OK", []string{"HMSET", "h2", "a", "1"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"HSET", "set", "f", "v"}},
		{"-WRONGTYPE Operation against a key holding the wrong kind of value", []string{"SMEMBERS", "h"}},
		{"[]", []string{"HGETALL", "noh"}},

		// Keys.
		{"+none", []string{"TYPE", "nope"}},
		{":2", []string{"EXISTS", "set", "h", "nope"}},
		{":2", []string{"EXISTS", "set", "set"}},
		{":2", []string{"DEL", "set", "h", "nope", "set"}},
		{":1", []string{"UNLINK", "h2"}},
		{":0", []string{"EXISTS", "set", "h"}},
		{"+OK", []string{"SET", "set", "now a string"}},
		{`"now a string"`, []string{"GET", "set"}},

		// Expiry.
		{":-1", []string{"TTL", "set"}},
		{":-2", []string{"PTTL", "nope"}},
		{":0", []string{"PERSIST", "set"}},
		{`"now a string"`, []string{"GET", "set"}},
		{"[]", []string{"CONFIG", "GET", "save"}},
		{"-ERR Unknown option or number of arguments for CONFIG SET - 'save'", []string{"CONFIG", "SET", "save", ""}},

		// Reserved keys are invisible and unwritable.
		{"-ERR reserved key", []string{"SET", "\x00spook/x", "v"}},
		{"-ERR reserved key", []string{"DEL", "a", "\x00spook/x"}},
		{"-ERR reserved key", []string{"SADD", "\x00spook/x", "m"}},
		{"(nil)", []string{"GET", "\x00spook/x"}},

		// Unknown commands and subcommands.
		{"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ", []string{"FOO", "a", "b"}},
		{"-ERR unknown command 'bar', with args beginning with: ", []string{"bar"}},
		{"-ERR unknown subcommand 'nope'. Try CLIENT HELP.", []string{"CLIENT", "nope"}},
		{"-ERR WATCH is not supported by Spook (transactions are atomic but not isolated across replicas)", []string{"WATCH", "a"}},
		{"+OK", []string{"UNWATCH"}},

		// Connection.
		{"(nil)", []string{"CLIENT", "GETNAME"}},
		{"+OK", []string{"CLIENT", "SETNAME", "me"}},
		{`"me"`, []string{"CLIENT", "GETNAME"}},
		{"-ERR Client names cannot contain spaces, newlines or special characters.", []string{"CLIENT", "SETNAME", "a b"}},
		{"+OK", []string{"CLIENT", "SETINFO", "lib-name", "x"}},
		{"-ERR wrong number of arguments for 'client|setname' command", []string{"CLIENT", "SETNAME"}},
		{"-NOPROTO unsupported protocol version", []string{"HELLO", "4"}},
		{"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", []string{"AUTH", "pw"}},
		{"+OK", []string{"AUTH", "default", "anything"}},
		{"-ERR EXEC without MULTI", []string{"EXEC"}},
		{"-ERR DISCARD without MULTI", []string{"DISCARD"}},
		{":0", []string{"WAIT", "0", "0"}},
		{"-ERR timeout is negative", []string{"WAIT", "1", "-1"}},
	}
	for _, s := range steps {
		r.expect(s.want, s.args...)
	}
	if got := r.do("HELLO", "2"); !strings.HasPrefix(got, `["server" "redis" "version" "7.2.0" "proto" :2 "id" `) {
		t.Errorf("HELLO 2: %s", got)
	}
}

func TestTypeRulesAfterOverwrite(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect(":1", "SADD", "k", "m")
	r.expect("+OK", "SET", "k", "v") // SET overwrites any type
	r.expect("+string", "TYPE", "k")
	r.expect(":1", "HSET", "k2", "f", "v")
	r.expect("+OK", "SET", "k2", "7")
	r.expect(":8", "INCR", "k2")
}

func TestKeysScanDBSizeFlushAll(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	for _, k := range []string{"user:1", "user:2", "user:10", "item:1", "h?llo", "hallo", "hbllo"} {
		r.expect("+OK", "SET", k, "v")
	}
	// A reserved key written by the replica itself stays invisible.
	if _, err := f.backend.Update(bg(), func(tx *crdt.Builder) error { return tx.Set([]byte(ReservedPrefix+"meta"), []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	r.expect(":7", "DBSIZE")
	r.expect(`["user:1" "user:10" "user:2"]`, "KEYS", "user:*")
	r.expect(`["user:1" "user:2"]`, "KEYS", "user:?")
	r.expect(`["hallo" "hbllo"]`, "KEYS", "h[ab]llo")
	r.expect(`["h?llo"]`, "KEYS", `h\?llo`)
	r.expect(`["hbllo"]`, "KEYS", "h[^a?]llo")
	r.expect("[]", "KEYS", "nomatch*")
	if got := r.do("KEYS", "*"); strings.Contains(got, "spook") || strings.Count(got, `"`) != 14 {
		t.Errorf("KEYS *: %s", got)
	}

	// SCAN visits every key once, in order, COUNT at a time.
	var seen []string
	cursor := "0"
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("SCAN does not end")
		}
		got := r.do("SCAN", cursor, "COUNT", "3")
		// [ "cursor" [ keys ] ]
		parts := strings.SplitN(strings.Trim(got, "[]"), " ", 2)
		cursor = strings.Trim(parts[0], `"`)
		if len(parts) > 1 {
			for _, k := range strings.Fields(strings.Trim(parts[1], "[]")) {
				seen = append(seen, strings.Trim(k, `"`))
			}
		}
		if cursor == "0" {
			break
		}
	}
	if strings.Join(seen, ",") != `h?llo,hallo,hbllo,item:1,user:1,user:10,user:2` {
		t.Errorf("SCAN saw %v", seen)
	}
	r.expect(`["0" ["user:1" "user:10" "user:2"]]`, "SCAN", "0", "MATCH", "user:*", "COUNT", "100")
	r.expect(`["0" []]`, "SCAN", "0", "TYPE", "hash")
	// A cursor from elsewhere falls back to a position.
	r.expect(`["6" ["user:10"]]`, "SCAN", "5", "COUNT", "1")
	r.expect("-ERR invalid cursor", "SCAN", "x")
	r.expect("-ERR syntax error", "SCAN", "0", "COUNT", "0")

	r.expect("+OK", "FLUSHALL")
	r.expect(":0", "DBSIZE")
	r.expect("[]", "KEYS", "*")
	// The reserved key survived.
	err := f.backend.View(func(ks *crdt.Keyspace) error {
		if ks.Get([]byte(ReservedPrefix+"meta")) == nil {
			t.Error("FLUSHALL removed a reserved key")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.expect("-ERR syntax error", "FLUSHALL", "NOW")
}

func TestFlushAllSplitsLargeKeyspaces(t *testing.T) {
	f := start(t, Config{})
	n := crdt.MaxTxnKeys*2 + 10
	_, err := f.backend.Update(bg(), func(tx *crdt.Builder) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		_, err := f.backend.Update(bg(), func(tx *crdt.Builder) error {
			for j := i; j < min(i+1000, n); j++ {
				if err := tx.Set([]byte("k"+itoa(j)), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	r := f.raw()
	r.expect(":"+itoa(n), "DBSIZE")
	r.expect("+OK", "FLUSHALL")
	r.expect(":0", "DBSIZE")
}

func itoa(n int) string { return formatInt(int64(n)) }

func TestSiblingsAndStatus(t *testing.T) {
	f := start(t, Config{})
	_, err := f.backend.Concurrent(
		func(tx *crdt.Builder) error { return tx.Set([]byte("k"), []byte("left")) },
		func(tx *crdt.Builder) error { return tx.Set([]byte("k"), []byte("right")) },
	)
	if err != nil {
		t.Fatal(err)
	}
	r := f.raw()
	got := r.do("SPOOK.SIBLINGS", "k")
	if got != `["left" "right"]` && got != `["right" "left"]` {
		t.Errorf("SPOOK.SIBLINGS: %s", got)
	}
	winner := r.do("GET", "k")
	if winner != `"left"` && winner != `"right"` {
		t.Errorf("GET of concurrent register: %s", winner)
	}
	r.expect("+OK", "SET", "k", "resolved") // saw both: replaces both
	r.expect(`["resolved"]`, "SPOOK.SIBLINGS", "k")
	r.expect("[]", "SPOOK.SIBLINGS", "nope")
	r.expect(":3", "INCRBY", "c", "3")
	r.expect(`["3"]`, "SPOOK.SIBLINGS", "c")

	st := r.do("SPOOK.STATUS")
	text, err := unquote(st)
	if err != nil {
		t.Fatalf("SPOOK.STATUS reply %s: %v", st, err)
	}
	var status api.Status
	if err := json.Unmarshal([]byte(text), &status); err != nil {
		t.Fatalf("SPOOK.STATUS is not a Status: %v\n%s", err, text)
	}
	if status.Name != "n1" || status.Keys != 2 || len(status.Members) != 1 {
		t.Errorf("SPOOK.STATUS: %+v", status)
	}
}

func TestInfoAndCommand(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	r.expect("+OK", "SET", "a", "1")
	info, err := unquote(r.do("INFO"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\n", "redis_version:7.2.0\r\n", "# Clients\r\n", "connected_clients:1\r\n",
		"# Keyspace\r\n", "db0:keys=1,expires=0,avg_ttl=0\r\n", "# Spook\r\n", "node_name:n1\r\n", "members:1\r\n",
		"member0:id=", "state=self", "collapsed:n1=1\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	only, _ := unquote(r.do("INFO", "keyspace"))
	if strings.Contains(only, "# Server") || !strings.Contains(only, "# Keyspace") {
		t.Errorf("INFO keyspace:\n%s", only)
	}
	count := r.do("COMMAND", "COUNT")
	if count != ":"+itoa(len(commands)) {
		t.Errorf("COMMAND COUNT: %s", count)
	}
	r.expect(`[["get" :2 [+readonly] :1 :1 :1 [] [] [] []] (nil)]`, "COMMAND", "INFO", "get", "nope")
	r.expect("[]", "COMMAND", "DOCS")
	if all := r.do("COMMAND"); !strings.Contains(all, `["hincrby" :4 [+write] :1 :1 :1`) {
		t.Errorf("COMMAND lacks hincrby: %.200s", all)
	}
}

// unquote reverses the bulk rendering of raw.read.
func unquote(s string) (string, error) {
	var out string
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// TestKeysWalksInChunks: KEYS over more keys than one chunk returns every
// matching key once, in order, across the read-lock releases between
// chunks.
func TestKeysWalksInChunks(t *testing.T) {
	f := start(t, Config{})
	const n = 3*keysChunk + 7
	for i := 0; i < n; i += 1000 { // transactions stay under MaxTxnKeys
		if _, err := f.backend.Update(bg(), func(tx *crdt.Builder) error {
			for j := i; j < min(i+1000, n); j++ {
				if err := tx.Set([]byte(fmt.Sprintf("k%06d", j)), []byte("v")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := f.client().Keys(bg(), "k*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("KEYS returned %d keys, want %d", len(keys), n)
	}
	for i, k := range keys {
		if want := fmt.Sprintf("k%06d", i); k != want {
			t.Fatalf("key %d is %q, want %q", i, k, want)
		}
	}
}
