package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
	httpapi "github.com/spooksystems/spook/api/http"
	"github.com/spooksystems/spook/crdt"
)

// testBackend is the in-memory backend with two more members in its
// status (so the member commands have something to show and refuse) and
// an operator removal that records what it was asked.
type testBackend struct {
	*apitest.Backend
	mu      sync.Mutex
	removed []string
}

var _ api.Admin = (*testBackend)(nil)

func (b *testBackend) Status() api.Status {
	st := b.Backend.Status()
	st.Members = append(st.Members,
		api.MemberStatus{ID: 3, Name: "n3", Addr: "127.0.0.1:7003", State: "alive", Applied: map[string]uint64{}},
		api.MemberStatus{ID: 2, Name: "n2", Addr: "127.0.0.1:7002", State: "unreachable", Applied: map[string]uint64{}, LagTxns: 41},
		api.MemberStatus{ID: 4, Name: "n4", Addr: "127.0.0.1:7004", State: "removed", Applied: map[string]uint64{}},
	)
	return st
}

func (b *testBackend) RemoveMember(ctx context.Context, name string) (api.Token, error) {
	b.mu.Lock()
	b.removed = append(b.removed, name)
	b.mu.Unlock()
	return b.Backend.Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte("removed/"+name), []byte("1")) })
}

type fixture struct {
	t       *testing.T
	addr    string
	backend *testBackend
	stop    func() // shuts the server down; idempotent
}

// start serves the HTTP API over a fresh backend on a random 127.0.0.1 port.
func start(t *testing.T, cfg httpapi.Config) *fixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{Backend: apitest.New("n1")}
	s := httpapi.New(b, cfg)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	stop := sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		b.Close()
	})
	t.Cleanup(stop)
	return &fixture{t: t, addr: l.Addr().String(), backend: b, stop: stop}
}

// run runs one subcommand with args and returns what it printed. Tests
// that call it must not run in parallel: it swaps the package's streams.
func run(args ...string) (out, errOut string, err error) {
	var o, e bytes.Buffer
	stdout, stderr = &o, &e
	defer func() { stdout, stderr = io.Discard, io.Discard }()
	cmd, ok := commands[args[0]]
	if !ok {
		return "", "", fmt.Errorf("no command %q", args[0])
	}
	err = cmd.run(args[1:])
	return o.String(), e.String(), err
}

// run runs a subcommand against the fixture's node (--addr first, so the
// arguments after it are exactly the test's).
func (f *fixture) run(args ...string) (out, errOut string, err error) {
	return run(append([]string{args[0], "--addr", f.addr}, args[1:]...)...)
}

// must runs a subcommand that must succeed and returns its stdout.
func (f *fixture) must(args ...string) string {
	f.t.Helper()
	out, errOut, err := f.run(args...)
	if err != nil {
		f.t.Fatalf("spook %s: %v (stderr %q)", strings.Join(args, " "), err, errOut)
	}
	return out
}

// tokenOf checks that out is one token line of this node and returns it.
func (f *fixture) tokenOf(out string) string {
	f.t.Helper()
	want := fmt.Sprintf("^%s:[1-9][0-9]*\n$", f.backend.ID())
	if !regexp.MustCompile(want).MatchString(out) {
		f.t.Fatalf("output %q is not a token line of node %s", out, f.backend.ID())
	}
	return strings.TrimSpace(out)
}

