package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// Named limits of the text endpoints.
const (
	// MaxTextOps bounds the operations of one POST /v1/text request or
	// one WebSocket edit message; more are refused (400 / an error
	// message and the socket closed).
	MaxTextOps = 1024
	// MaxTextMessageBytes bounds one WebSocket message from a browser; a
	// larger one closes the socket (websocket status 1009).
	MaxTextMessageBytes = 1 << 20
	// MaxTextRevisions bounds the revisions a text WebSocket keeps to
	// transform a browser's edit over: the ones since the revision the
	// edit names. The oldest is dropped past it; an edit made on a
	// revision already dropped is refused with a "resync" error and the
	// socket closed (the page reconnects and reloads the document).
	MaxTextRevisions = 4096
	// TextWatchBuffer is the change buffer of one text WebSocket; a socket
	// further behind is closed the same way (the page reloads).
	TextWatchBuffer = 1 << 10
	// TextWriteTimeout bounds one write to a text WebSocket; a browser
	// that does not read for that long is dropped.
	TextWriteTimeout = 10 * time.Second
)

// textDoc is GET /v1/text/{key}'s answer and POST's (with the token).
type textDoc struct {
	Key    string `json:"key"`
	Text   string `json:"text"`
	Length int    `json:"length"` // code points
	Token  string `json:"token,omitempty"`
}

// getText is GET /v1/text/{key...}: the text as JSON, 404 when the key
// does not exist, 409 wrong_type when it holds another type. The same URL
// opened as a WebSocket streams the document (textSocket).
func (s *Server) getText(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if err := checkKey(key); err != nil {
		writeErr(w, err)
		return
	}
	if r.Header.Get("Upgrade") != "" {
		s.textSocket(w, r, key)
		return
	}
	var text []rune
	found := false
	err := s.backend.View(func(ks *crdt.Keyspace) error {
		var err error
		text, found, err = readText(liveValue(ks, key))
		return err
	})
	switch {
	case err != nil:
		writeErr(w, err)
	case !found:
		writeError(w, http.StatusNotFound, "not_found", "no such key")
	default:
		writeJSON(w, http.StatusOK, textDoc{Key: string(key), Text: string(text), Length: len(text)})
	}
}

// textEditBody is POST /v1/text/{key...}'s body.
type textEditBody struct {
	Ops []textOp `json:"ops"`
}

