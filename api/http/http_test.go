package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/buildinfo"
)

type fixture struct {
	t       *testing.T
	base    string
	backend *apitest.Backend
	server  *Server
	client  *http.Client
	token   string
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	return startWrapped(t, cfg, nil)
}

// startWrapped is start with the test backend wrapped by wrap (nil: as
// is), for surfaces that look for optional backend interfaces.
func startWrapped(t *testing.T, cfg Config, wrap func(*apitest.Backend) api.Backend) *fixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := apitest.New("n1")
	var backend api.Backend = b
	if wrap != nil {
		backend = wrap(b)
	}
	s := New(backend, cfg)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	tr := &http.Transport{}
	f := &fixture{t: t, base: "http://" + l.Addr().String(), backend: b, server: s, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, token: cfg.Token}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
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
	return f
}

// do sends a request with the fixture's token and returns status and body.
func (f *fixture) do(method, path, body string, header ...string) (int, string, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func (f *fixture) expect(wantStatus int, wantBody, method, path, body string, header ...string) string {
	f.t.Helper()
	status, got, _ := f.do(method, path, body, header...)
	if status != wantStatus || (wantBody != "" && strings.TrimSpace(got) != wantBody) {
		f.t.Errorf("%s %s: %d %s, want %d %s", method, path, status, strings.TrimSpace(got), wantStatus, wantBody)
	}
	return got
}

func tokenOf(t *testing.T, body string) api.Token {
	t.Helper()
	var b struct{ Token string }
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	tok, err := parseToken(b.Token)
	if err != nil {
		t.Fatalf("token %q: %v", b.Token, err)
	}
	return tok
}

func TestKV(t *testing.T) {
	f := start(t, Config{})
	f.expect(404, `{"error":{"code":"not_found","message":"no such key"}}`, "GET", "/v1/kv/a", "")
	body := f.expect(200, "", "PUT", "/v1/kv/a", "hello")
	if tok := tokenOf(t, body); tok.Dot.Counter != 1 || tok.Dot.Node != f.backend.ID() {
		t.Errorf("token %v", tok)
	}
	f.expect(200, "hello", "GET", "/v1/kv/a", "")
	f.expect(200, `{"key":"a","type":"register","value":"hello"}`, "GET", "/v1/kv/a", "", "Accept", "application/json")
	// Keys may hold slashes and escaped bytes.
	f.expect(200, "", "PUT", "/v1/kv/dir/sub/key%20x", "v")
	f.expect(200, "v", "GET", "/v1/kv/dir/sub/key%20x", "")
	// Binary values come back as bytes, and base64 in JSON.
	f.expect(200, "", "PUT", "/v1/kv/bin", "\xff\x00")
	f.expect(200, "\xff\x00", "GET", "/v1/kv/bin", "")
	f.expect(200, `{"key":"Ymlu","type":"register","encoding":"base64","value":"/wA="}`, "GET", "/v1/kv/bin", "", "Accept", "application/json")
	f.expect(200, `{"token":"`+tokenString(f, 4)+`","deleted":true}`, "DELETE", "/v1/kv/a", "")
	f.expect(200, `{"deleted":false}`, "DELETE", "/v1/kv/a", "")
	f.expect(404, "", "GET", "/v1/kv/a", "")
	f.expect(400, `{"error":{"code":"bad_request","message":"empty key"}}`, "PUT", "/v1/kv/", "x")
	f.expect(403, "", "PUT", "/v1/kv/%00spook/x", "x")
	f.expect(400, "", "PUT", "/v1/kv/"+strings.Repeat("k", crdt.MaxKeyBytes+1), "x")
	f.expect(405, "", "POST", "/v1/kv/a", "x")
	f.expect(404, "", "GET", "/v2/nothing", "")

	// Other types: counters as text, sets and maps as JSON.
	f.expect(200, "", "POST", "/v1/txn", `[{"op":"incr","key":"c","by":5},{"op":"sadd","key":"s","members":["b","a"]},{"op":"hset","key":"h","field":"f","value":"v"},{"op":"hincrby","key":"h","field":"n","by":2}]`)
	f.expect(200, "5", "GET", "/v1/kv/c", "")
	f.expect(200, `{"key":"c","type":"counter","value":5}`, "GET", "/v1/kv/c", "", "Accept", "application/json")
	f.expect(200, `{"key":"s","type":"set","members":["a","b"]}`, "GET", "/v1/kv/s", "")
	f.expect(200, `{"key":"h","type":"map","fields":{"f":"v","n":2}}`, "GET", "/v1/kv/h", "")

	// Register siblings.
	if _, err := f.backend.Concurrent(
		func(tx *crdt.Builder) error { return tx.Set([]byte("r"), []byte("x")) },
		func(tx *crdt.Builder) error { return tx.Set([]byte("r"), []byte("y")) },
	); err != nil {
		t.Fatal(err)
	}
	var doc keyDoc
	_, body, _ = f.do("GET", "/v1/kv/r", "", "Accept", "application/json")
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Siblings) != 2 || (doc.Value != "x" && doc.Value != "y") {
		t.Errorf("siblings document: %s (%v)", body, err)
	}
}