func (f *fixture) update(fn func(tx *crdt.Builder) error) {
	f.t.Helper()
	if _, err := f.backend.Update(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

func TestSetGet(t *testing.T) {
	f := start(t, httpapi.Config{})
	tok := f.tokenOf(f.must("set", "greeting", "hello"))
	if want := f.backend.ID().String() + ":1"; tok != want {
		t.Errorf("token %q, want %q", tok, want)
	}
	if out := f.must("get", "greeting"); out != "hello\n" {
		t.Errorf("get: %q", out)
	}
	if out := f.must("get", "--raw", "greeting"); out != "hello" {
		t.Errorf("get --raw: %q", out)
	}
	if out := f.must("get", "greeting", "--json"); strings.TrimSpace(out) != `{"key":"greeting","type":"register","value":"hello"}` {
		t.Errorf("get --json: %q", out)
	}

	// Absent keys are an error that says (nil), with nothing on stdout.
	out, _, err := f.run("get", "nope")
	if !errors.Is(err, errAbsent) || out != "" || !strings.Contains(err.Error(), "(nil)") {
		t.Errorf("absent: %q, %v", out, err)
	}

	// Keys with slashes, spaces, '?', '%' and non-ASCII; the write goes
	// through /v1/txn, the read through the escaped path.
	for _, key := range []string{"dir/sub/a b", "q?x=1#f", "100%", "ключ"} {
		f.tokenOf(f.must("set", key, "v:"+key))
		if out := f.must("get", key); out != "v:"+key+"\n" {
			t.Errorf("get %q: %q", key, out)
		}
	}

	// Binary values from stdin come back byte for byte (base64 in JSON).
	stdin = strings.NewReader("\xff\x00\nend")
	t.Cleanup(func() { stdin = strings.NewReader("") })
	f.tokenOf(f.must("set", "bin", "-"))
	if out := f.must("get", "bin", "--raw"); out != "\xff\x00\nend" {
		t.Errorf("binary value: %q", out)
	}
	// A binary key works too.
	f.tokenOf(f.must("set", "k\xfe", "x"))
	if out := f.must("get", "k\xfe"); out != "x\n" {
		t.Errorf("binary key: %q", out)
	}

	// Dashes: "--" ends the flags; a negative number is a value.
	f.tokenOf(f.must("set", "--", "-dash", "-v"))
	f.tokenOf(f.must("set", "neg", "-12", "--token", ""))
	if out := f.must("get", "--", "-dash"); out != "-v\n" {
		t.Errorf("get -dash: %q", out)
	}
	if out := f.must("get", "neg"); out != "-12\n" {
		t.Errorf("get neg: %q", out)
	}

	// Keys the router would clean are read exactly (as a query), never
	// misread as another key.
	f.tokenOf(f.must("set", "a//b", "x"))
	if out := f.must("get", "a//b"); out != "x\n" {
		t.Errorf("get a//b: %q", out)
	}
	for _, key := range []string{"a/./b", "a/../b", "/a"} {
		if _, _, err := f.run("get", key); !errors.Is(err, errAbsent) {
			t.Errorf("get %q: %v", key, err)
		}
	}

	// Wrong arguments.
	for _, args := range [][]string{{"get"}, {"get", "a", "b"}, {"get", "--json", "--raw", "a"}, {"set", "k"}, {"set", "", "v"}, {"set", "a", "b", "c"}} {
		if _, _, err := f.run(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestGetTypes(t *testing.T) {
	f := start(t, httpapi.Config{})
	f.update(func(tx *crdt.Builder) error {
		if _, err := tx.SetAdd([]byte("tags"), []byte("b"), []byte("a")); err != nil {
			return err
		}
		if _, err := tx.MapSet([]byte("user:1"), []byte("name"), []byte("ada")); err != nil {
			return err
		}
		if _, err := tx.MapIncrement([]byte("user:1"), []byte("logins"), 3); err != nil {
			return err
		}
		_, err := tx.Increment([]byte("big"), 1<<62+1)
		return err
	})
	for _, c := range []struct{ key, want string }{
		{"tags", "a\nb\n"},
		{"user:1", "logins=3\nname=ada\n"},
		{"big", "4611686018427387905\n"}, // every digit of an int64
	} {
		if out := f.must("get", c.key); out != c.want {
			t.Errorf("get %s: %q, want %q", c.key, out, c.want)
		}
	}
	if out := f.must("get", "big", "--raw"); out != "4611686018427387905" {
		t.Errorf("get --raw counter: %q", out)
	}
	if _, _, err := f.run("get", "tags", "--raw"); err == nil || !strings.Contains(err.Error(), "no raw form") {
		t.Errorf("get --raw set: %v", err)
	}
	// Binary set members come back as bytes.
	f.update(func(tx *crdt.Builder) error {
		_, err := tx.SetAdd([]byte("bset"), []byte("\xff"), []byte("x"))
		return err
	})
	if out := f.must("get", "bset"); out != "x\n\xff\n" {
		t.Errorf("binary set: %q", out)
	}
	// A sorted set: one "member score" line per member, in rank order.
	f.update(func(tx *crdt.Builder) error {
		for _, m := range []struct {
			name  string
			score float64
		}{{"bob", 2.5}, {"ann", 10}, {"cy", math.Inf(-1)}} {
			if _, err := tx.ZAdd([]byte("board"), []byte(m.name), m.score); err != nil {
				return err
			}
		}
		return nil
	})
	if out := f.must("get", "board"); out != "cy -inf\nbob 2.5\nann 10\n" {
		t.Errorf("sorted set: %q", out)
	}

	// Concurrent writes leave siblings: get prints the resolved one and
	// says how many there are.
	if _, err := f.backend.Concurrent(
		func(tx *crdt.Builder) error { return tx.Set([]byte("r"), []byte("x")) },
		func(tx *crdt.Builder) error { return tx.Set([]byte("r"), []byte("y")) },
	); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := f.run("get", "r")
	if err != nil || (out != "x\n" && out != "y\n") || !strings.Contains(errOut, "(2 concurrent values") {
		t.Errorf("siblings: %q %q %v", out, errOut, err)
	}
}

func TestIncr(t *testing.T) {
	f := start(t, httpapi.Config{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"incr", "c"}, "(value 1)\n"},
		{[]string{"incr", "c", "5"}, "(value 6)\n"},
		{[]string{"incr", "c", "-10"}, "(value -4)\n"}, // a negative BY is not a flag
		{[]string{"incr", "c", "--", "-1"}, "(value -5)\n"},
	} {
		out, errOut, err := f.run(c.args...)
		if err != nil || errOut != c.want {
			t.Fatalf("%q: %q %v, want %q", c.args, errOut, err, c.want)
		}
		f.tokenOf(out)
	}
	if out := f.must("get", "c"); out != "-5\n" {
		t.Errorf("get c: %q", out)
	}
	// A string holding an integer becomes a counter.
	f.must("set", "s", "41")
	if _, errOut, err := f.run("incr", "s"); err != nil || errOut != "(value 42)\n" {
		t.Errorf("incr on integer string: %q %v", errOut, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"incr", "c", "x"}, `BY "x" is not an integer`},
		{[]string{"incr", "c", "99999999999999999999"}, "not an integer"},
		{[]string{"incr"}, "want KEY [BY]"},
		{[]string{"incr", "hello", "x", "1"}, "want KEY [BY]"},
		{[]string{"incr", "huge", "9223372036854775807"}, ""}, // fine
		{[]string{"incr", "huge"}, "(overflow, HTTP 409)"},
		{[]string{"incr", "s2"}, ""},
	} {
		_, _, err := f.run(c.args...)
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	// A set is not a counter: the node's wrong_type error comes through.
	f.update(func(tx *crdt.Builder) error { _, err := tx.SetAdd([]byte("set"), []byte("m")); return err })
	_, _, err := f.run("incr", "set")
	var ne *nodeError
	if !errors.As(err, &ne) || ne.Code != "wrong_type" || ne.Status != 409 || !strings.Contains(err.Error(), "operation 0: ") {
		t.Errorf("incr on a set: %v", err)
	}
}

func TestDel(t *testing.T) {
	f := start(t, httpapi.Config{})
	f.must("set", "a", "1")
	f.must("set", "b", "2")
	f.must("set", "keep", "3")
	out, errOut, err := f.run("del", "a", "missing", "b")
	if err != nil || errOut != "(2 of 3 keys existed)\n" {
		t.Fatalf("del: %q %q %v", out, errOut, err)
	}
	f.tokenOf(out)
	for _, k := range []string{"a", "b"} {
		if _, _, err := f.run("get", k); !errors.Is(err, errAbsent) {
			t.Errorf("get %s after del: %v", k, err)
		}
	}
	if out := f.must("get", "keep"); out != "3\n" {
		t.Errorf("keep: %q", out)
	}
	out, errOut, err = f.run("del", "a")
	if err != nil || out != "" || errOut != "(no such key; nothing deleted)\n" {
		t.Errorf("del of nothing: %q %q %v", out, errOut, err)
	}
	// Every key goes in one transaction: one token, one dot.
	f.must("set", "x", "1")
	f.must("set", "y", "1")
	before := f.backend.Status().Applied["n1"]
	f.tokenOf(f.must("del", "x", "y"))
	if after := f.backend.Status().Applied["n1"]; after != before+1 {
		t.Errorf("del of two keys made %d transactions", after-before)
	}
	if _, _, err := f.run("del"); err == nil {
		t.Error("del with no keys: no error")
	}
}

func TestStatusAndMembers(t *testing.T) {
	f := start(t, httpapi.Config{})
	f.must("set", "a", "1")
	f.must("incr", "b")
	st := f.backend.Status()

	out := f.must("status")
	for _, want := range []string{
		"node           n1 (id " + st.ID.String() + ")\n",
		"cluster        apitest\n",
		"keys           2\n",
		"state hash     " + st.StateHash + "\n",
		"applied        n1=2\n",
		"collapsed      n1=2\n",
		"not collapsed  0 txns\n",
		"\nNAME  ADDR            STATE        LAG\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	var got api.Status
	if err := json.Unmarshal([]byte(f.must("status", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Events) == 0 && len(st.Events) == 0 {
		got.Events, st.Events = nil, nil // the node sends [] for none
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("status --json:\n%+v\nwant\n%+v", got, st)
	}

	wantTable := "" +
		"NAME  ADDR            STATE        LAG\n" +
		"n1    -               self         0\n" +
		"n2    127.0.0.1:7002  unreachable  41\n" +
		"n3    127.0.0.1:7003  alive        0\n" +
		"n4    127.0.0.1:7004  removed      0\n"
	if out := f.must("members"); out != wantTable {
		t.Errorf("members:\n%s\nwant\n%s", out, wantTable)
	}
	var ms []api.MemberStatus
	if err := json.Unmarshal([]byte(f.must("members", "--json")), &ms); err != nil || len(ms) != 4 {
		t.Errorf("members --json: %v %v", ms, err)
	}
	for _, cmd := range []string{"status", "members"} {
		if _, _, err := f.run(cmd, "extra"); err == nil {
			t.Errorf("%s extra: no error", cmd)
		}
	}
}

// statusWithEvents serves a fixed status, to check what the in-memory
// backend never reports.
func TestStatusEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Events as an older node sends them: preformatted strings.
		io.WriteString(w, `{"name":"n2","cluster":"c","applied":{"n1":5,"n2":7},"collapsed":{"n1":4,"n2":7},`+
			`"recent_events":["n3 is unreachable","divergence repaired"]}`)
	}))
	defer srv.Close()
	out, _, err := run("status", "--addr", srv.URL)
	for _, want := range []string{"applied        n1=5 n2=7\n", "collapsed      n1=4 n2=7\n", "not collapsed  1 txns\n",
		"\nrecent events:\n  n3 is unreachable\n  divergence repaired\n"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("status lacks %q (%v):\n%s", want, err, out)
		}
	}
}

func TestMemberRemove(t *testing.T) {
	f := start(t, httpapi.Config{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"member", "remove", "n3"}, `refusing to remove "n3": it is alive`},
		{[]string{"member", "remove", "n1"}, `refusing to remove "n1": it is self`},
		{[]string{"member", "remove", "n9"}, `no member named "n9" (members: n1, n3, n2, n4)`},
		{[]string{"member", "remove"}, "want exactly one member NAME"},
		{[]string{"member", "remove", "n2", "n3"}, "want exactly one member NAME"},
		{[]string{"member", "frob", "n2"}, `unknown action "frob"`},
	} {
		_, _, err := f.run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if _, errOut, err := f.run("member", "remove", "n4"); err != nil || errOut != "(n4 is already removed; nothing to do)\n" {
		t.Errorf("remove a removed member: %q %v", errOut, err)
	}
	if _, _, err := run("member"); err == nil || !strings.Contains(err.Error(), "missing action") {
		t.Errorf("member with no action: %v", err)
	}
	if len(f.backend.removed) != 0 {
		t.Fatalf("refused removals reached the node: %q", f.backend.removed)
	}

	f.tokenOf(f.must("member", "remove", "n2"))
	if !slices.Equal(f.backend.removed, []string{"n2"}) {
		t.Errorf("removed %q", f.backend.removed)
	}
	f.tokenOf(f.must("member", "remove", "n3", "--force"))
}

// TestMemberRemoveRequest checks the request the client sends, against a
// stand-in of the endpoint: method, escaped path, auth and body.
func TestMemberRemoveRequest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization")+" "+string(body))
		if r.URL.Path == "/v1/members" {
			_, _ = io.WriteString(w, `[{"name":"old node","state":"left"}]`)
			return
		}
		_, _ = io.WriteString(w, `{"token":"00000000000000ab:9"}`+"\n")
	}))
	defer srv.Close()
	out, _, err := run("member", "remove", "--addr", srv.URL, "--token", "tk", "old node")
	if err != nil || out != "00000000000000ab:9\n" {
		t.Fatalf("%q %v", out, err)
	}
	want := []string{"GET /v1/members Bearer tk ", "DELETE /v1/members/old%20node Bearer tk "}
	if !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestWait(t *testing.T) {
	f := start(t, httpapi.Config{})
	tok := f.tokenOf(f.must("set", "a", "1"))
	if out := f.must("wait", tok); out != "collapsed: every member (1) has applied "+tok+"\n" {
		t.Errorf("wait: %q", out)
	}
	if out := f.must("wait", tok, "--members", "1"); out != "reached: 1 member has applied "+tok+"\n" {
		t.Errorf("wait --members 1: %q", out)
	}
	// One node can never give two members: the wait times out.
	_, _, err := f.run("wait", tok, "--members", "2", "--timeout", "30ms")
	if !errors.Is(err, errNotReached) || !strings.Contains(err.Error(), "within 30ms: 1 member has applied "+tok+", wanted 2") {
		t.Errorf("wait for 2: %v", err)
	}
	// A token this node has not applied.
	_, _, err = f.run("wait", "00000000000000ff:1", "--members", "1", "--timeout", "30ms")
	if !errors.Is(err, errNotReached) || !strings.Contains(err.Error(), "0 members have applied") {
		t.Errorf("wait unknown token: %v", err)
	}
	var ne *nodeError
	if _, _, err := f.run("wait", "nonsense"); !errors.As(err, &ne) || ne.Code != "bad_token" {
		t.Errorf("wait bad token: %v", err)
	}
	// --region asks for scope "region", which this test node (no
	// regions) refuses.
	if _, _, err := f.run("wait", tok, "--region"); !errors.As(err, &ne) || !strings.Contains(ne.Error(), `scope "region"`) {
		t.Errorf("wait --region on a node without regions: %v", err)
	}
	for _, args := range [][]string{{"wait"}, {"wait", tok, "x"}, {"wait", tok, "--timeout", "0s"}, {"wait", tok, "--timeout", "6m"}, {"wait", tok, "--members", "-1"}} {
		if _, _, err := f.run(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// syncWriter is a goroutine-safe buffer that signals when a write
// contains mark.
type syncWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	mark string
	seen chan struct{}
	once sync.Once
}

func newSyncWriter(mark string) *syncWriter {
	return &syncWriter{mark: mark, seen: make(chan struct{})}
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.mark) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startWatch runs spook watch in a goroutine and returns once it is
// subscribed; wait returns its stdout and error.
func startWatch(t *testing.T, args ...string) (wait func() (string, error)) {
	t.Helper()
	out, errOut := newSyncWriter("\x00never"), newSyncWriter("(watching ")
	stdout, stderr = out, errOut
	done := make(chan error, 1)
	go func() { done <- commands["watch"].run(args) }()
	select {
	case <-errOut.seen:
	case err := <-done:
		t.Fatalf("watch ended before subscribing: %v (stderr %q)", err, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not subscribe")
	}
	return func() (string, error) {
		select {
		case err := <-done:
			stdout, stderr = io.Discard, io.Discard
			return out.String(), err
		case <-time.After(10 * time.Second):
			t.Fatal("watch did not end")
			return "", nil
		}
	}
}

func TestWatch(t *testing.T) {
	f := start(t, httpapi.Config{})
	wait := startWatch(t, "--addr", f.addr, "--prefix", "user:", "--max", "4")
	f.update(func(tx *crdt.Builder) error { return tx.Set([]byte("user:1"), []byte("x")) })
	f.update(func(tx *crdt.Builder) error { return tx.Set([]byte("other"), []byte("x")) })
	f.update(func(tx *crdt.Builder) error { _, err := tx.SetAdd([]byte("user:2"), []byte("m")); return err })
	f.update(func(tx *crdt.Builder) error { return tx.Delete([]byte("user:1")) })
	f.update(func(tx *crdt.Builder) error { _, err := tx.Increment([]byte("user: sp\x01ce"), 1); return err })
	f.update(func(tx *crdt.Builder) error { return tx.Set([]byte("user:after"), []byte("x")) })
	out, err := wait()
	id := f.backend.ID().String()
	want := "register user:1 origin=n1\n" +
		"set user:2 origin=n1\n" +
		"deleted user:1 origin=n1\n" +
		`counter "user: sp\x01ce" origin=n1` + "\n"
	if err != nil || out != want {
		t.Errorf("watch: %v\n%s\nwant\n%s", err, out, want)
	}

	// --json prints the node's data lines.
	wait = startWatch(t, "--addr", f.addr, "--max", "1", "--json")
	f.update(func(tx *crdt.Builder) error { return tx.Set([]byte("j"), []byte("x")) })
	out, err = wait()
	if want := `{"key":"j","type":"register","deleted":false,"origin":"n1","origin_id":"` + id + `"}` + "\n"; err != nil || out != want {
		t.Errorf("watch --json: %q %v, want %q", out, err, want)
	}

	// --timeout ends a quiet watch without error.
	wait = startWatch(t, "--addr", f.addr, "--timeout", "50ms")
	if out, err := wait(); err != nil || out != "" {
		t.Errorf("watch --timeout: %q %v", out, err)
	}

	// The node shutting down ends an unbounded watch with an error.
	wait = startWatch(t, "--addr", f.addr)
	f.stop()
	if _, err := wait(); !errors.Is(err, errStreamEnded) {
		t.Errorf("watch across shutdown: %v", err)
	}

	if _, _, err := run("watch", "--max", "-1"); err == nil {
		t.Error("watch --max -1: no error")
	}
	if _, _, err := run("watch", "prefix"); err == nil || !strings.Contains(err.Error(), "--prefix") {
		t.Errorf("watch with an argument: %v", err)
	}
}

// TestWatchStream checks the SSE parsing against a scripted stream:
// base64 keys, multi-line framing, keep-alives and the overflow event.
func TestWatchStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("prefix"); got != "a b" {
			t.Errorf("prefix %q", got)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ": watching\n\n: keepalive\n\n"+
			"event: change\ndata: {\"key\":\"/wA=\",\"encoding\":\"base64\",\"type\":\"register\",\"deleted\":false,\"origin\":\"01\"}\n\n"+
			"event: unknown\ndata: x\n\n"+
			"event: overflow\ndata: {\"error\":\"api: watcher fell behind; subscription closed\"}\n\n")
	}))
	defer srv.Close()
	out, errOut, err := run("watch", "--addr", srv.URL, "--prefix", "a b")
	if out != `register "\xff\x00" origin=01`+"\n" || !strings.Contains(errOut, `(watching keys starting with "a b" on `) {
		t.Errorf("stream: %q %q", out, errOut)
	}
	if !errors.Is(err, errStreamEnded) || !strings.Contains(err.Error(), "fell too far behind") {
		t.Errorf("overflow: %v", err)
	}
}

