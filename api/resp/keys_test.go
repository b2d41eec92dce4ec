package resp

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHashCommandsMore(t *testing.T) {
	expectSteps(t, []step{
		{":2", []string{"HSET", "h", "f", "10.5", "name", "ada"}},
		{":3", []string{"HINCRBY", "h", "n", "3"}},
		{"+OK", []string{"SET", "str", "x"}},

		{`"10.6"`, []string{"HINCRBYFLOAT", "h", "f", "0.1"}},
		{`"5.5"`, []string{"HINCRBYFLOAT", "h", "new", "5.5"}},
		{`"3.5"`, []string{"HINCRBYFLOAT", "h", "n", "0.5"}},
		{"-ERR hash value is not a float", []string{"HINCRBYFLOAT", "h", "name", "1"}},
		{"-ERR value is not a valid float", []string{"HINCRBYFLOAT", "h", "f", "x"}},
		{"-ERR value is NaN or Infinity", []string{"HINCRBYFLOAT", "h", "f", "inf"}},
		{wrongType, []string{"HINCRBYFLOAT", "str", "f", "1"}},

		{":4", []string{"HSTRLEN", "h", "f"}},
		{":3", []string{"HSTRLEN", "h", "name"}},
		{":0", []string{"HSTRLEN", "h", "nope"}},
		{":0", []string{"HSTRLEN", "missing", "f"}},
		{":42", []string{"HINCRBY", "h", "cnt", "42"}},
		{":2", []string{"HSTRLEN", "h", "cnt"}},
		{wrongType, []string{"HSTRLEN", "str", "f"}},

		{"(nil)", []string{"HRANDFIELD", "missing"}},
		{"[]", []string{"HRANDFIELD", "missing", "2"}},
		{":1", []string{"HSET", "one", "k", "v"}},
		{`"k"`, []string{"HRANDFIELD", "one"}},
		{`["k"]`, []string{"HRANDFIELD", "one", "5"}},
		{`["k" "v"]`, []string{"HRANDFIELD", "one", "5", "WITHVALUES"}},
		{`["k" "v" "k" "v"]`, []string{"HRANDFIELD", "one", "-2", "withvalues"}},
		{"[]", []string{"HRANDFIELD", "one", "0"}},
		{"-ERR syntax error", []string{"HRANDFIELD", "one", "1", "WITH"}},
		{"-ERR syntax error", []string{"HRANDFIELD", "one", "1", "WITHVALUES", "x"}},
		{"-ERR value is out of range", []string{"HRANDFIELD", "one", "9223372036854775807", "WITHVALUES"}},
		{"-ERR value is out of range", []string{"HRANDFIELD", "one", "4611686018427387904", "WITHVALUES"}},
		{"-ERR value is not an integer or out of range", []string{"HRANDFIELD", "one", "-0", "WITHVALUES"}},
		{"-ERR value is not an integer or out of range", []string{"HINCRBY", "one", "n", "007"}},
		{"-ERR value is not an integer or out of range", []string{"HRANDFIELD", "one", "x"}},
		{wrongType, []string{"HRANDFIELD", "str"}},

		{`["0" ["cnt" "42" "f" "10.6" "n" "3.5" "name" "ada" "new" "5.5"]]`, []string{"HSCAN", "h", "0"}},
		{`["0" ["cnt" "42" "f" "10.6" "n" "3.5" "name" "ada" "new" "5.5"]]`, []string{"HSCAN", "h", "7", "COUNT", "2"}},
		{`["0" ["name" "ada" "new" "5.5"]]`, []string{"HSCAN", "h", "0", "MATCH", "n*e*"}},
		{`["0" []]`, []string{"HSCAN", "missing", "0"}},
		{"-ERR invalid cursor", []string{"HSCAN", "h", "1x"}},
		{wrongType, []string{"HSCAN", "str", "0"}},
	})
}