// postText is POST /v1/text/{key...} {"ops": [...]}: the inserts and
// deletes applied in order, atomically, as one transaction. It answers
// the resulting text and the transaction's token; an op out of range
// refuses the whole (400 bad_request), as does a key of another type
// (409 wrong_type).
func (s *Server) postText(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if err := checkKey(key); err != nil {
		writeErr(w, err)
		return
	}
	var body textEditBody
	if err := readJSON(w, r, &body); err != nil {
		writeErr(w, err)
		return
	}
	if len(body.Ops) > MaxTextOps {
		writeErr(w, badOp("%d operations; at most %d per request", len(body.Ops), MaxTextOps))
		return
	}
	var after []rune
	tok, err := s.backend.Update(r.Context(), func(b *crdt.Builder) error {
		cur, _, err := readText(b.Get(key))
		if err != nil {
			return err
		}
		if after, err = applyTextOps(cur, body.Ops); err != nil {
			return badOp("%v", err)
		}
		return editText(b, key, body.Ops)
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, textDoc{Key: string(key), Text: string(after), Length: len(after), Token: formatToken(tok)})
}

// Messages of the text WebSocket (JSON text messages). The node sends
// "doc" first (revision 0), then "change" for every change made
// elsewhere and "ack" for each "edit" of the browser it applied, each
// with the revision it makes; "error" before closing. The browser sends
// "edit" with the revision its edit was made on and waits for the ack
// before it sends the next.
//
// Presence (presence.go): the browser reports its cursor with "cursor"
// (anchor and head on revision rev, sent only while none of its edits
// awaits an ack) or inside an "edit" (anchor and head on the text after
// the edit), with the name and colour it shows for itself; the node sends
// "cursors", the other editors' cursors on revision rev, whenever they
// change.
type textMessage struct {
	Type    string        `json:"type"` // doc, change, ack, cursors, error; edit, cursor
	Rev     int           `json:"rev"`
	Text    string        `json:"text,omitempty"`    // doc
	Node    string        `json:"node,omitempty"`    // doc: this node's name
	Ops     []textOp      `json:"ops,omitempty"`     // change, edit
	Code    string        `json:"code,omitempty"`    // error
	Message string        `json:"message,omitempty"` // error
	Anchor  *int          `json:"anchor,omitempty"`  // cursor, edit: where the selection starts
	Head    *int          `json:"head,omitempty"`    // cursor, edit: where it ends (the caret)
	Name    string        `json:"name,omitempty"`    // cursor, edit
	Color   string        `json:"color,omitempty"`   // cursor, edit: #rrggbb
	Cursors *[]cursorView `json:"cursors,omitempty"` // cursors
}

// textSession is one text WebSocket's record of the browser's copy.
// Only the socket's goroutine touches it.
type textSession struct {
	s    *Server
	key  []byte
	conn *websocket.Conn
	// sent is the browser's copy once it has applied every message sent
	// so far, at revision rev.
	sent []rune
	rev  int
	// history holds the op lists of revisions base+1 … rev, the ones an
	// edit made on revision base or later must be transformed over.
	history [][]textOp
	base    int

	// Presence (presence.go): this socket's random id, its node's name,
	// the browser's cursor, the other editors' cursors by id, the list
	// last sent to the browser, and the announcements waiting.
	id          string
	node        string
	mine        myCursor
	remotes     map[string]*remoteCursor
	sentCursors []cursorView
	presence    chan presenceMsg
}

// errTextClosed ends a session after it told the browser why.
var errTextClosed = errors.New("httpapi: text socket closed")

// textSocket serves the text WebSocket of key (see textMessage). The
// upgrade accepts only this origin (the browser's Origin header must
// name this host), so another site cannot edit with the user's
// credentials.
func (s *Server) textSocket(w http.ResponseWriter, r *http.Request, key []byte) {
	if !s.startStream() {
		writeError(w, http.StatusServiceUnavailable, "stopped", "server shutting down")
		return
	}
	defer s.streams.Done()
	// Subscribe before the first read, so no change falls in between.
	sub := s.backend.Watch(key, TextWatchBuffer)
	defer sub.Close()
	if err := sub.Err(); err != nil {
		code := "stopped"
		if errors.Is(err, api.ErrTooManyWatchers) {
			code = "too_many_watchers"
		}
		writeError(w, http.StatusServiceUnavailable, code, err.Error())
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the request
	}
	conn.SetReadLimit(MaxTextMessageBytes)
	// The socket outlives the request's context, not its values: its
	// edits run as the request's user (api.WithUser).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	// The reader below ends when ctx does; wait for it, so the stream
	// counts as running until then.
	readerDone := make(chan struct{})
	defer func() { cancel(); conn.CloseNow(); <-readerDone }()

	edits := make(chan textMessage)
	go func() {
		defer close(readerDone)
		defer cancel()
		for {
			var m textMessage
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if err := json.Unmarshal(data, &m); err != nil || (m.Type != "edit" && m.Type != "cursor") {
				m = textMessage{Type: "bad", Message: fmt.Sprintf("not an edit or cursor message: %.100q", data)}
			}
			select {
			case edits <- m:
			case <-ctx.Done():
				return
			}
		}
	}()

	ts := &textSession{s: s, key: key, conn: conn, id: newPresenceID(), node: s.backend.Status().Name,
		remotes: map[string]*remoteCursor{}, presence: make(chan presenceMsg, PresenceBuffer)}
	s.presence.join(ts)
	defer func() {
		s.presence.leave(ts)
		if ts.mine.set {
			ts.announce(presenceMsg{ID: ts.id, Bye: true})
		}
	}()
	refresh := time.NewTicker(PresenceRefresh)
	defer refresh.Stop()
	err = ts.start(ctx)
	for err == nil {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return // CloseNow: the page reconnects elsewhere or later
		case ch, ok := <-sub.C():
			if !ok {
				err = ts.fail(ctx, "resync", "fell behind the document's changes; reload it")
				break
			}
			if string(ch.Key) == string(key) {
				err = ts.catchUp(ctx)
			}
		case m := <-edits:
			if m.Type == "cursor" {
				err = ts.cursor(ctx, m)
			} else {
				err = ts.edit(ctx, m)
			}
		case p := <-ts.presence:
			ts.hear(p, time.Now())
			err = ts.catchUp(ctx)
		case <-refresh.C:
			ts.expire(time.Now())
			ts.mine.changed = ts.mine.set // announce again, so it does not expire elsewhere
			err = ts.catchUp(ctx)
		}
	}
	if !errors.Is(err, errTextClosed) {
		conn.Close(websocket.StatusInternalError, "")
		return
	}
	conn.Close(websocket.StatusNormalClosure, "")
}

func (ts *textSession) send(ctx context.Context, m textMessage) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, TextWriteTimeout)
	defer cancel()
	return ts.conn.Write(ctx, websocket.MessageText, data)
}

// fail sends an error message; the session ends.
func (ts *textSession) fail(ctx context.Context, code, message string) error {
	ts.send(ctx, textMessage{Type: "error", Code: code, Message: message})
	return errTextClosed
}

// start sends the document.
func (ts *textSession) start(ctx context.Context) error {
	cur, err := ts.read()
	if err != nil {
		return ts.failWith(ctx, err)
	}
	ts.sent = cur
	return ts.send(ctx, textMessage{Type: "doc", Rev: 0, Text: string(cur), Node: ts.s.backend.Status().Name})
}

// failWith reports err as fail does, with the HTTP API's code for it.
func (ts *textSession) failWith(ctx context.Context, err error) error {
	ae := classify(err)
	return ts.fail(ctx, ae.code, ae.message)
}

