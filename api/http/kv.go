package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

func isReserved(key []byte) bool { return bytes.HasPrefix(key, []byte(ReservedPrefix)) }

// checkKey refuses a key a write may not touch.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return errEmptyKey
	case isReserved(key):
		return errReserved
	case len(key) > crdt.MaxKeyBytes:
		return newError(http.StatusBadRequest, "key_too_long", fmt.Sprintf("key longer than %d bytes", crdt.MaxKeyBytes))
	}
	return nil
}

// formatToken prints a token as "<node hex>:<counter>"; "" for none.
func formatToken(t api.Token) string {
	if t.IsZero() {
		return ""
	}
	return t.Dot.String()
}

// parseToken reads a token printed by formatToken.
func parseToken(s string) (api.Token, error) {
	node, counter, ok := strings.Cut(s, ":")
	n, err1 := strconv.ParseUint(node, 16, 64)
	c, err2 := strconv.ParseUint(counter, 10, 64)
	if !ok || err1 != nil || err2 != nil || n == 0 || c == 0 {
		return api.Token{}, newError(http.StatusBadRequest, "bad_token", fmt.Sprintf("token %q is not <node hex>:<counter>", s))
	}
	return api.Token{Dot: causal.Dot{Node: causal.NodeID(n), Counter: c}}, nil
}

// typeName is the HTTP API's name of a value's type.
func typeName(t crdt.Type) string {
	switch t {
	case crdt.TypeRegister:
		return "register"
	case crdt.TypeCounter:
		return "counter"
	case crdt.TypeSet:
		return "set"
	case crdt.TypeMap:
		return "map"
	case crdt.TypeZSet:
		return "zset"
	case crdt.TypeText:
		return "text"
	case crdt.TypeStream:
		return "stream" // the type only: streams are read over RESP
	case crdt.TypeList:
		return "list" // the type only: lists are read over RESP
	case crdt.TypeBCounter:
		return "bcounter" // the type only: bounded counters are read over RESP
	}
	return "none"
}

// keyDoc is the JSON form of one key. Byte strings are text when every one
// of them is valid UTF-8; otherwise all are base64 and Encoding says so.
type keyDoc struct {
	Key      string         `json:"key"`
	Type     string         `json:"type"`
	Encoding string         `json:"encoding,omitempty"`
	Value    any            `json:"value,omitempty"`    // register, text: string; counter: number
	Siblings []string       `json:"siblings,omitempty"` // register with concurrent values
	Members  []string       `json:"members,omitempty"`  // set
	Fields   map[string]any `json:"fields,omitempty"`   // map: string or number
	// ZSet is a sorted set's members in rank order.
	ZSet []zsetDoc `json:"zset,omitempty"`
	// DeadlineMs is the key's expiry deadline in hybrid-clock ms since
	// the epoch (Redis PEXPIRETIME), absent without one.
	DeadlineMs uint64 `json:"deadline_ms,omitempty"`
}

// zsetDoc is one sorted-set member: its score is a JSON number, or the
// string "inf" or "-inf".
type zsetDoc struct {
	Member string `json:"member"`
	Score  any    `json:"score"`
}

