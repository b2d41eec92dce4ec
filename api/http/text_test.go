package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestTextOverHTTP(t *testing.T) {
	f := start(t, Config{Token: "tok"})
	if code, _, _ := f.do("GET", "/v1/text/doc", ""); code != http.StatusNotFound {
		t.Fatalf("GET absent text: %d, want 404", code)
	}
	code, body, _ := f.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":"héllo"},{"pos":5,"insert":" wörld"},{"pos":0,"delete":1}]}`)
	if code != http.StatusOK || !strings.Contains(body, `"text":"éllo wörld"`) || !strings.Contains(body, `"length":10`) || !strings.Contains(body, `"token":"`) {
		t.Fatalf("POST ops: %d %s", code, body)
	}
	code, body, _ = f.do("GET", "/v1/text/doc", "")
	if code != http.StatusOK || !strings.Contains(body, `"text":"éllo wörld"`) {
		t.Fatalf("GET: %d %s", code, body)
	}
	// /v1/kv reads a text too: its characters, or a document of type text.
	code, body, h := f.do("GET", "/v1/kv/doc", "")
	if code != http.StatusOK || body != "éllo wörld" || h.Get("Spook-Type") != "text" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /v1/kv of a text: %d %q, Spook-Type %q, Content-Type %q", code, body, h.Get("Spook-Type"), h.Get("Content-Type"))
	}
	if _, body, _ := f.do("GET", "/v1/kv/doc", "", "Accept", "application/json"); !strings.Contains(body, `"type":"text","value":"éllo wörld"`) {
		t.Errorf("GET /v1/kv of a text as JSON: %s", body)
	}
	for _, c := range []struct {
		body string
		code int
	}{
		{`{"ops":[{"pos":11,"insert":"x"}]}`, http.StatusBadRequest},                      // past the end
		{`{"ops":[{"pos":0,"delete":11}]}`, http.StatusBadRequest},                        // longer than the text
		{`{"ops":[{"pos":0}]}`, http.StatusBadRequest},                                    // neither insert nor delete
		{`{"ops":[{"pos":0,"insert":"x"},{"pos":99,"delete":1}]}`, http.StatusBadRequest}, // all or nothing
		{`{"ops":[], "extra":1}`, http.StatusBadRequest},
	} {
		if code, body, _ := f.do("POST", "/v1/text/doc", c.body); code != c.code {
			t.Errorf("POST %s: %d %s, want %d", c.body, code, body, c.code)
		}
	}
	if _, body, _ := f.do("GET", "/v1/text/doc", ""); !strings.Contains(body, `"text":"éllo wörld"`) {
		t.Errorf("a refused POST changed the text: %s", body)
	}
	f.do("PUT", "/v1/kv/reg", "v")
	if code, body, _ := f.do("POST", "/v1/text/reg", `{"ops":[{"pos":0,"insert":"x"}]}`); code != http.StatusConflict || !strings.Contains(body, "wrong_type") {
		t.Errorf("POST text on a register: %d %s, want 409 wrong_type", code, body)
	}
	if code, _, _ := f.do("POST", "/v1/text/doc", `{"ops":[]}`, "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST with a wrong token: %d, want 401", code)
	}
}

// socket is a test client of the text WebSocket.
type socket struct {
	t *testing.T
	c *websocket.Conn
}

func dialText(t *testing.T, f *fixture, path string, header http.Header) (*socket, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.base, "http")+path, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return &socket{t, c}, resp, nil
}

func (s *socket) read() textMessage {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := s.c.Read(ctx)
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	var m textMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.t.Fatalf("message %q: %v", data, err)
	}
	return m
}

func (s *socket) edit(rev int, ops ...textOp) {
	s.t.Helper()
	data, _ := json.Marshal(textMessage{Type: "edit", Rev: rev, Ops: ops})
	if err := s.c.Write(context.Background(), websocket.MessageText, data); err != nil {
		s.t.Fatal(err)
	}
}

// TestTextSocketTransformsStaleEdits: the socket sends the document, then
// changes made elsewhere; an edit made before the browser saw a change is
// moved over it.
func TestTextSocketTransformsStaleEdits(t *testing.T) {
	f := start(t, Config{Token: "tok"})
	ws, _, err := dialText(t, f, "/v1/text/doc", http.Header{"Authorization": {"Bearer tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := ws.read(); m.Type != "doc" || m.Rev != 0 || m.Text != "" || m.Node != "n1" {
		t.Fatalf("first message %+v, want the empty doc at revision 0 from n1", m)
	}
	ws.edit(0, textOp{Pos: 0, Insert: "hello"})
	if m := ws.read(); m.Type != "ack" || m.Rev != 1 {
		t.Fatalf("after an edit: %+v, want ack of revision 1", m)
	}
	f.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":"X"}]}`)
	if m := ws.read(); m.Type != "change" || m.Rev != 2 || len(m.Ops) != 1 || m.Ops[0] != (textOp{Pos: 0, Insert: "X"}) {
		t.Fatalf("after a POST: %+v, want the change at revision 2", m)
	}
	ws.edit(1, textOp{Pos: 5, Insert: "!"}) // made on "hello", before X arrived
	if m := ws.read(); m.Type != "ack" || m.Rev != 3 {
		t.Fatalf("after a stale edit: %+v, want ack of revision 3", m)
	}
	if _, body, _ := f.do("GET", "/v1/text/doc", ""); !strings.Contains(body, `"text":"Xhello!"`) {
		t.Fatalf("text %s, want Xhello!", body)
	}
	ws.edit(0, textOp{Pos: 0, Insert: "?"}) // before the last edit's revision: dropped
	if m := ws.read(); m.Type != "error" || m.Code != "resync" {
		t.Fatalf("edit on a revision already dropped: %+v, want a resync error", m)
	}
}

// TestTextSocketRefusals: the socket needs the token and this origin, and
// refuses a key of another type.
func TestTextSocketRefusals(t *testing.T) {
	f := start(t, Config{Token: "tok"})
	if _, resp, err := dialText(t, f, "/v1/text/doc", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %v, want 401", err)
	}
	h := http.Header{"Authorization": {"Bearer tok"}, "Origin": {"http://elsewhere.example"}}
	if _, resp, err := dialText(t, f, "/v1/text/doc", h); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("from another origin: %v, want 403", err)
	}
	f.do("PUT", "/v1/kv/reg", "v")
	ws, _, err := dialText(t, f, "/v1/text/reg", http.Header{"Authorization": {"Bearer tok"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := ws.read(); m.Type != "error" || m.Code != "wrong_type" {
		t.Errorf("a register: %+v, want a wrong_type error", m)
	}
}
