package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/spooksystems/spook/api/apitest"
	"github.com/spooksystems/spook/crdt"
)

// cursorMsg sends a cursor message on the socket.
func (s *socket) cursor(rev, anchor, head int, name string) {
	s.t.Helper()
	data, _ := json.Marshal(textMessage{Type: "cursor", Rev: rev, Anchor: &anchor, Head: &head, Name: name, Color: "#ff0000"})
	if err := s.c.Write(context.Background(), websocket.MessageText, data); err != nil {
		s.t.Fatal(err)
	}
}

// editWithCursor sends an edit whose caret ends at pos.
func (s *socket) editWithCursor(rev, pos int, name string, ops ...textOp) {
	s.t.Helper()
	data, _ := json.Marshal(textMessage{Type: "edit", Rev: rev, Ops: ops, Anchor: &pos, Head: &pos, Name: name, Color: "#00ff00"})
	if err := s.c.Write(context.Background(), websocket.MessageText, data); err != nil {
		s.t.Fatal(err)
	}
}

// nextCursors reads messages until a cursors message that pass accepts;
// it fails after 5 s.
func (s *socket) nextCursors(what string, pass func([]cursorView) bool) []cursorView {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var last []cursorView
	for time.Now().Before(deadline) {
		m := s.read()
		if m.Type == "error" {
			s.t.Fatalf("%s: error %+v", what, m)
		}
		if m.Type != "cursors" || m.Cursors == nil {
			continue
		}
		last = *m.Cursors
		if pass(last) {
			return last
		}
	}
	s.t.Fatalf("%s: not seen within 5s; last cursors %+v", what, last)
	return nil
}

// named is the cursor of the editor called name in c, or nil.
func named(c []cursorView, name string) *cursorView {
	for i := range c {
		if c[i].Name == name {
			return &c[i]
		}
	}
	return nil
}

func one(name string, anchor, head int) func([]cursorView) bool {
	return func(c []cursorView) bool {
		return len(c) == 1 && c[0].Name == name && c[0].Anchor == anchor && c[0].Head == head
	}
}

// TestPresenceOnOneNode: a socket's cursor reaches the other socket of
// the key, stays after its character when text is inserted before it,
// and goes when its socket closes.
func TestPresenceOnOneNode(t *testing.T) {
	f := start(t, Config{Token: "tok"})
	f.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":"hello world"}]}`)
	h := http.Header{"Authorization": {"Bearer tok"}}
	alice, _, err := dialText(t, f, "/v1/text/doc", h)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := dialText(t, f, "/v1/text/doc", h)
	if err != nil {
		t.Fatal(err)
	}
	alice.read() // doc
	bob.read()
	alice.cursor(0, 5, 5, "Alice")
	got := bob.nextCursors("Alice's caret after hello", one("Alice", 5, 5))
	if got[0].Color != "#ff0000" || got[0].Node != "n1" || got[0].ID == "" {
		t.Errorf("cursor %+v, want Alice's colour, node n1 and an id", got[0])
	}
	f.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":">> "}]}`)
	bob.nextCursors("Alice's caret moved with its character", one("Alice", 8, 8))
	// Text typed right after the caret's character leaves it in place.
	f.do("POST", "/v1/text/doc", `{"ops":[{"pos":8,"insert":"!!"}]}`)
	// A selection from Bob reaches Alice with its two ends.
	bob.cursor(1, 0, 3, "Bob") // on revision 1, ">> hello world"
	alice.nextCursors("Bob's selection", one("Bob", 0, 3))
	// Alice types inside her line with the caret in the edit.
	alice.editWithCursor(0, 6, "Alice", textOp{Pos: 5, Insert: "X"})
	bob.nextCursors("Alice's caret after her edit", one("Alice", 11, 11))
	alice.c.Close(websocket.StatusNormalClosure, "")
	bob.nextCursors("Alice gone once her socket closed", func(c []cursorView) bool { return len(c) == 0 })
}

// publishBackend is apitest's backend with api.Publisher wired to
// another server's DeliverPublished, as two nodes over one keyspace.
type publishBackend struct {
	*apitest.Backend
	to      **Server
	channel chan string
}

func (p publishBackend) Publish(channel, message []byte) {
	select {
	case p.channel <- string(channel):
	default:
	}
	(*p.to).DeliverPublished(channel, message)
}

func (p publishBackend) SetPublishHandler(func(channel, message []byte)) {}

