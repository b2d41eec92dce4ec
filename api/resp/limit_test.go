package resp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/crdt"
)

// failingListener fails every Accept with a non-closing error.
type failingListener struct {
	net.Listener
	calls int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls++
	return nil, errors.New("accept: too many open files")
}

func TestAcceptBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: inner}
	l := newLimitListener(fl)
	start := time.Now()
	for range 3 {
		if _, err := l.Accept(); err == nil {
			t.Fatal("Accept succeeded")
		}
	}
	// 5 + 10 + 20 ms of backoff: a failing Accept does not spin.
	if d := time.Since(start); d < 35*time.Millisecond {
		t.Fatalf("three failed Accepts took %v", d)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// parseChunks feeds the chunks to a parser one read at a time, as a
// connection does, and returns every command it parsed (arguments joined
// by spaces) and its first error.
func parseChunks(authed bool, chunks ...[]byte) ([]string, error) {
	var p parser
	var cmds []string
	for _, chunk := range chunks {
		for len(chunk) > 0 {
			room := p.room()
			n := copy(room, chunk)
			p.filled(n)
			chunk = chunk[n:]
			for {
				args, err := p.next(authed)
				if err != nil {
					return cmds, err
				}
				if args == nil {
					break
				}
				parts := make([]string, len(args))
				for i, a := range args {
					parts[i] = string(a)
				}
				cmds = append(cmds, strings.Join(parts, " "))
			}
			p.release()
		}
	}
	return cmds, nil
}

// splitEvery cuts in into pieces of n bytes.
func splitEvery(in string, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(in); i += n {
		out = append(out, []byte(in[i:min(i+n, len(in))]))
	}
	return out
}

// TestParserCommands: commands come out whole however the stream is split
// into reads; empty and negative multibulk counts and empty inline lines
// are skipped, as Redis skips them.
func TestParserCommands(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"*1\r\n$4\r\nPING\r\n", []string{"PING"}},
		{"*0\r\n*1\r\n$4\r\nPING\r\n", []string{"PING"}},
		{"PING\r\n*-1\r\n*-100\r\nPING\r\n", []string{"PING", "PING"}},
		{"\r\n PING\r\n", []string{"PING"}},
		{"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n", []string{"SET  a\r\nb"}},
		{"SET k \"a b\"\nGET k\n", []string{"SET k a b", "GET k"}},
	}
	for _, tc := range cases {
		for split := 1; split <= len(tc.in); split++ {
			got, err := parseChunks(true, splitEvery(tc.in, split)...)
			if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("%q split %d: %q %v, want %q", tc.in, split, got, err, tc.want)
			}
		}
	}
}

// TestParserLargeCommand: a command far larger than the read buffer
// grows it and comes out whole, and the buffer shrinks back after.
func TestParserLargeCommand(t *testing.T) {
	value := strings.Repeat("v", 3*parserKeepBytes)
	in := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\nPING\r\n", len(value), value)
	got, err := parseChunks(true, splitEvery(in, 5000)...)
	if err != nil || len(got) != 2 || got[0] != "SET k "+value || got[1] != "PING" {
		t.Fatalf("large command: %d commands, %v", len(got), err)
	}
	var p parser
	copy(p.room(), in[:20])
	p.filled(20)
	for rest := []byte(in[20:]); len(rest) > 0; {
		n := copy(p.room(), rest)
		p.filled(n)
		rest = rest[n:]
		for {
			args, err := p.next(true)
			if err != nil {
				t.Fatal(err)
			}
			if args == nil {
				break
			}
		}
		p.release()
	}
	p.room()
	if len(p.buf) != parserReadBytes {
		t.Fatalf("buffer of %d bytes kept after the large command", len(p.buf))
	}
}