func TestKeyCommandsMore(t *testing.T) {
	expectSteps(t, []step{
		{"+OK", []string{"SET", "s", "v"}},
		{":5", []string{"INCRBY", "c", "5"}},
		{":2", []string{"SADD", "set", "a", "b"}},
		{":1", []string{"HSET", "h", "f", "v"}},
		{":7", []string{"HINCRBY", "h", "n", "7"}},

		{"+OK", []string{"RENAME", "s", "s2"}},
		{":0", []string{"EXISTS", "s"}},
		{`"v"`, []string{"GET", "s2"}},
		{"+OK", []string{"RENAME", "s2", "s2"}},
		{"-ERR no such key", []string{"RENAME", "nope", "x"}},
		{"-ERR no such key", []string{"RENAMENX", "nope", "x"}},
		{"+OK", []string{"RENAME", "c", "c2"}},
		{":6", []string{"INCR", "c2"}},           // still a counter
		{"+OK", []string{"RENAME", "set", "s2"}}, // overwrites the string
		{`["a" "b"]`, []string{"SMEMBERS", "s2"}},
		{":0", []string{"RENAMENX", "s2", "h"}},
		{":1", []string{"RENAMENX", "h", "h2"}},
		{`["f" "v" "n" "7"]`, []string{"HGETALL", "h2"}},
		{":8", []string{"HINCRBY", "h2", "n", "1"}},
		{":0", []string{"RENAMENX", "h2", "h2"}},

		{":1", []string{"COPY", "h2", "h3"}},
		{`["f" "v" "n" "8"]`, []string{"HGETALL", "h3"}},
		{":0", []string{"COPY", "h2", "s2"}},
		{":1", []string{"COPY", "h2", "s2", "REPLACE"}},
		{"+hash", []string{"TYPE", "s2"}},
		{":0", []string{"COPY", "nope", "x"}},
		{":1", []string{"COPY", "c2", "c3", "DB", "0"}},
		{":7", []string{"INCR", "c3"}},
		{`"6"`, []string{"GET", "c2"}},
		{"-ERR source and destination objects are the same", []string{"COPY", "c2", "c2"}},
		{"-ERR DB index is out of range", []string{"COPY", "c2", "c4", "DB", "1"}},
		{"-ERR syntax error", []string{"COPY", "c2", "c4", "BOGUS"}},
		{"-ERR syntax error", []string{"COPY", "c2", "c4", "DB"}},
	})
}

func TestObjectTimeRandomKey(t *testing.T) {
	r := start(t, Config{}).raw()
	r.expect("(nil)", "RANDOMKEY")
	r.expect("+OK", "SET", "s", "v")
	r.expect(":1", "INCR", "c")
	r.expect(":1", "SADD", "set", "m")
	r.expect(":1", "HSET", "h", "f", "v")
	for key, enc := range map[string]string{"s": "register", "c": "counter", "set": "orset", "h": "ormap"} {
		r.expect(strconv.Quote(enc), "OBJECT", "ENCODING", key)
	}
	r.expect("(nil)", "OBJECT", "ENCODING", "nope")
	r.expect(":1", "OBJECT", "REFCOUNT", "s")
	r.expect("-ERR Spook does not track idle time", "OBJECT", "IDLETIME", "s")
	r.expect("-ERR Spook does not track access frequency", "OBJECT", "FREQ", "s")
	r.expect("-ERR unknown subcommand 'nope'. Try OBJECT HELP.", "OBJECT", "nope", "s")
	r.expect("-ERR wrong number of arguments for 'object|encoding' command", "OBJECT", "ENCODING")
	if help := r.do("OBJECT", "HELP"); !strings.HasPrefix(help, "[+OBJECT <subcommand>") {
		t.Errorf("OBJECT HELP: %s", help)
	}

	seen := map[string]bool{}
	for range 200 {
		seen[r.do("RANDOMKEY")] = true
	}
	if len(seen) != 4 {
		t.Errorf("200 RANDOMKEY calls reached %v", seen)
	}

	got := r.do("TIME")
	parts := strings.Fields(strings.Trim(got, "[]"))
	if len(parts) != 2 {
		t.Fatalf("TIME: %s", got)
	}
	sec, err1 := strconv.ParseInt(strings.Trim(parts[0], `"`), 10, 64)
	usec, err2 := strconv.ParseInt(strings.Trim(parts[1], `"`), 10, 64)
	if err1 != nil || err2 != nil || usec < 0 || usec >= 1e6 || time.Since(time.Unix(sec, 0)).Abs() > time.Minute {
		t.Errorf("TIME: %s", got)
	}
}
