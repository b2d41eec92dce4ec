package resp

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/crdt"
)

// countingBackend counts Update calls.
type countingBackend struct {
	*apitest.Backend
	updates atomic.Int64
}

func (b *countingBackend) Update(ctx context.Context, fn func(tx *crdt.Builder) error) (api.Token, error) {
	b.updates.Add(1)
	return b.Backend.Update(ctx, fn)
}

// TestPipelinedWritesShareTransactions sends one pipeline of plain writes,
// some of which Redis refuses, in a single TCP write so the server sees it
// whole: the replies must be exactly those of running the commands one by
// one, and the server must have used far fewer transactions than commands.
func TestPipelinedWritesShareTransactions(t *testing.T) {
	b := &countingBackend{Backend: apitest.New("n1")}
	defer b.Close()
	s := New(b, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()

	// Commands and the replies Redis gives when they run one by one.
	type step struct {
		args  []string
		reply string
	}
	steps := []step{
		{[]string{"SET", "s", "abc"}, "+OK"},
		{[]string{"INCR", "s"}, "-ERR value is not an integer or out of range"},
		{[]string{"SADD", "s", "x"}, "-WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"INCR", "n"}, ":1"},
		{[]string{"INCRBY", "n", "41"}, ":42"},
		{[]string{"SADD", "set", "a", "b"}, ":2"},
		{[]string{"SADD", "set", "b", "c"}, ":1"},
		{[]string{"HSET", "h", "f", "1"}, ":1"},
		{[]string{"HINCRBY", "h", "f", "2"}, ":3"},
		{[]string{"DEL", "s"}, ":1"},
		{[]string{"SET", "s", "again"}, "+OK"},
	}
	const repeat = 40 // 440 commands: more than one batch of MaxPipelineBatch
	var req strings.Builder
	for r := 0; r < repeat; r++ {
		for _, st := range steps {
			args := st.args
			if r > 0 { // later rounds use their own keys, so replies repeat
				args = append([]string{args[0]}, args[1:]...)
				args[1] = args[1] + "-" + string(rune('a'+r%26)) + string(rune('a'+r/26))
			}
			req.WriteString("*" + itoa(len(args)) + "\r\n")
			for _, a := range args {
				req.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
			}
		}
	}
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req.String())); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for r := 0; r < repeat; r++ {
		for i, st := range steps {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("round %d step %d: %v", r, i, err)
			}
			if got := strings.TrimRight(line, "\r\n"); got != st.reply {
				t.Fatalf("round %d step %d %v: reply %q, want %q", r, i, st.args, got, st.reply)
			}
		}
	}
	commands := int64(repeat * len(steps))
	if n := b.updates.Load(); n >= commands/4 {
		t.Fatalf("%d commands used %d transactions; pipelined writes were not batched", commands, n)
	}
}

// TestLookupFoldedFindsWhatLookupFinds checks that the pipeline's lookup
// agrees with lookup on names in any ASCII case and allocates nothing.
func TestLookupFoldedFindsWhatLookupFinds(t *testing.T) {
	for _, name := range []string{"set", "SET", "SeT", "incr", "INCR", "HSET", "nosuch", "NOSUCH", "", "SETXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"} {
		if got, want := lookupFolded([]byte(name)), lookup([]byte(name)); got != want {
			t.Errorf("lookupFolded(%q) = %v, lookup = %v", name, got, want)
		}
	}
	name := []byte("SET")
	if n := testing.AllocsPerRun(100, func() { lookupFolded(name) }); n != 0 {
		t.Errorf("lookupFolded allocates %v times per call", n)
	}
}