// TestParserLimits: each protocol limit is enforced at the header that
// announces too much, with Redis's texts; before authentication Redis's
// smaller limits apply.
func TestParserLimits(t *testing.T) {
	cases := []struct {
		in     string
		authed bool
		want   error
		text   string
	}{
		{"*11\r\n", false, errUnauthMultibulkLen, ""},
		{fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n", MaxUnauthenticatedBulkBytes+1), false, errUnauthBulkLength, ""},
		{fmt.Sprintf("*11\r\n$3\r\nGET\r\n$%d\r\n", MaxUnauthenticatedBulkBytes+1), true, nil, ""},
		{fmt.Sprintf("*%d\r\n", MaxCommandArgs+1), true, errMultibulkLength, ""},
		{fmt.Sprintf("*1\r\n$%d\r\n", MaxBulkBytes+1), true, errBulkLength, ""},
		{"*1\r\n$-1\r\n", true, errBulkLength, ""},
		{"*x\r\n", true, errMultibulkLength, ""},
		{"*1\n", true, errMultibulkLength, ""},
		{"*" + strings.Repeat("1", 40), true, errCountTooBig, ""},
		{"*1\r\n$" + strings.Repeat("1", 40), true, errBulkCountTooBig, ""},
		{"*1\r\nx", true, errExpectedBulk, "expected '$', got 'x'"},
		{strings.Repeat("x", MaxInlineBytes+1), true, errInlineTooBig, ""},
		{"ECHO \"a\r\n", true, errUnbalancedQuotes, ""},
	}
	for _, tc := range cases {
		_, err := parseChunks(tc.authed, []byte(tc.in))
		if !errors.Is(err, tc.want) || (tc.text != "" && err.Error() != tc.text) {
			t.Errorf("%.40q (authed %v): %v, want %v", tc.in, tc.authed, err, tc.want)
		}
	}
	// The command bytes limit, counted at each bulk's header (sending
	// MaxCommandBytes is too slow for a unit test): a bulk that would
	// take the command past it is refused before its body.
	var p parser
	n := copy(p.room(), "*9\r\n$3\r\nSET\r\n")
	p.filled(n)
	if args, err := p.next(true); args != nil || err != nil {
		t.Fatalf("partial command: %q %v", args, err)
	}
	p.cmdBytes = MaxCommandBytes - 10
	p.filled(copy(p.room(), "$11\r\n"))
	if _, err := p.next(true); !errors.Is(err, errCommandTooBig) {
		t.Fatalf("past MaxCommandBytes: %v", err)
	}
}

// TestSplitInline: inline commands are split by Redis's quoting rules
// (sdssplitargs); test/redisdiff_test.go checks the same against a real
// redis-server.
func TestSplitInline(t *testing.T) {
	cases := []struct {
		line string
		want []string // nil: unbalanced quotes
	}{
		{`ECHO "c\x41"`, []string{"ECHO", "cA"}},
		{`ECHO 'a\nb'`, []string{"ECHO", `a\nb`}},
		{`ECHO a"b"`, []string{"ECHO", "ab"}},
		{`ECHO "a\tb\"c" 'd\'e' f`, []string{"ECHO", "a\tb\"c", "d'e", "f"}},
		{`ECHO "\x4g\q"`, []string{"ECHO", "x4gq"}},
		{`ECHO "" ''`, []string{"ECHO", "", ""}},
		{"  ECHO \v x\t", []string{"ECHO", "x"}},
		{"ECHO a\x00b c", []string{"ECHO", "a"}},
		{"", []string{}},
		{`ECHO "abc`, nil},
		{`ECHO 'abc`, nil},
		{`ECHO "a"b`, nil},
		{`ECHO 'a'b`, nil},
		{`ECHO "a\`, nil},
	}
	for _, tc := range cases {
		got, ok := splitInline([]byte(tc.line), nil)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: split %q, want unbalanced quotes", tc.line, got)
			}
			continue
		}
		strs := make([]string, len(got))
		for i, a := range got {
			strs[i] = string(a)
		}
		if !ok || strings.Join(strs, "|") != strings.Join(tc.want, "|") || len(strs) != len(tc.want) {
			t.Errorf("%q: %q %v, want %q", tc.line, strs, ok, tc.want)
		}
	}
}

// TestClientInputTotal: clients that each hold part of a command share
// MaxClientInputBytesTotal; the one that would pass it is told and
// disconnected, and the others go on.
func TestClientInputTotal(t *testing.T) {
	f := start(t, Config{MaxClientInputBytesTotal: 64 << 10})
	header := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n"
	a := f.raw()
	if _, err := a.conn.Write([]byte(header + strings.Repeat("a", 40<<10))); err != nil {
		t.Fatal(err)
	}
	waitBudget := func(atLeast int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.server.input.used.Load() < atLeast {
			if time.Now().After(deadline) {
				t.Fatalf("budget holds %d bytes, want %d", f.server.input.used.Load(), atLeast)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitBudget(40 << 10)
	b := f.raw()
	if _, err := b.conn.Write([]byte(header + strings.Repeat("b", 40<<10))); err != nil {
		t.Fatal(err)
	}
	if got := b.read(); !strings.Contains(got, "max client input buffered") {
		t.Fatalf("the client over the total: %q", got)
	}
	f.raw().expect("+PONG", "PING")
	a.conn.Close()
	// a's part returns to the budget when it goes.
	deadline := time.Now().Add(10 * time.Second)
	for f.server.input.used.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("budget holds %d bytes after the clients left", f.server.input.used.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMaxValueText keeps errTooLarge's figure in step with the limit.
func TestMaxValueText(t *testing.T) {
	if want := strconv.Itoa(crdt.MaxValueBytes); maxValueText != want {
		t.Fatalf("maxValueText = %s, crdt.MaxValueBytes = %s", maxValueText, want)
	}
}