func TestAuth(t *testing.T) {
	f := start(t, httpapi.Config{Token: "s3cret"})
	_, _, err := f.run("status")
	var ne *nodeError
	if !errors.As(err, &ne) || ne.Status != 401 || !strings.Contains(err.Error(), "pass --token or set SPOOK_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	if _, _, err := f.run("get", "k", "--token", "wrong"); !errors.As(err, &ne) || ne.Status != 401 {
		t.Errorf("wrong token: %v", err)
	}
	f.tokenOf(f.must("set", "k", "v", "--token", "s3cret"))
	t.Setenv(EnvToken, "s3cret")
	if out := f.must("get", "k"); out != "v\n" {
		t.Errorf("token from the environment: %q", out)
	}
	t.Setenv(EnvAddr, f.addr)
	if out, _, err := run("get", "k"); err != nil || out != "v\n" {
		t.Errorf("address from the environment: %q %v", out, err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, args := range [][]string{
		{"status"}, {"members"}, {"member", "remove", "n2"}, {"get", "k"}, {"set", "k", "v"},
		{"incr", "k"}, {"del", "k"}, {"watch"}, {"wait", "01:1"},
	} {
		_, _, err := run(append(args, "--addr", addr)...)
		if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), "cannot reach node at "+addr+": ") {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestClientConfig(t *testing.T) {
	t.Setenv(EnvAddr, "")
	t.Setenv(EnvToken, "")
	for _, c := range []struct{ addr, base, err string }{
		{"", "http://" + DefaultAddr, ""},
		{"10.0.0.1:80", "http://10.0.0.1:80", ""},
		{"https://node.example:7001/", "https://node.example:7001", ""},
		{"http://node/prefix", "http://node/prefix", ""},
		{"http://", "", "bad node address"},
		{"ftp://x:1", "", "bad node address"},
		{"x:1?q", "", "bad node address"},
	} {
		cl, err := (&clientFlags{addr: c.addr}).client()
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v", c.addr, err)
			}
		case err != nil || cl.base != c.base:
			t.Errorf("%q: %v %+v, want base %q", c.addr, err, cl, c.base)
		}
	}
}

// TestNonJSONError: an error reply that is not the node's JSON (a proxy's
// page) still gives a clear message.
func TestNonJSONError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, _, err := run("status", "--addr", srv.URL)
	if err == nil || err.Error() != "upstream down (http, HTTP 502)" {
		t.Errorf("%v", err)
	}
}