// TestPresenceAcrossServers: presence travels between servers as a
// PUBLISH on the key's presence channel, by character identity: an
// announcement naming a character this server does not hold is not
// shown, one naming a character it holds is shown after it.
func TestPresenceAcrossServers(t *testing.T) {
	b := apitest.New("n1")
	defer b.Close()
	var s1, s2 *Server
	published := make(chan string, 16)
	s1 = New(publishBackend{b, &s2, published}, Config{})
	s2 = New(publishBackend{b, &s1, published}, Config{})
	f1, f2 := serve(t, s1), serve(t, s2)
	f1.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":"abcdef"}]}`)
	alice, _, err := dialText(t, f1, "/v1/text/doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := dialText(t, f2, "/v1/text/doc", nil)
	if err != nil {
		t.Fatal(err)
	}
	alice.read()
	bob.read()
	alice.cursor(0, 2, 2, "Alice")
	bob.nextCursors("Alice's caret on the other server", one("Alice", 2, 2))
	if ch := <-published; ch != PresenceChannelPrefix+"doc" {
		t.Errorf("published on %q, want %q", ch, PresenceChannelPrefix+"doc")
	}

	// An announcement from a third editor whose character has not
	// arrived stays hidden; one naming "e" is shown after it.
	var e textAnchor
	b.View(func(ks *crdt.Keyspace) error {
		id, _ := ks.Get([]byte("doc")).TextID(4)
		e = *anchorOf(id)
		return nil
	})
	unknown := e
	unknown.Counter += 1000
	for _, m := range []presenceMsg{
		{ID: "carol", Name: "Carol", Anchor: &unknown, Head: &unknown},
		{ID: strings.Repeat("x", MaxPresenceIDBytes+1), Name: "Eve", Anchor: &e, Head: &e}, // an id too long
		{ID: "dave", Node: "n\x002", Name: "Dave", Anchor: &e, Head: &e},
	} {
		data, _ := json.Marshal(m)
		if !s2.DeliverPublished([]byte(PresenceChannelPrefix+"doc"), data) {
			t.Fatal("DeliverPublished did not take a presence channel")
		}
	}
	// Cursors come sorted by id, and Alice's is random: find by name.
	bob.nextCursors("Dave shown, Carol not", func(c []cursorView) bool {
		a, d := named(c, "Alice"), named(c, "Dave")
		return len(c) == 2 && a != nil && d != nil && d.Anchor == 5 && d.Color == defaultPresenceColor && d.Node == "n2"
	})
	// Dave's character deleted: his caret keeps its place, and stays
	// before text then typed there, as it would after its character.
	f1.do("POST", "/v1/text/doc", `{"ops":[{"pos":4,"delete":1}]}`)
	bob.nextCursors("Dave's caret where his deleted character was", func(c []cursorView) bool {
		d := named(c, "Dave")
		return len(c) == 2 && d != nil && d.Anchor == 4
	})
	f1.do("POST", "/v1/text/doc", `{"ops":[{"pos":4,"insert":"ZZ"}]}`)
	f1.do("POST", "/v1/text/doc", `{"ops":[{"pos":0,"insert":"<"}]}`)
	bob.nextCursors("Dave's caret before the text typed at it", func(c []cursorView) bool {
		a, d := named(c, "Alice"), named(c, "Dave")
		return len(c) == 2 && a != nil && a.Anchor == 3 && d != nil && d.Anchor == 5
	})
	if s2.DeliverPublished([]byte("news"), []byte("x")) {
		t.Error("DeliverPublished took a client channel")
	}
}

// serve runs s on a loopback port until the test ends.
func serve(t *testing.T, s *Server) *fixture {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	tr := &http.Transport{}
	f := &fixture{t: t, base: "http://" + l.Addr().String(), server: s, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
	})
	return f
}

// TestPresenceExpires: a cursor not announced again for PresenceTTL is
// dropped.
func TestPresenceExpires(t *testing.T) {
	ts := &textSession{remotes: map[string]*remoteCursor{}}
	now := time.Now()
	for i := range MaxTextPresence + 3 {
		ts.hear(presenceMsg{ID: string(rune('A' + i)), Name: "x", Color: "red"}, now)
	}
	if len(ts.remotes) != MaxTextPresence {
		t.Fatalf("%d cursors tracked, want MaxTextPresence (%d)", len(ts.remotes), MaxTextPresence)
	}
	if ts.remotes["A"].msg.Color != defaultPresenceColor {
		t.Errorf("colour %q kept, want the default for an invalid one", ts.remotes["A"].msg.Color)
	}
	ts.hear(presenceMsg{ID: "A"}, now.Add(PresenceTTL))
	ts.expire(now.Add(PresenceTTL + time.Millisecond))
	if len(ts.remotes) != 1 || ts.remotes["A"] == nil {
		t.Fatalf("after the TTL: %d cursors, want only the one announced again", len(ts.remotes))
	}
	ts.hear(presenceMsg{ID: "A", Bye: true}, now)
	if len(ts.remotes) != 0 {
		t.Fatal("a bye left the cursor")
	}
	if got := cleanName("\x00\n" + strings.Repeat("é", 40)); got != strings.Repeat("é", MaxPresenceNameBytes/2) {
		t.Errorf("cleanName kept %q, want control characters dropped and %d bytes", got, MaxPresenceNameBytes)
	}
}

// TestStickyPos: the cases test/browser checks editor.js's stickyPos on.
func TestStickyPos(t *testing.T) {
	for _, c := range []struct {
		x    int
		op   textOp
		want int
	}{
		{5, textOp{Pos: 5, Insert: "ab"}, 5},
		{5, textOp{Pos: 4, Insert: "a"}, 6},
		{5, textOp{Pos: 3, Delete: 4}, 3},
		{0, textOp{Pos: 0, Insert: "a"}, 0},
	} {
		if got := stickyPos(c.x, []textOp{c.op}); got != c.want {
			t.Errorf("stickyPos(%d, %+v) = %d, want %d", c.x, c.op, got, c.want)
		}
	}
}