// docOf builds the document of key holding v. It copies every byte it
// keeps, so it may run inside View.
func docOf(key []byte, v *crdt.Value) keyDoc {
	// First pass: is every byte string valid UTF-8?
	text := utf8.Valid(key)
	check := func(b []byte) bool { text = text && utf8.Valid(b); return text }
	switch v.Type() {
	case crdt.TypeRegister:
		for _, s := range v.Siblings() {
			check(s.Value)
		}
	case crdt.TypeSet:
		v.Members(check)
	case crdt.TypeZSet:
		v.ZAscend(0, func(m []byte, _ float64) bool { return check(m) })
	case crdt.TypeMap:
		v.Fields(func(name []byte, f *crdt.Value) bool {
			if r, ok := f.Register(); ok && f.Type() == crdt.TypeRegister {
				check(r)
			}
			return check(name)
		})
	}
	str := func(b []byte) string {
		if text {
			return string(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	d := keyDoc{Key: str(key), Type: typeName(v.Type())}
	d.DeadlineMs, _ = v.Deadline()
	if !text {
		d.Encoding = "base64"
	}
	switch v.Type() {
	case crdt.TypeRegister:
		r, _ := v.Register()
		d.Value = str(r)
		if sibs := v.Siblings(); len(sibs) > 1 {
			for _, s := range sibs {
				d.Siblings = append(d.Siblings, str(s.Value))
			}
		}
	case crdt.TypeCounter:
		n, _ := v.Counter()
		d.Value = n
	case crdt.TypeText:
		d.Value = str([]byte(v.Text()))
	case crdt.TypeSet:
		d.Members = []string{}
		v.Members(func(m []byte) bool { d.Members = append(d.Members, str(m)); return true })
	case crdt.TypeZSet:
		v.ZAscend(0, func(m []byte, s float64) bool {
			var score any = s
			switch {
			case math.IsInf(s, 1):
				score = "inf"
			case math.IsInf(s, -1):
				score = "-inf"
			}
			d.ZSet = append(d.ZSet, zsetDoc{Member: str(m), Score: score})
			return true
		})
	case crdt.TypeMap:
		d.Fields = map[string]any{}
		v.Fields(func(name []byte, f *crdt.Value) bool {
			switch f.Type() {
			case crdt.TypeRegister:
				r, _ := f.Register()
				d.Fields[str(name)] = str(r)
			case crdt.TypeCounter:
				n, _ := f.Counter()
				d.Fields[str(name)] = n
			}
			return true
		})
	}
	return d
}

// wantsJSON reports whether the client asked for the JSON document.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// getKey is GET /v1/kv/{key...}, and GET /v1/kv?key=K for keys a URL
// path cannot carry (empty, "." or ".." segments, which path cleaning
// would change).
func (s *Server) getKey(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if len(key) == 0 {
		key = []byte(r.URL.Query().Get("key"))
	}
	if len(key) == 0 {
		writeErr(w, errEmptyKey)
		return
	}
	asJSON := wantsJSON(r)
	var doc keyDoc
	var raw []byte
	var typ crdt.Type
	found := false
	view := s.viewFor(w, r) // live, or ?at=N (pointintime.go)
	if view == nil {
		return
	}
	err := view(func(ks *crdt.Keyspace) error {
		if isReserved(key) {
			return nil
		}
		v := ks.Get(key)
		if v == nil || v.Expired(uint64(time.Now().UnixMilli())) {
			return nil // an expired key reads as absent (docs/semantics.md)
		}
		found, typ = true, v.Type()
		switch {
		case asJSON || typ == crdt.TypeSet || typ == crdt.TypeMap || typ == crdt.TypeZSet:
			doc = docOf(key, v)
		case typ == crdt.TypeRegister:
			b, _ := v.Register()
			raw = bytes.Clone(b)
		case typ == crdt.TypeCounter:
			n, _ := v.Counter()
			raw = strconv.AppendInt(nil, n, 10)
		case typ == crdt.TypeText:
			raw = []byte(v.Text())
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "no such key")
		return
	}
	w.Header().Set("Spook-Type", typeName(typ))
	if raw == nil && doc.Type != "" {
		writeJSON(w, http.StatusOK, doc)
		return
	}
	if typ == crdt.TypeCounter || typ == crdt.TypeText {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}

// tokenBody is the reply of a write.
type tokenBody struct {
	Token   string `json:"token,omitempty"`
	Deleted *bool  `json:"deleted,omitempty"`
	Results []any  `json:"results,omitempty"`
}

func (s *Server) putKey(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if err := checkKey(key); err != nil {
		writeErr(w, err)
		return
	}
	value, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValueBodyBytes))
	if err != nil {
		writeErr(w, bodyError(err))
		return
	}
	tok, err := s.backend.Update(r.Context(), func(tx *crdt.Builder) error { return tx.Set(key, value) })
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody{Token: formatToken(tok)})
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	key := []byte(r.PathValue("key"))
	if err := checkKey(key); err != nil {
		writeErr(w, err)
		return
	}
	deleted := false
	tok, err := s.backend.Update(r.Context(), func(tx *crdt.Builder) error {
		deleted = false
		if tx.Get(key) == nil {
			return nil
		}
		deleted = true
		return tx.Delete(key)
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody{Token: formatToken(tok), Deleted: &deleted})
}

// bodyError turns a body read error into its reply.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newError(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	}
	return newError(http.StatusBadRequest, "bad_request", "reading request body: "+err.Error())
}