func TestHelpAndFlags(t *testing.T) {
	for _, name := range []string{"status", "members", "member", "get", "set", "incr", "del", "watch", "wait"} {
		_, errOut, err := run(name, "--help")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "usage: spook "+name) ||
			!strings.Contains(errOut, "Example:") || !strings.Contains(errOut, "-addr") {
			t.Errorf("%s --help: %v\n%s", name, err, errOut)
		}
		_, errOut, err = run(name, "--bogus")
		if err == nil || errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), "flag provided but not defined") || errOut != "" {
			t.Errorf("%s --bogus: %v %q", name, err, errOut)
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args       []string
		positional []string
		members    int
		json       bool
	}{
		{[]string{"tok", "--members", "2"}, []string{"tok"}, 2, false},
		{[]string{"--members=3", "tok", "--json", "x"}, []string{"tok", "x"}, 3, true},
		{[]string{"k", "-5"}, []string{"k", "-5"}, 0, false},
		{[]string{"--members", "-1", "k"}, []string{"k"}, -1, false},
		{[]string{"--json", "--", "--members", "-"}, []string{"--members", "-"}, 0, true},
		{[]string{"-"}, []string{"-"}, 0, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		members := fs.Int("members", 0, "")
		asJSON := fs.Bool("json", false, "")
		got, err := parseArgs(fs, c.args)
		if err != nil || !slices.Equal(got, c.positional) || *members != c.members || *asJSON != c.json {
			t.Errorf("%q: %q members=%d json=%v %v", c.args, got, *members, *asJSON, err)
		}
	}
}

