// Package httpapi serves Spook's keyspace over HTTP/JSON (directory
// api/http).
//
//	srv := httpapi.New(backend, httpapi.Config{Token: token, Metrics: promHandler})
//	go srv.Serve(listener) // a net.Listener, e.g. from the single-port mux
//	...
//	srv.Shutdown(ctx)      // ends watch streams, drains requests
//
// # Endpoints
//
//	GET    /v1/kv/{key...}   value bytes (Accept: application/json for a document)
//	PUT    /v1/kv/{key...}   body = value; register write
//	DELETE /v1/kv/{key...}   observed-remove delete
//	POST   /v1/txn           JSON list of operations, applied atomically
//	POST   /v1/wait          wait until members (or, with "scope":"region", members of
//	                         this node's region) have applied a token
//	GET    /v1/watch?prefix= Server-Sent Events, one per change
//	GET    /v1/text/{key...} a text key as JSON; opened as a WebSocket, the
//	                         document, then its changes, taking edits (text.go)
//	                         and the other editors' cursors (presence.go)
//	POST   /v1/text/{key...} {"ops": [...]}: inserts and deletes in code points, one transaction
//	GET    /v1/status        the node's api.Status
//	GET    /v1/members       the members as this node sees them
//	DELETE /v1/members/{name} operator removal of a dead member
//	GET    /v1/bundle/vector what this node has applied (a bundle's "since")
//	POST   /v1/bundle/export {"since": vector} → a bundle file of what it lacks
//	POST   /v1/bundle/import a bundle file as the body → {"txns", "applied"}
//	DELETE /v1/members/{name} remove a dead member (backends with api.Admin)
//	GET    /healthz          liveness (no auth)
//	GET    /readyz           readiness (no auth; Config.Ready)
//	GET    /metrics          Config.Metrics, when set (no auth)
//	GET    /v1/peer          Config.Peer, when set: WebSocket peer links (no bearer auth)
//	GET    /ui/              the web page (package ui), fed by /ui/api/status and
//	                         /ui/api/text/{key...} (ui.go)
//
// docs/api.md gives each endpoint's request and reply with curl examples.
//
// Every write returns a token naming its transaction ("<node>:<counter>",
// api.Token's Dot); POST /v1/wait takes it back. Errors are JSON
// {"error":{"code":"...","message":"..."}} with a matching status code.
// When Config.Token is set every /v1 request needs "Authorization: Bearer
// <token>" (compared in constant time); /ui/ takes the same token, also as
// the password of HTTP Basic auth, for browsers. With Config.Users a
// request may instead carry a user's HTTP Basic credentials, and its
// writes are that user's (api.WithUser); the token is the default user.
// A cross-site browser write with Basic credentials is refused.
//
// # Limits
//
// Request bodies are bounded (MaxValueBodyBytes for PUT, MaxRequestBodyBytes
// for JSON bodies; over them: 413), as are the operations of one
// transaction (MaxTxnRequestOps, checked while the list is read), waits
// (MaxWaitTimeout), a watcher's backlog (WatchBuffer changes; a watcher
// further behind gets an "overflow" event and the stream ends) and what a
// watcher that stops reading holds in its socket (MaxWatchSendBufferBytes).
// A backend that refuses a watcher (api.ErrTooManyWatchers) makes
// /v1/watch answer 503.
package httpapi
