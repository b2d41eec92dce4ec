package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// txnOp is one operation of POST /v1/txn.
type txnOp struct {
	Op       string   `json:"op"`                 // set, del, incr, sadd, srem, hset, hdel, hincrby, zadd, zincrby, zrem
	Key      string   `json:"key"`                //
	Value    *string  `json:"value,omitempty"`    // set, hset
	Field    string   `json:"field,omitempty"`    // hset, hincrby
	Fields   []string `json:"fields,omitempty"`   // hdel
	Members  []string `json:"members,omitempty"`  // sadd, srem, zadd, zincrby (one), zrem
	By       *int64   `json:"by,omitempty"`       // incr, hincrby; default 1
	Score    *float64 `json:"score,omitempty"`    // zadd; zincrby's increment, default 1
	Encoding string   `json:"encoding,omitempty"` // "base64": key, value, field(s), members are base64
}

// opError names the operation of a transaction that failed.
type opError struct {
	index int
	err   error
}

func (e *opError) Error() string { return fmt.Sprintf("operation %d: %v", e.index, e.err) }
func (e *opError) Unwrap() error { return e.err }

// decoded is a txnOp with its byte strings decoded.
type decoded struct {
	op      string
	key     []byte
	value   []byte
	field   []byte
	fields  [][]byte
	members [][]byte
	by      int64
	score   float64
}

func badOp(format string, a ...any) error {
	return newError(http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...))
}

// decode checks an operation's shape and decodes its byte strings.
func (o *txnOp) decode() (decoded, error) {
	d := decoded{op: o.Op, by: 1, score: 1}
	var err error
	dec := func(s string) []byte {
		if o.Encoding != "base64" {
			return []byte(s)
		}
		b, e := base64.StdEncoding.DecodeString(s)
		if e != nil && err == nil {
			err = badOp("bad base64: %v", e)
		}
		return b
	}
	if o.Encoding != "" && o.Encoding != "base64" {
		return d, badOp("unknown encoding %q (want \"base64\" or none)", o.Encoding)
	}
	d.key = dec(o.Key)
	if err == nil {
		err = checkKey(d.key)
	}
	if o.By != nil {
		d.by = *o.By
	}
	if o.Score != nil {
		d.score = *o.Score
	}
	need := func(ok bool, what string) {
		if !ok && err == nil {
			err = badOp("%s needs %s", o.Op, what)
		}
	}
	switch o.Op {
	case "set":
		need(o.Value != nil, "value")
	case "del":
	case "incr":
	case "sadd", "srem":
		need(len(o.Members) > 0, "members")
	case "hset":
		need(o.Field != "" && o.Value != nil, "field and value")
	case "hincrby":
		need(o.Field != "", "field")
	case "hdel":
		need(len(o.Fields) > 0, "fields")
	case "zadd":
		need(len(o.Members) > 0 && o.Score != nil, "members and score")
	case "zincrby":
		need(len(o.Members) == 1, "one member")
	case "zrem":
		need(len(o.Members) > 0, "members")
	default:
		return d, badOp("unknown op %q", o.Op)
	}
	if o.Value != nil {
		d.value = dec(*o.Value)
	}
	if o.Field != "" {
		d.field = dec(o.Field)
	}
	for _, f := range o.Fields {
		d.fields = append(d.fields, dec(f))
	}
	for _, m := range o.Members {
		d.members = append(d.members, dec(m))
	}
	return d, err
}

// isType reports whether v (nil: absent) may take an operation for type t.
func isType(v *crdt.Value, types ...crdt.Type) bool {
	if v == nil {
		return true
	}
	for _, t := range types {
		if v.Type() == t {
			return true
		}
	}
	return false
}