func (ts *textSession) read() ([]rune, error) {
	var text []rune
	err := ts.s.backend.View(func(ks *crdt.Keyspace) error {
		var err error
		text, _, err = readText(liveValue(ks, ts.key))
		return err
	})
	return text, err
}

// record appends a revision, dropping the oldest past MaxTextRevisions.
func (ts *textSession) record(ops []textOp) {
	ts.history = append(ts.history, ops)
	ts.rev++
	if len(ts.history) > MaxTextRevisions {
		ts.history = ts.history[1:]
		ts.base++
	}
}

// catchUp sends the browser what changed since its copy, if anything,
// and the other editors' cursors if they moved; it announces the
// browser's cursor if that moved (presence.go).
func (ts *textSession) catchUp(ctx context.Context) error {
	var cur []rune
	var ops []textOp
	err := ts.s.backend.View(func(ks *crdt.Keyspace) error {
		v := liveValue(ks, ts.key)
		var err error
		if cur, _, err = readText(v); err != nil {
			return err
		}
		ops = diffText(ts.sent, cur)
		ts.resolvePresence(v, ops)
		return nil
	})
	if err != nil {
		return ts.failWith(ctx, err)
	}
	if len(ops) > 0 {
		ts.sent = cur
		ts.record(ops)
		if err := ts.send(ctx, textMessage{Type: "change", Rev: ts.rev, Ops: ops}); err != nil {
			return err
		}
	}
	if c := ts.cursors(); !slices.Equal(c, ts.sentCursors) {
		ts.sentCursors = c
		if err := ts.send(ctx, textMessage{Type: "cursors", Rev: ts.rev, Cursors: &c}); err != nil {
			return err
		}
	}
	if ts.mine.changed {
		ts.mine.changed = false
		ts.announce(ts.mine.sent)
	}
	return nil
}

// cursor takes the browser's cursor, made on revision m.Rev: moved over
// the revisions it had not seen, as its edits are. A malformed or stale
// one (from before the last edit) is ignored.
func (ts *textSession) cursor(ctx context.Context, m textMessage) error {
	if m.Anchor == nil || m.Head == nil || m.Rev > ts.rev || m.Rev < ts.base {
		return nil
	}
	a, h := *m.Anchor, *m.Head
	for _, ops := range ts.history[m.Rev-ts.base:] {
		a, h = movePos(a, ops), movePos(h, ops)
	}
	ts.setCursor(a, h, m.Name, m.Color)
	return ts.catchUp(ctx)
}

// edit applies one browser edit: transformed over the revisions the
// browser had not seen, then over what changed in the node since the
// last message (the node's text first at a tie, as the browser assumes),
// written in one transaction, and acknowledged.
func (ts *textSession) edit(ctx context.Context, m textMessage) error {
	switch {
	case m.Type != "edit":
		return ts.fail(ctx, "bad_request", m.Message)
	case len(m.Ops) > MaxTextOps:
		return ts.fail(ctx, "bad_request", fmt.Sprintf("%d operations; at most %d per edit", len(m.Ops), MaxTextOps))
	case m.Rev > ts.rev:
		return ts.fail(ctx, "bad_request", fmt.Sprintf("edit on revision %d; this socket is at %d", m.Rev, ts.rev))
	case m.Rev < ts.base:
		return ts.fail(ctx, "resync", fmt.Sprintf("edit on revision %d, before the oldest this socket keeps (%d); reload the document", m.Rev, ts.base))
	}
	ops := m.Ops
	var anchor, head int
	withCursor := m.Anchor != nil && m.Head != nil
	if withCursor {
		anchor, head = *m.Anchor, *m.Head
	}
	for _, h := range ts.history[m.Rev-ts.base:] {
		var moved []textOp
		ops, moved = transformText(ops, h, false)
		anchor, head = movePos(anchor, moved), movePos(head, moved)
	}
	// The browser sends its next edit only after this one's ack, on a
	// revision no older than m.Rev: the revisions before it are done.
	ts.history = slices.Clone(ts.history[m.Rev-ts.base:])
	ts.base = m.Rev
	next, err := applyTextOps(ts.sent, ops)
	if err != nil {
		return ts.fail(ctx, "bad_request", err.Error())
	}
	_, err = ts.s.backend.Update(ctx, func(b *crdt.Builder) error {
		cur, _, err := readText(b.Get(ts.key))
		if err != nil {
			return err
		}
		here, _ := transformText(ops, diffText(ts.sent, cur), false)
		return editText(b, ts.key, here)
	})
	if err != nil {
		return ts.failWith(ctx, err)
	}
	ts.sent = next
	ts.record(ops)
	if withCursor {
		ts.setCursor(anchor, head, m.Name, m.Color)
	}
	if err := ts.send(ctx, textMessage{Type: "ack", Rev: ts.rev}); err != nil {
		return err
	}
	return ts.catchUp(ctx)
}

// editText applies ops to the text at key in b.
func editText(b *crdt.Builder, key []byte, ops []textOp) error {
	for _, o := range ops {
		var err error
		if o.isInsert() {
			err = insertText(b, key, o.Pos, o.Insert)
		} else {
			err = deleteText(b, key, o.Pos, o.Delete)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
