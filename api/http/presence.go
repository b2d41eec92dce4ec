package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/seq"
)

// Presence: where the other editors of a document are. Every text
// WebSocket whose browser reported a cursor announces it to the other
// sockets of the same key: on this node directly, on the other members
// as a cluster-wide PUBLISH (api.Publisher) on the internal channel
// PresenceChannelPrefix+key, which the node hands to DeliverPublished
// instead of its RESP subscribers. Presence is not replicated state: an
// announcement is sent at most once, may be lost, and is repeated every
// PresenceRefresh while the socket is open; a cursor not heard of for
// PresenceTTL is dropped, and a socket that closes says so at once.
//
// A cursor travels as the identities of the characters it follows
// (crdt's Value.TextID; the zero ID for the start of the text), not as
// offsets: each receiving socket maps them back with Value.TextPosition
// on its own copy, so a cursor stays after its character whatever edits
// arrive meanwhile, on any node, in any order. While that character is
// not known yet (its insert has not arrived) the cursor is not shown;
// once it is deleted the cursor keeps its last position, moved over later
// changes as if it still followed that character (stickyPos).
const (
	// MaxTextPresence bounds the other editors' cursors one text socket
	// tracks (per document, as every socket of a key hears the same
	// ones). Announcements of further editors are ignored until some
	// expire or leave.
	MaxTextPresence = 32
	// PresenceTTL is how long a cursor stays without a new announcement.
	PresenceTTL = 5 * time.Second
	// PresenceRefresh is how often a socket repeats its cursor's
	// announcement, and checks the cursors it tracks for expiry.
	PresenceRefresh = time.Second
	// MaxPresenceNameBytes bounds an editor's name; a longer one is cut
	// (at a code point boundary).
	MaxPresenceNameBytes = 64
	// MaxPresenceIDBytes bounds an announcement's id; one with a longer
	// id (none this package sends) is ignored.
	MaxPresenceIDBytes = 64
	// PresenceBuffer is the announcements waiting for one socket; further
	// ones are dropped (the next refresh repeats them).
	PresenceBuffer = 64
)

// PresenceChannelPrefix starts the internal PUBLISH channel of a text
// key's presence (the key follows). The node delivers messages on it to
// DeliverPublished rather than to RESP subscribers.
const PresenceChannelPrefix = ReservedPrefix + "presence/"

// defaultPresenceColor is an editor's colour when its page names none
// that is valid.
const defaultPresenceColor = "#58a6ff"

var presenceColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// textAnchor is a cursor end on the wire between nodes: the identity of
// the code point before it (crdt Value.TextID), absent for the start.
type textAnchor struct {
	Node    uint64 `json:"n"`
	Counter uint64 `json:"c"`
	Offset  uint64 `json:"o"`
}

func anchorOf(id seq.ID) *textAnchor {
	if id.IsZero() {
		return nil
	}
	return &textAnchor{id.Node, id.Counter, id.Offset}
}

func (a *textAnchor) id() seq.ID {
	if a == nil {
		return seq.ID{}
	}
	return seq.ID{Node: a.Node, Counter: a.Counter, Offset: a.Offset}
}

// presenceMsg is one announcement: a socket's cursor, or its leaving.
type presenceMsg struct {
	ID     string      `json:"id"` // the announcing socket's, random
	Node   string      `json:"node,omitempty"`
	Name   string      `json:"name,omitempty"`
	Color  string      `json:"color,omitempty"`
	Anchor *textAnchor `json:"anchor,omitempty"`
	Head   *textAnchor `json:"head,omitempty"`
	Bye    bool        `json:"bye,omitempty"`
}

// cursorView is an editor's cursor as a text socket sends it to its
// browser: positions in code points on the socket's revision.
type cursorView struct {
	ID     string `json:"id"`
	Node   string `json:"node"`
	Name   string `json:"name"`
	Color  string `json:"color"`
	Anchor int    `json:"anchor"`
	Head   int    `json:"head"`
}