// apply runs one operation on tx and returns its result. Type checks come
// first and every operation is a single builder call, so a failing
// operation leaves tx as it was (the whole transaction is abandoned
// anyway).
func (d *decoded) apply(tx *crdt.Builder) (any, error) {
	cur := tx.Get(d.key)
	switch d.op {
	case "set":
		return nil, tx.Set(d.key, d.value)
	case "del":
		if cur == nil {
			return false, nil
		}
		return true, tx.Delete(d.key)
	case "incr":
		if !isType(cur, crdt.TypeRegister, crdt.TypeCounter) {
			return nil, errWrongType
		}
		return tx.Increment(d.key, d.by)
	case "sadd", "srem":
		if !isType(cur, crdt.TypeSet) {
			return nil, errWrongType
		}
		if d.op == "sadd" {
			return tx.SetAdd(d.key, d.members...)
		}
		if cur == nil {
			return 0, nil
		}
		return tx.SetRemove(d.key, d.members...)
	case "hset", "hincrby", "hdel":
		if !isType(cur, crdt.TypeMap) {
			return nil, errWrongType
		}
		switch d.op {
		case "hset":
			return tx.MapSet(d.key, d.field, d.value)
		case "hincrby":
			return tx.MapIncrement(d.key, d.field, d.by)
		}
		if cur == nil {
			return 0, nil
		}
		return tx.MapDelete(d.key, d.fields...)
	case "zadd", "zincrby", "zrem":
		if !isType(cur, crdt.TypeZSet) {
			return nil, errWrongType
		}
		return d.applyZSet(tx)
	}
	return nil, badOp("unknown op %q", d.op)
}

// applyZSet runs a sorted-set operation: zadd returns the members added,
// zincrby the new score, zrem the members removed.
func (d *decoded) applyZSet(tx *crdt.Builder) (any, error) {
	switch d.op {
	case "zadd":
		added := 0
		for _, m := range d.members {
			ok, err := tx.ZAdd(d.key, m, d.score)
			if err != nil {
				return nil, err
			}
			if ok {
				added++
			}
		}
		return added, nil
	case "zincrby":
		return tx.ZIncrement(d.key, d.members[0], d.score)
	}
	return tx.ZRemove(d.key, d.members...)
}

// readJSON decodes a bounded JSON body into v, refusing unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyError(err)
		}
		return badOp("bad JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badOp("bad JSON body: trailing data")
	}
	return nil
}

// readOps decodes a /v1/txn body, a JSON list of operations, as a stream:
// one operation at a time, refusing the request as soon as it holds more
// than MaxTxnRequestOps operations or MaxRequestBodyBytes bytes. Memory
// is bounded by the operations kept, not by the size of the list.
func readOps(w http.ResponseWriter, r *http.Request) ([]txnOp, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBodyBytes))
	dec.DisallowUnknownFields()
	fail := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return bodyError(err)
		}
		return badOp("bad JSON body: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fail(err)
	}
	if tok != json.Delim('[') {
		return nil, badOp("bad JSON body: want a list of operations")
	}
	var ops []txnOp
	for dec.More() {
		if len(ops) == MaxTxnRequestOps {
			return nil, newError(http.StatusRequestEntityTooLarge, "txn_too_big", fmt.Sprintf("more than %d operations", MaxTxnRequestOps))
		}
		var op txnOp
		if err := dec.Decode(&op); err != nil {
			return nil, fail(err)
		}
		ops = append(ops, op)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badOp("bad JSON body: trailing data")
	}
	return ops, nil
}