// tokenString is the token of this node's n-th transaction.
func tokenString(f *fixture, n uint64) string {
	return f.backend.ID().String() + ":" + itoa(n)
}

func itoa(n uint64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestTxn(t *testing.T) {
	f := start(t, Config{})
	body := f.expect(200, "", "POST", "/v1/txn", `[
		{"op":"set","key":"a","value":"1"},
		{"op":"incr","key":"a","by":2},
		{"op":"sadd","key":"s","members":["x","y"]},
		{"op":"srem","key":"s","members":["y","z"]},
		{"op":"hset","key":"h","field":"f","value":"v"},
		{"op":"hset","key":"h","field":"f","value":"w"},
		{"op":"hincrby","key":"h","field":"n"},
		{"op":"hdel","key":"h","fields":["f","q"]},
		{"op":"del","key":"nope"},
		{"op":"set","key":"YmluAA==","value":"/w==","encoding":"base64"}
	]`)
	var reply struct {
		Token   string
		Results []any
	}
	if err := json.Unmarshal([]byte(body), &reply); err != nil {
		t.Fatal(err)
	}
	want := `[<nil> 3 2 1 true false 1 1 false <nil>]`
	if got := strings.ReplaceAll(strings.Trim(jsonString(reply.Results), "\n"), ",", " "); got != want {
		t.Errorf("results %s, want %s", got, want)
	}
	if reply.Token != tokenString(f, 1) {
		t.Errorf("token %s: the whole list must be one transaction", reply.Token)
	}
	f.expect(200, "3", "GET", "/v1/kv/a", "")
	f.expect(200, "\xff", "GET", "/v1/kv/bin%00", "")

	// Any failing operation writes nothing and names its index.
	f.expect(409, `{"error":{"code":"wrong_type","message":"operation against a key holding the wrong kind of value","op":1}}`,
		"POST", "/v1/txn", `[{"op":"set","key":"new","value":"1"},{"op":"sadd","key":"a","members":["m"]}]`)
	f.expect(404, "", "GET", "/v1/kv/new", "")
	f.expect(409, "", "POST", "/v1/txn", `[{"op":"incr","key":"s"}]`)
	f.expect(409, "", "POST", "/v1/txn", `[{"op":"hset","key":"s","field":"f","value":"v"}]`)
	f.expect(409, `{"error":{"code":"overflow","message":"crdt: counter overflow","op":0}}`, "POST", "/v1/txn", `[{"op":"incr","key":"a","by":9223372036854775807}]`)
	f.expect(400, `{"error":{"code":"bad_request","message":"unknown op \"nope\"","op":0}}`, "POST", "/v1/txn", `[{"op":"nope","key":"a"}]`)
	f.expect(400, "", "POST", "/v1/txn", `[{"op":"set","key":"a"}]`)
	f.expect(400, "", "POST", "/v1/txn", `[{"op":"set","key":"a","value":"x","bogus":1}]`)
	f.expect(400, "", "POST", "/v1/txn", `[{"op":"set","key":"a","value":"x"}] trailing`)
	f.expect(400, "", "POST", "/v1/txn", `{"op":"set"}`)
	f.expect(403, "", "POST", "/v1/txn", `[{"op":"set","key":"\u0000spook/a","value":"x"}]`)
	// An empty transaction writes nothing and returns no token.
	f.expect(200, `{}`, "POST", "/v1/txn", `[]`)
	f.expect(200, `{"results":[false]}`, "POST", "/v1/txn", `[{"op":"del","key":"nope"}]`)
	// One operation past MaxTxnRequestOps is refused while reading, with
	// the rest of the list unread (a real-process test measures memory).
	tooMany := "[" + strings.Repeat("{},", MaxTxnRequestOps) + "{}," + strings.Repeat("x", 1<<20)
	f.expect(413, fmt.Sprintf(`{"error":{"code":"txn_too_big","message":"more than %d operations"}}`, MaxTxnRequestOps), "POST", "/v1/txn", tooMany)
	f.expect(400, "", "POST", "/v1/txn", `null`)
}

func jsonString(v any) string {
	var b strings.Builder
	for i, x := range v.([]any) {
		if i > 0 {
			b.WriteString(",")
		}
		switch x := x.(type) {
		case nil:
			b.WriteString("<nil>")
		default:
			j, _ := json.Marshal(x)
			b.Write(j)
		}
	}
	return "[" + b.String() + "]"
}

func TestBodyLimits(t *testing.T) {
	f := start(t, Config{})
	big := strings.Repeat("x", MaxValueBodyBytes+1)
	f.expect(413, "", "PUT", "/v1/kv/big", big)
	f.expect(404, "", "GET", "/v1/kv/big", "")
	f.expect(200, "", "PUT", "/v1/kv/max", big[:MaxValueBodyBytes])
}

func TestWaitEndpoint(t *testing.T) {
	f := start(t, Config{})
	f.expect(200, `{"token":"`+tokenString(f, 1)+`"}`, "PUT", "/v1/kv/a", "1")
	tok := tokenString(f, 1)
	f.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`","members":1}`)
	f.expect(200, `{"members":1,"reached":true}`, "POST", "/v1/wait", `{"token":"`+tok+`"}`) // all members
	start := time.Now()
	f.expect(200, `{"members":1,"reached":false}`, "POST", "/v1/wait", `{"token":"`+tok+`","members":2,"timeout_ms":30}`)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("wait returned after %v", d)
	}
	f.expect(400, "", "POST", "/v1/wait", `{"token":"nope"}`)
	f.expect(400, "", "POST", "/v1/wait", `{"token":"`+tok+`","timeout_ms":-1}`)
}