// presenceHub finds the text sockets of a key on this server.
type presenceHub struct {
	mu   sync.Mutex
	docs map[string]map[*textSession]struct{}
}

func (h *presenceHub) join(ts *textSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.docs == nil {
		h.docs = map[string]map[*textSession]struct{}{}
	}
	k := string(ts.key)
	if h.docs[k] == nil {
		h.docs[k] = map[*textSession]struct{}{}
	}
	h.docs[k][ts] = struct{}{}
}

func (h *presenceHub) leave(ts *textSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := string(ts.key)
	delete(h.docs[k], ts)
	if len(h.docs[k]) == 0 {
		delete(h.docs, k)
	}
}

// deliver hands m to the sockets of key but from, without blocking: a
// socket whose buffer is full misses it.
func (h *presenceHub) deliver(key string, m presenceMsg, from *textSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ts := range h.docs[key] {
		if ts == from {
			continue
		}
		select {
		case ts.presence <- m:
		default:
		}
	}
}

// DeliverPublished takes a message PUBLISHed on another member. It
// reports whether the channel is a presence channel (the message is then
// this server's: the caller gives it to no one else).
func (s *Server) DeliverPublished(channel, message []byte) bool {
	key, ok := bytes.CutPrefix(channel, []byte(PresenceChannelPrefix))
	if !ok {
		return false
	}
	var m presenceMsg
	if json.Unmarshal(message, &m) == nil && m.ID != "" && len(m.ID) <= MaxPresenceIDBytes {
		s.presence.deliver(string(key), m, nil)
	}
	return true
}

// announce sends m to the key's other sockets here and on the other
// members.
func (ts *textSession) announce(m presenceMsg) {
	ts.s.presence.deliver(string(ts.key), m, ts)
	p, ok := ts.s.backend.(api.Publisher)
	if !ok {
		return
	}
	data, err := json.Marshal(m)
	if err != nil {
		return
	}
	p.Publish(append([]byte(PresenceChannelPrefix), ts.key...), data)
}

// myCursor is the browser's cursor, on ts.sent.
type myCursor struct {
	set          bool
	name, color  string
	anchor, head int
	// sent is what was last announced; changed is set when it may differ.
	sent    presenceMsg
	changed bool
}

// remoteCursor is another editor's cursor as this socket tracks it.
type remoteCursor struct {
	msg  presenceMsg
	seen time.Time
	// anchor and head are its positions on ts.sent; -1 before its
	// characters are known here.
	anchor, head int
}

func newPresenceID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cleanName cuts name (an editor's or a node's) to MaxPresenceNameBytes
// and drops control characters.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for len(name) > MaxPresenceNameBytes {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

// setCursor records the browser's cursor (positions on ts.sent) and its
// name and colour.
func (ts *textSession) setCursor(anchor, head int, name, color string) {
	n := len(ts.sent)
	ts.mine.set = true
	ts.mine.anchor, ts.mine.head = min(max(anchor, 0), n), min(max(head, 0), n)
	ts.mine.name = cleanName(name)
	if !presenceColor.MatchString(color) {
		color = defaultPresenceColor
	}
	ts.mine.color = color
	ts.mine.changed = true
}

// movePos moves a cursor position over ops as the browser moves its own
// (editor.js movePos): an insert at or before it pushes it right, a
// delete around it pulls it to the delete.
func movePos(x int, ops []textOp) int {
	for _, o := range ops {
		switch {
		case o.isInsert():
			if o.Pos <= x {
				x += o.size()
			}
		case x > o.Pos:
			x = max(o.Pos, x-o.Delete)
		}
	}
	return x
}

// stickyPos moves another editor's cursor position over ops as its
// character identity would: it stays after the character before it, so
// text inserted right at it goes after it (movePos pushes it instead).
func stickyPos(x int, ops []textOp) int {
	for _, o := range ops {
		switch {
		case o.isInsert():
			if o.Pos < x {
				x += o.size()
			}
		case x > o.Pos:
			x = max(o.Pos, x-o.Delete)
		}
	}
	return x
}