// txn is POST /v1/txn: a JSON list of operations applied atomically in
// one Backend.Update. If any operation fails nothing is written and the
// error names the operation's index.
func (s *Server) txn(w http.ResponseWriter, r *http.Request) {
	ops, err := readOps(w, r)
	if err != nil {
		writeErr(w, err)
		return
	}
	ds := make([]decoded, len(ops))
	for i := range ops {
		d, err := ops[i].decode()
		if err != nil {
			writeErr(w, &opError{i, err})
			return
		}
		ds[i] = d
	}
	results := make([]any, len(ds))
	tok, err := s.backend.Update(r.Context(), func(tx *crdt.Builder) error {
		for i := range ds {
			res, err := ds[i].apply(tx)
			if err != nil {
				return &opError{i, err}
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody{Token: formatToken(tok), Results: results})
}

// waitRequest is the body of POST /v1/wait.
type waitRequest struct {
	Token     string `json:"token"`
	Members   int    `json:"members"`    // members that must have it, this node included; 0: all
	TimeoutMs int64  `json:"timeout_ms"` // 0: DefaultWaitTimeout; capped at MaxWaitTimeout
	// Scope is "cluster" (or empty): count every member; "region":
	// count only the members of this node's region (api.RegionWaiter).
	Scope string `json:"scope"`
}

type waitReply struct {
	Members int  `json:"members"` // members known to have applied the token
	Reached bool `json:"reached"` // the requested number was reached in time
}

func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	var req waitRequest
	if err := readJSON(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	tok, err := parseToken(req.Token)
	if err != nil {
		writeErr(w, err)
		return
	}
	if req.TimeoutMs < 0 || req.Members < 0 {
		writeErr(w, badOp("members and timeout_ms must not be negative"))
		return
	}
	wait := s.backend.Wait
	switch req.Scope {
	case "", "cluster":
	case "region":
		rw, ok := s.backend.(api.RegionWaiter)
		if !ok {
			writeErr(w, badOp("scope \"region\" is not supported by this node"))
			return
		}
		wait = rw.WaitRegion
	default:
		writeErr(w, badOp("scope must be \"cluster\" or \"region\""))
		return
	}
	timeout := DefaultWaitTimeout
	if req.TimeoutMs > 0 {
		timeout = min(time.Duration(req.TimeoutMs)*time.Millisecond, MaxWaitTimeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	// Shutdown ends the wait too; the goroutine ends with ctx.
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	got, err := wait(ctx, tok, req.Members)
	if err != nil && ctx.Err() == nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, waitReply{Members: got, Reached: err == nil})
}

// changeEvent is the data of one watch event.
type changeEvent struct {
	Key      string `json:"key"`
	Encoding string `json:"encoding,omitempty"` // "base64" when the key is not UTF-8
	Type     string `json:"type"`
	Deleted  bool   `json:"deleted"`
	Origin   string `json:"origin"`    // the writing member's name
	OriginID string `json:"origin_id"` // its id
}

// watch is GET /v1/watch?prefix=: a Server-Sent Events stream with one
// "change" event per changed key, in the order the node applied them. It
// ends when the client goes away, the server shuts down, or the client
// falls WatchBuffer changes behind (an "overflow" event first). When the
// node has as many watchers as it allows it answers 503
// too_many_watchers.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	if !s.startStream() {
		writeError(w, http.StatusServiceUnavailable, "stopped", "server shutting down")
		return
	}
	defer s.streams.Done()
	prefix := []byte(r.URL.Query().Get("prefix"))
	sub := s.backend.Watch(prefix, WatchBuffer)
	defer sub.Close()
	if err := sub.Err(); err != nil {
		// Refused at once: the node has as many watchers as it allows,
		// or is stopping.
		code := "stopped"
		if errors.Is(err, api.ErrTooManyWatchers) {
			code = "too_many_watchers"
		}
		writeError(w, http.StatusServiceUnavailable, code, err.Error())
		return
	}
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		setSendBuffer(c, MaxWatchSendBufferBytes)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(WatchWriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		return err == nil && rc.Flush() == nil
	}
	buf.WriteString(": watching\n\n")
	if !send() {
		return
	}
	keepAlive := time.NewTicker(WatchKeepAlive)
	defer keepAlive.Stop()
	names := newMemberNames(s.backend)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-keepAlive.C:
			buf.WriteString(": keepalive\n\n")
			if !send() {
				return
			}
		case ch, ok := <-sub.C():
			// Take what else is queued too, up to MaxWatchWriteEvents,
			// and write it all at once.
			for events := 1; ; events++ {
				if !ok {
					if err := sub.Err(); err != nil {
						msg, _ := json.Marshal(map[string]string{"error": err.Error()})
						buf.WriteString("event: overflow\ndata: " + string(msg) + "\n\n")
					}
					send()
					return
				}
				appendEvent(&buf, ch, names)
				if events == MaxWatchWriteEvents {
					break
				}
				select {
				case ch, ok = <-sub.C():
					continue
				default:
				}
				break
			}
			if !send() {
				return
			}
		}
	}
}

// appendEvent writes ch as one SSE "change" event; reserved keys are
// left out.
func appendEvent(buf *bytes.Buffer, ch api.Change, names *memberNames) {
	if isReserved(ch.Key) {
		return
	}
	ev := changeEvent{Key: string(ch.Key), Type: typeName(ch.Type), Deleted: ch.Deleted,
		Origin: names.name(ch.Origin), OriginID: ch.Origin.String()}
	if !utf8.Valid(ch.Key) {
		ev.Key, ev.Encoding = base64.StdEncoding.EncodeToString(ch.Key), "base64"
	}
	buf.WriteString("event: change\ndata: ")
	data, _ := json.Marshal(ev)
	buf.Write(data)
	buf.WriteString("\n\n")
}