func TestKeyPath(t *testing.T) {
	for _, c := range []struct{ key, path string }{
		{"a", "/v1/kv/a"},
		{"dir/a b", "/v1/kv/dir/a%20b"},
		{"q?#%", "/v1/kv/q%3F%23%25"},
		{"trailing/", "/v1/kv/trailing/"},
		{"a//b", "/v1/kv?key=a%2F%2Fb"},
		{"./a", "/v1/kv?key=.%2Fa"},
		{"a/..", "/v1/kv?key=a%2F.."},
		{"", ""},
	} {
		got, err := keyPath(c.key)
		if got != c.path || (err == nil) != (c.path != "") {
			t.Errorf("%q: %q %v, want %q", c.key, got, err, c.path)
		}
	}
}

// writeCerts writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, both signed by the CA, as PEM files in dir.
func writeCerts(t *testing.T, dir string) (ca *x509.CertPool, serverCert tls.Certificate) {
	t.Helper()
	caPub, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caPub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = x509.NewCertPool()
	ca.AddCert(caCert)
	write := func(name, typ string, der []byte) {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) (certDER, keyDER []byte, key ed25519.PrivateKey) {
		pub, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "n1"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		certDER, err = x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err = x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return certDER, keyDER, key
	}
	srvDER, _, srvKey := leaf(2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKeyDER, _ := leaf(3, x509.ExtKeyUsageClientAuth)
	write("client.pem", "CERTIFICATE", cliDER)
	write("client.key", "PRIVATE KEY", cliKeyDER)
	return ca, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

// TestTLS: a node that requires mutual TLS, as spookd off loopback does.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca, serverCert := writeCerts(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tls.NewListener(l, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{serverCert},
		ClientCAs: ca, ClientAuth: tls.RequireAndVerifyClientCert})
	b := apitest.New("n1")
	s := httpapi.New(b, httpapi.Config{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(tl) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		b.Close()
	})
	addr := l.Addr().String()
	cert, key, caFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"), filepath.Join(dir, "ca.pem")
	t.Setenv(EnvTLSCert, "")
	t.Setenv(EnvTLSKey, "")
	t.Setenv(EnvTLSCA, "")

	out, _, err := run("set", "k", "v", "--addr", addr, "--tls-cert", cert, "--tls-key", key, "--tls-ca", caFile)
	if err != nil || !strings.HasPrefix(out, b.ID().String()+":") {
		t.Fatalf("set over TLS: %q %v", out, err)
	}
	// The environment names spookd reads work too, with an https:// address.
	t.Setenv(EnvTLSCert, cert)
	t.Setenv(EnvTLSKey, key)
	t.Setenv(EnvTLSCA, caFile)
	if out, _, err := run("get", "k", "--addr", "https://"+addr); err != nil || out != "v\n" {
		t.Errorf("get over TLS: %q %v", out, err)
	}
	t.Setenv(EnvTLSCert, "")
	t.Setenv(EnvTLSKey, "")
	t.Setenv(EnvTLSCA, "")

	for _, c := range []struct {
		args []string
		want string
	}{
		// No client certificate: the node refuses the handshake (with
		// an alert, or a reset that may overtake it).
		{[]string{"--tls-ca", caFile}, "cannot reach node at " + addr + ": "},
		// A node certificate not signed by the given CA.
		{[]string{"--tls-ca", cert, "--tls-cert", cert, "--tls-key", key}, "x509: certificate signed by unknown authority (check --tls-cert"},
		// No TLS at all.
		{nil, "give --tls-ca, --tls-cert and --tls-key, or an https:// address) (http, HTTP 400)"},
		{[]string{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-ca", filepath.Join(dir, "missing.pem")}, "read CA"},
		{[]string{"--tls-ca", key}, "holds no PEM certificate"},
		{[]string{"--addr", "http://" + addr, "--tls-ca", caFile}, "says http://"},
	} {
		_, _, err := run(append([]string{"status", "--addr", addr}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// TestMemberRemoveNotSupported: a backend without api.Admin answers 501
// and the command says so.
func TestMemberRemoveNotSupported(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := apitest.New("solo")
	s := httpapi.New(b, httpapi.Config{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		b.Close()
	}()
	_, _, err = run("member", "remove", "solo", "--force", "--addr", l.Addr().String())
	var ne *nodeError
	if !errors.As(err, &ne) || ne.Status != http.StatusNotImplemented || ne.Code != "not_supported" {
		t.Errorf("%v", err)
	}
}

// TestMembersRegionColumn: the members table has a REGION column only
// when some member has a region.
func TestMembersRegionColumn(t *testing.T) {
	var b strings.Builder
	writeMembers(&b, []api.MemberStatus{{Name: "n2", Addr: "a2", Region: "west", State: "alive"}, {Name: "n1", Addr: "a1", State: "self"}})
	want := "NAME  ADDR  REGION  STATE  LAG\nn1    a1    -       self   0\nn2    a2    west    alive  0\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeMembers(&b, []api.MemberStatus{{Name: "n1", Addr: "a1", State: "self"}})
	if strings.Contains(b.String(), "REGION") {
		t.Errorf("a REGION column without regions:\n%s", b.String())
	}
}

// TestClientUserAuth: --user NAME (or SPOOK_USER) sends HTTP Basic auth
// with the password from SPOOK_PASSWORD (never a flag: it would show in
// ps), for nodes with client users (spookd --users); --user with --token
// is refused before anything is sent, as is --user without a password.
func TestClientUserAuth(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		got = append(got, fmt.Sprintf("%s %s %v", user, pass, ok))
		_, _ = io.WriteString(w, `{"token":"00000000000000ab:9"}`+"\n")
	}))
	defer srv.Close()
	t.Setenv(EnvPassword, "alice pw")
	if _, _, err := run("set", "--addr", srv.URL, "--user", "alice", "k", "v"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvUser, "bob")
	t.Setenv(EnvPassword, "bob-pw")
	if _, _, err := run("set", "--addr", srv.URL, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice alice pw true", "bob bob-pw true"}; !slices.Equal(got, want) {
		t.Fatalf("credentials sent %q, want %q", got, want)
	}
	if _, _, err := run("set", "--addr", srv.URL, "--user", "bob", "--token", "tk", "k", "v"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("--user with --token: %v", err)
	}
	t.Setenv(EnvPassword, "")
	if _, _, err := run("set", "--addr", srv.URL, "--user", "bob", "k", "v"); err == nil || !strings.Contains(err.Error(), EnvPassword) {
		t.Errorf("--user without a password: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("refused invocations reached the node: %q", got[2:])
	}
}
