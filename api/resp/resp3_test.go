package resp

import (
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestRESP3Rewrite checks the RESP2 → RESP3 rewriting of each shape on
// replies as the command functions write them.
func TestRESP3Rewrite(t *testing.T) {
	cases := []struct {
		args        []string
		resp2, want string
	}{
		{[]string{"get", "k"}, "$-1\r\n", "_\r\n"},
		{[]string{"get", "k"}, "$5\r\n$-1\r\n\r\n", "$5\r\n$-1\r\n\r\n"},
		{[]string{"mget", "a", "b"}, "*2\r\n$-1\r\n$1\r\nx\r\n", "*2\r\n_\r\n$1\r\nx\r\n"},
		{[]string{"blpop", "l", "1"}, "*-1\r\n", "_\r\n"},
		{[]string{"hgetall", "h"}, "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"},
		{[]string{"config", "GET", "x"}, "*0\r\n", "%0\r\n"},
		{[]string{"smembers", "s"}, "*1\r\n$1\r\nx\r\n", "~1\r\n$1\r\nx\r\n"},
		{[]string{"spop", "s"}, "$1\r\nx\r\n", "$1\r\nx\r\n"},
		{[]string{"zscore", "z", "m"}, "$3\r\n1.5\r\n", ",1.5\r\n"},
		{[]string{"zscore", "z", "m"}, "$-1\r\n", "_\r\n"},
		{[]string{"zadd", "z", "1", "m"}, ":1\r\n", ":1\r\n"},
		{[]string{"zmscore", "z", "a", "b"}, "*2\r\n$3\r\ninf\r\n$-1\r\n", "*2\r\n,inf\r\n_\r\n"},
		{[]string{"zrange", "z", "0", "-1"}, "*1\r\n$1\r\na\r\n", "*1\r\n$1\r\na\r\n"},
		{[]string{"zrange", "z", "0", "-1", "WithScores"}, "*2\r\n$1\r\na\r\n$1\r\n2\r\n", "*1\r\n*2\r\n$1\r\na\r\n,2\r\n"},
		{[]string{"zpopmin", "z"}, "*2\r\n$1\r\na\r\n$1\r\n2\r\n", "*2\r\n$1\r\na\r\n,2\r\n"},
		{[]string{"zpopmin", "z", "5"}, "*2\r\n$1\r\na\r\n$1\r\n2\r\n", "*1\r\n*2\r\n$1\r\na\r\n,2\r\n"},
		{[]string{"zrank", "z", "a", "withscore"}, "*2\r\n:0\r\n$1\r\n2\r\n", "*2\r\n:0\r\n,2\r\n"},
		{[]string{"hrandfield", "h", "1", "withvalues"}, "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"},
		{[]string{"xread", "streams", "x", "0"}, "*1\r\n*2\r\n$1\r\nx\r\n*0\r\n", "%1\r\n$1\r\nx\r\n*0\r\n"},
		{[]string{"hgetall", "h"}, "-WRONGTYPE x\r\n", "-WRONGTYPE x\r\n"},
	}
	for _, tc := range cases {
		args := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			args[i] = []byte(a)
		}
		prefix := "+OK\r\n"
		got := string(toRESP3([]byte(prefix+tc.resp2), len(prefix), resp3Shape(tc.args[0], args), len(args)))
		if got != prefix+tc.want {
			t.Errorf("%q %q: got %q, want %q", tc.args, tc.resp2, got[len(prefix):], tc.want)
		}
	}
}

// TestHello3 checks HELLO 3 over a connection: the map reply, nulls,
// EXEC with a RESP3 slot per command, HELLO 2 back to RESP2, RESET.
func TestHello3(t *testing.T) {
	f := start(t, Config{})
	r := f.raw()
	rawDo := func(want string, args ...string) {
		t.Helper()
		r.send(args...)
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(r.r, buf); err != nil || string(buf) != want {
			t.Errorf("%q: got %q, %v, want %q", args, buf, err, want)
		}
	}
	hello3 := func() {
		t.Helper()
		r.send("HELLO", "3")
		line, _ := r.r.ReadString('\n')
		if line != "%7\r\n" {
			t.Fatalf("HELLO 3: %q", line)
		}
		for range 14 {
			if _, err := readReply(r.r); err != nil {
				t.Fatal(err)
			}
		}
	}
	hello3()
	rawDo("_\r\n", "GET", "a")
	rawDo(":1\r\n", "HSET", "h", "f", "v")
	rawDo("+OK\r\n", "MULTI")
	rawDo("+QUEUED\r\n", "HGETALL", "h")
	rawDo("+QUEUED\r\n", "GET", "a")
	rawDo("*2\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n", "EXEC")
	r.send("HELLO", "2")
	if got := r.read(); !strings.HasPrefix(got, `["server" "redis" "version" "7.2.0" "proto" :2 `) {
		t.Errorf("HELLO 2: %s", got)
	}
	rawDo("$-1\r\n", "GET", "a")
	rawDo("*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "HGETALL", "h")
	hello3()
	// A pipeline of plain writes runs as one batch (runWrites); each reply
	// still gets its command's RESP3 form.
	var pipe strings.Builder
	for _, args := range [][]string{{"SET", "p", "1", "GET"}, {"ZADD", "pz", "INCR", "1.5", "m"}, {"SET", "p", "2", "GET"}, {"LPOP", "nolist"}} {
		pipe.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, a := range args {
			pipe.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
		}
	}
	if _, err := io.WriteString(r.conn, pipe.String()); err != nil {
		t.Fatal(err)
	}
	want := "_\r\n,1.5\r\n$1\r\n1\r\n_\r\n"
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(r.r, buf); err != nil || string(buf) != want {
		t.Errorf("pipelined writes: got %q, %v, want %q", buf, err, want)
	}
	rawDo("+RESET\r\n", "RESET")
	rawDo("$-1\r\n", "GET", "a")
}