func TestStatusMembersHealth(t *testing.T) {
	ready := errors.New("still loading")
	f := start(t, Config{Ready: func() error { return ready }})
	f.expect(200, "", "PUT", "/v1/kv/a", "1")
	var st api.Status
	_, body, _ := f.do("GET", "/v1/status", "")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Name != "n1" || st.Keys != 1 || st.Applied["n1"] != 1 {
		t.Errorf("status %s (%v)", body, err)
	}
	// recent_events is always present (a list, empty here), and the
	// node's build is named.
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if ev, ok := doc["recent_events"].([]any); !ok || len(ev) != 0 {
		t.Errorf("recent_events %#v in %s", doc["recent_events"], body)
	}
	if v, _ := doc["version"].(string); v == "" || !strings.HasPrefix(v, buildinfo.Get().Version) {
		t.Errorf("version %#v in %s", doc["version"], body)
	}
	var ms []api.MemberStatus
	_, body, _ = f.do("GET", "/v1/members", "")
	if err := json.Unmarshal([]byte(body), &ms); err != nil || len(ms) != 1 || ms[0].State != "self" {
		t.Errorf("members %s (%v)", body, err)
	}
	f.expect(200, `{"status":"ok"}`, "GET", "/healthz", "")
	f.expect(503, `{"error":{"code":"not_ready","message":"still loading"}}`, "GET", "/readyz", "")
	ready = nil
	f.expect(200, `{"status":"ready"}`, "GET", "/readyz", "")
	f.expect(404, "", "GET", "/metrics", "") // no metrics handler given
}

func TestAuthAndMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "spook_up 1\n") })
	f := start(t, Config{Token: "tok", Metrics: metrics})
	f.token = ""
	status, body, h := f.do("GET", "/v1/status", "")
	if status != 401 || !strings.Contains(body, `"code":"unauthorized"`) || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %s", status, body)
	}
	f.expect(401, "", "PUT", "/v1/kv/a", "x", "Authorization", "Bearer wrong")
	f.expect(401, "", "GET", "/v1/watch", "", "Authorization", "tok")
	f.expect(200, "", "PUT", "/v1/kv/a", "x", "Authorization", "Bearer tok")
	f.expect(200, `{"status":"ok"}`, "GET", "/healthz", "")
	f.expect(200, `{"status":"ready"}`, "GET", "/readyz", "")
	f.expect(200, "spook_up 1", "GET", "/metrics", "")
}

// sse reads Server-Sent Events from a response body.
type sse struct {
	r *bufio.Reader
}

// next returns the next event's name and data, skipping comments.
func (s *sse) next() (string, string, error) {
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if event != "" || data != "" {
				return event, data, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

func (f *fixture) watch(ctx context.Context, query string) (*sse, func()) {
	f.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.base+"/v1/watch"+query, nil)
	resp, err := (&http.Client{Transport: f.client.Transport}).Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		f.t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sse{bufio.NewReader(resp.Body)}, func() { resp.Body.Close() }
}

func TestWatch(t *testing.T) {
	f := start(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, closeBody := f.watch(ctx, "?prefix=user:")
	defer closeBody()
	f.expect(200, "", "PUT", "/v1/kv/other", "x")
	f.expect(200, "", "PUT", "/v1/kv/user:1", "x")
	f.expect(200, "", "POST", "/v1/txn", `[{"op":"sadd","key":"user:2","members":["m"]},{"op":"del","key":"user:1"}]`)
	want := []string{
		`change {"key":"user:1","type":"register","deleted":false,"origin":"n1","origin_id":"` + f.backend.ID().String() + `"}`,
		`change {"key":"user:1","type":"none","deleted":true,"origin":"n1","origin_id":"` + f.backend.ID().String() + `"}`,
		`change {"key":"user:2","type":"set","deleted":false,"origin":"n1","origin_id":"` + f.backend.ID().String() + `"}`,
	}
	for i, w := range want {
		ev, data, err := s.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got := ev + " " + data; got != w {
			t.Errorf("event %d: got %s, want %s", i, got, w)
		}
	}
}

func TestWatchOverflow(t *testing.T) {
	f := start(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A watcher that does not read falls behind: more changes than its
	// buffer plus what the socket buffers hold. Writes here are one
	// transaction each, made through the backend for speed.
	s, closeBody := f.watch(ctx, "")
	defer closeBody()
	n := WatchBuffer * 64
	for i := 0; i < n; i += 512 {
		_, err := f.backend.Update(ctx, func(tx *crdt.Builder) error {
			for j := i; j < i+512; j++ {
				if err := tx.Set([]byte("k"+itoa(uint64(j))), []byte(strings.Repeat("v", 8))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for {
		ev, data, err := s.next()
		if err != nil {
			t.Fatalf("stream ended without an overflow event: %v", err)
		}
		if ev == "overflow" {
			if !strings.Contains(data, api.ErrWatchOverflow.Error()) {
				t.Errorf("overflow data %s", data)
			}
			break
		}
	}
	if _, _, err := s.next(); err != io.EOF {
		t.Errorf("after overflow: %v", err)
	}
}

func TestShutdownEndsWatch(t *testing.T) {
	f := start(t, Config{})
	s, closeBody := f.watch(context.Background(), "")
	defer closeBody()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.server.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open watch: %v", err)
	}
	if _, _, err := s.next(); err == nil {
		t.Fatal("watch stream still open after Shutdown")
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tok := api.Token{}
	tok.Dot.Node, tok.Dot.Counter = 0xabc, 42
	got, err := parseToken(formatToken(tok))
	if err != nil || got != tok {
		t.Fatalf("%v → %q → %v (%v)", tok, formatToken(tok), got, err)
	}
	for _, bad := range []string{"", "x", "1:", ":1", "0:1", "1:0", "zz:1", "1:-1"} {
		if _, err := parseToken(bad); err == nil {
			t.Errorf("parseToken(%q) accepted", bad)
		}
	}
}

type adminBackend struct{ *apitest.Backend }

// Status adds a dead member and an alive one to the backend's own.
func (a adminBackend) Status() api.Status {
	st := a.Backend.Status()
	st.Members = append(st.Members,
		api.MemberStatus{ID: 7, Name: "dead", State: "unreachable"},
		api.MemberStatus{ID: 8, Name: "alive", State: "alive"})
	return st
}

func (a adminBackend) RemoveMember(ctx context.Context, name string) (api.Token, error) {
	if name != "dead" {
		return api.Token{}, errors.New("no member called " + name)
	}
	return a.Update(ctx, func(tx *crdt.Builder) error { return tx.Set([]byte("m"), []byte(name)) })
}

func TestRemoveMember(t *testing.T) {
	f := start(t, Config{})
	f.expect(501, `{"error":{"code":"not_supported","message":"this node does not accept operator actions"}}`, "DELETE", "/v1/members/dead", "")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ab := adminBackend{apitest.New("n2")}
	defer ab.Close()
	s := New(ab, Config{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	defer func() { s.Close(); <-done }()
	g := &fixture{t: t, base: "http://" + l.Addr().String(), client: f.client}
	g.expect(200, `{"token":"`+ab.ID().String()+`:1"}`, "DELETE", "/v1/members/dead", "")
	g.expect(500, `{"error":{"code":"internal","message":"no member called alive"}}`, "DELETE", "/v1/members/alive", "")
	// Removing this node itself, or a name no member has, is the
	// operator's mistake: 409 and 404, naming members by name.
	g.expect(409, `{"error":{"code":"is_self","message":"n2 is this node: a node does not remove itself, it leaves (POST /v1/leave on it, or spook member leave)"}}`, "DELETE", "/v1/members/n2", "")
	g.expect(404, `{"error":{"code":"no_member","message":"no member named \"nosuch\" (members: n2, dead, alive)"}}`, "DELETE", "/v1/members/nosuch", "")
	g.expect(405, "", "POST", "/v1/members/dead", "")
}

// leaverBackend leaves after its members acknowledge, or not.
type leaverBackend struct {
	*apitest.Backend
	pending []string
}

func (l leaverBackend) LeaveCluster(ctx context.Context) (api.Token, []string, []string, error) {
	if len(l.pending) > 0 {
		<-ctx.Done()
		return api.Token{Dot: causal.Dot{Node: l.ID(), Counter: 5}}, []string{"n2"}, l.pending, ctx.Err()
	}
	return api.Token{Dot: causal.Dot{Node: l.ID(), Counter: 5}}, []string{"n2", "n3"}, nil, nil
}

// TestLeaveEndpoint: POST /v1/leave answers 200 once the members have the
// departure, 202 with the pending members at its timeout, 501 on a
// backend that cannot leave.
func TestLeaveEndpoint(t *testing.T) {
	f := start(t, Config{})
	f.expect(501, `{"error":{"code":"not_supported","message":"this node cannot leave a cluster"}}`, "POST", "/v1/leave", "")
	serve := func(b api.Backend) *fixture {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := New(b, Config{})
		done := make(chan error, 1)
		go func() { done <- s.Serve(l) }()
		t.Cleanup(func() { s.Close(); <-done })
		return &fixture{t: t, base: "http://" + l.Addr().String(), client: f.client}
	}
	ok := leaverBackend{Backend: apitest.New("n1")}
	defer ok.Close()
	g := serve(ok)
	g.expect(200, `{"token":"`+ok.ID().String()+`:5","left":true,"acknowledged_by":["n2","n3"],"pending":[]}`, "POST", "/v1/leave", "")
	g.expect(405, "", "GET", "/v1/leave", "")
	g.expect(400, "", "POST", "/v1/leave?timeout_ms=x", "")
	slow := leaverBackend{Backend: apitest.New("n1"), pending: []string{"n3"}}
	defer slow.Close()
	h := serve(slow)
	h.expect(202, `{"token":"`+slow.ID().String()+`:5","left":false,"acknowledged_by":["n2"],"pending":["n3"]}`, "POST", "/v1/leave?timeout_ms=50", "")
}