// idBefore is the identity of the code point before position pos of v
// (the zero ID at the start).
func idBefore(v *crdt.Value, pos int) seq.ID {
	if v == nil || pos <= 0 {
		return seq.ID{}
	}
	id, _ := v.TextID(pos - 1)
	return id
}

// positionAfter maps an anchor back: the position after its code point
// in v, 0 for the start, -1 when v does not hold it or it is deleted.
func positionAfter(v *crdt.Value, a *textAnchor) int {
	if a == nil {
		return 0
	}
	if v == nil {
		return -1
	}
	p := v.TextPosition(a.id())
	if p < 0 {
		return -1
	}
	return p + 1
}

// hear records another editor's announcement.
func (ts *textSession) hear(m presenceMsg, now time.Time) {
	if m.Bye {
		delete(ts.remotes, m.ID)
		return
	}
	r := ts.remotes[m.ID]
	if r == nil {
		if len(ts.remotes) >= MaxTextPresence {
			return
		}
		r = &remoteCursor{anchor: -1, head: -1}
		ts.remotes[m.ID] = r
	}
	m.Name, m.Node = cleanName(m.Name), cleanName(m.Node)
	if !presenceColor.MatchString(m.Color) {
		m.Color = defaultPresenceColor
	}
	r.msg, r.seen = m, now
}

// expire drops the cursors not heard of for PresenceTTL.
func (ts *textSession) expire(now time.Time) {
	for id, r := range ts.remotes {
		if now.Sub(r.seen) > PresenceTTL {
			delete(ts.remotes, id)
		}
	}
}

// resolvePresence runs inside the view that read cur (v's text) and
// moved ts.sent's positions over ops (ts.sent → cur): it maps the other
// editors' cursors to positions on cur and this browser's cursor to
// identities in v.
func (ts *textSession) resolvePresence(v *crdt.Value, ops []textOp) {
	for _, r := range ts.remotes {
		a, h := positionAfter(v, r.msg.Anchor), positionAfter(v, r.msg.Head)
		if a < 0 && r.anchor >= 0 {
			a = stickyPos(r.anchor, ops)
		}
		if h < 0 && r.head >= 0 {
			h = stickyPos(r.head, ops)
		}
		r.anchor, r.head = a, h
	}
	if !ts.mine.set {
		return
	}
	ts.mine.anchor, ts.mine.head = movePos(ts.mine.anchor, ops), movePos(ts.mine.head, ops)
	m := presenceMsg{ID: ts.id, Node: ts.node, Name: ts.mine.name, Color: ts.mine.color,
		Anchor: anchorOf(idBefore(v, ts.mine.anchor)), Head: anchorOf(idBefore(v, ts.mine.head))}
	if !presenceEqual(m, ts.mine.sent) {
		ts.mine.sent, ts.mine.changed = m, true
	}
}

func presenceEqual(a, b presenceMsg) bool {
	eq := func(x, y *textAnchor) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.ID == b.ID && a.Name == b.Name && a.Color == b.Color && eq(a.Anchor, b.Anchor) && eq(a.Head, b.Head)
}

// cursors is the cursors message for the browser: the other editors
// whose characters are known here, in a stable order.
func (ts *textSession) cursors() []cursorView {
	out := make([]cursorView, 0, len(ts.remotes))
	for id, r := range ts.remotes {
		if r.anchor < 0 || r.head < 0 {
			continue
		}
		out = append(out, cursorView{ID: id, Node: r.msg.Node, Name: r.msg.Name, Color: r.msg.Color,
			Anchor: min(r.anchor, len(ts.sent)), Head: min(r.head, len(ts.sent))})
	}
	slices.SortFunc(out, func(a, b cursorView) int { return strings.Compare(a.ID, b.ID) })
	return out
}
