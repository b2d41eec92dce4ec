package resp

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/crdt"
)

// TestConcurrentCommandPairs checks the rows docs/semantics.md gives for
// the read-modify-write and random commands: two commands run as
// concurrent transactions (as on two replicas during a partition, via
// apitest's Concurrent), then the merged state is read.
func TestConcurrentCommandPairs(t *testing.T) {
	cmd := func(args ...string) func(tx *crdt.Builder) ([]byte, error) {
		bs := make([][]byte, len(args))
		for i, a := range args {
			bs[i] = []byte(a)
		}
		c := lookup(bs[0])
		return func(tx *crdt.Builder) ([]byte, error) { return runWrite(c, tx, bs, nil) }
	}
	cases := []struct {
		name    string
		setup   []string
		a, b    []string
		replyA  string // "" means not checked
		replyB  string
		outcome [][2]string // command → reply after both
	}{
		{
			name: "spop || spop of a one-member set", setup: []string{"SADD s m"},
			a: []string{"SPOP", "s"}, b: []string{"SPOP", "s"}, replyA: "$1\r\nm\r\n", replyB: "$1\r\nm\r\n",
			outcome: [][2]string{{"SCARD s", ":0"}},
		},
		{
			name: "spop || sadd of the same member", setup: []string{"SADD s m"},
			a: []string{"SPOP", "s"}, b: []string{"SADD", "s", "m"},
			outcome: [][2]string{{"SMEMBERS s", `["m"]`}},
		},
		{
			name: "smove || smove to different sets", setup: []string{"SADD s m"},
			a: []string{"SMOVE", "s", "x", "m"}, b: []string{"SMOVE", "s", "y", "m"},
			outcome: [][2]string{{"EXISTS s", ":0"}, {"SMEMBERS x", `["m"]`}, {"SMEMBERS y", `["m"]`}},
		},
		{
			name: "incrbyfloat || incrbyfloat", setup: []string{"SET f 1"},
			a: []string{"INCRBYFLOAT", "f", "1"}, b: []string{"INCRBYFLOAT", "f", "10"},
			outcome: [][2]string{{"GET f", `"11"`}, {"SPOOK.SIBLINGS f", `["2" "11"]`}},
		},
		{
			name: "setrange || setrange", setup: []string{"SET k abc"},
			a: []string{"SETRANGE", "k", "0", "X"}, b: []string{"SETRANGE", "k", "2", "Z"},
			outcome: [][2]string{{"GET k", `"abZ"`}, {"SPOOK.SIBLINGS k", `["Xbc" "abZ"]`}},
		},
		{
			name: "zpopmin || zpopmin", setup: []string{"ZADD z 1 a 2 b"},
			a: []string{"ZPOPMIN", "z"}, b: []string{"ZPOPMIN", "z"}, replyA: "*2\r\n$1\r\na\r\n$1\r\n1\r\n", replyB: "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
			outcome: [][2]string{{"ZRANGE z 0 -1 WITHSCORES", `["b" "2"]`}},
		},
		{
			name: "zpopmin || zincrby of the popped member", setup: []string{"ZADD z 1 a 2 b"},
			a: []string{"ZPOPMIN", "z"}, b: []string{"ZINCRBY", "z", "5", "a"},
			outcome: [][2]string{{"ZRANGE z 0 -1 WITHSCORES", `["b" "2" "a" "5"]`}},
		},
		{
			name: "zunionstore || zadd to the destination", setup: []string{"ZADD s 1 a", "ZADD d 9 old"},
			a: []string{"ZUNIONSTORE", "d", "1", "s"}, b: []string{"ZADD", "d", "7", "new"},
			outcome: [][2]string{{"ZRANGE d 0 -1 WITHSCORES", `["a" "1" "new" "7"]`}},
		},
		{
			name: "rename || incr of the source", setup: []string{"INCRBY c 10"},
			a: []string{"RENAME", "c", "d"}, b: []string{"INCRBY", "c", "5"},
			outcome: [][2]string{{"GET c", `"5"`}, {"GET d", `"10"`}},
		},
		{
			name: "hincrbyfloat || hincrby", setup: []string{"HSET h f 1"},
			a: []string{"HINCRBYFLOAT", "h", "f", "0.5"}, b: []string{"HINCRBY", "h", "f", "2"},
			outcome: [][2]string{{"HGET h f", `"3"`}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := start(t, Config{})
			r := f.raw()
			for _, line := range c.setup {
				if got := r.do(splitArgs(line)...); len(got) > 0 && got[0] == '-' {
					t.Fatalf("%s: %s", line, got)
				}
			}
			var replies [2][]byte
			_, err := f.backend.Concurrent(
				func(tx *crdt.Builder) (err error) { replies[0], err = cmd(c.a...)(tx); return err },
				func(tx *crdt.Builder) (err error) { replies[1], err = cmd(c.b...)(tx); return err },
			)
			if err != nil {
				t.Fatal(err)
			}
			if c.replyA != "" && string(replies[0]) != c.replyA {
				t.Errorf("A %v replied %q, want %q", c.a, replies[0], c.replyA)
			}
			if c.replyB != "" && string(replies[1]) != c.replyB {
				t.Errorf("B %v replied %q, want %q", c.b, replies[1], c.replyB)
			}
			for _, o := range c.outcome {
				r.expect(o[1], splitArgs(o[0])...)
			}
		})
	}
}

func splitArgs(line string) []string { return strings.Fields(line) }
