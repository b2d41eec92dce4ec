package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/crdt"
)

// fixture is a RESP server on 127.0.0.1 over an apitest backend.
type fixture struct {
	t       *testing.T
	addr    string
	backend *apitest.Backend
	server  *Server
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := apitest.New("n1")
	s := New(b, cfg)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		b.Close()
	})
	return &fixture{t: t, addr: l.Addr().String(), backend: b, server: s}
}

// client returns a go-redis client closed at cleanup.
func (f *fixture) client(opts ...func(*redis.Options)) *redis.Client {
	o := &redis.Options{Addr: f.addr, MaxRetries: -1, PoolSize: 4, ReadTimeout: 5 * time.Second}
	for _, fn := range opts {
		fn(o)
	}
	c := redis.NewClient(o)
	f.t.Cleanup(func() { c.Close() })
	return c
}

// raw is a plain TCP connection speaking RESP by hand, to check exact
// replies.
type raw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (f *fixture) raw() *raw {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &raw{t: f.t, conn: c, r: bufio.NewReader(c)}
}

// send writes one command without reading.
func (r *raw) send(args ...string) {
	r.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(r.conn, b.String()); err != nil {
		r.t.Fatal(err)
	}
}

// do sends a command and returns its reply rendered as text: simple
// strings as +x, errors as -x, integers as :n, bulks as "x" (nil as
// (nil)), arrays as [a b].
func (r *raw) do(args ...string) string {
	r.t.Helper()
	r.send(args...)
	return r.read()
}

func (r *raw) read() string {
	r.t.Helper()
	s, err := readReply(r.r)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return s
}

func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return "", fmt.Errorf("bad line %q", line)
	}
	line = line[:len(line)-2]
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return strconv.Quote(string(buf[:n])), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "(nil)", nil
		}
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	}
	return "", errors.New("unknown reply type " + line)
}

// expect checks that each command's reply renders as want.
func (r *raw) expect(want string, args ...string) {
	r.t.Helper()
	if got := r.do(args...); got != want {
		r.t.Errorf("%q: got %s, want %s", args, got, want)
	}
}

func bg() context.Context { return context.Background() }

type crdtBuilder = crdt.Builder

func newBenchBackend() *apitest.Backend { return apitest.New("bench") }
