package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// Named limits.
const (
	// MaxValueBodyBytes bounds a PUT body: a register value.
	MaxValueBodyBytes = crdt.MaxValueBytes
	// MaxRequestBodyBytes bounds a JSON request body (/v1/txn, /v1/wait).
	// Base64 and JSON escaping make a value up to about 4/3 and 6 times
	// longer; 64 MiB admits a transaction of a few full-size values.
	MaxRequestBodyBytes = 64 << 20
	// MaxTxnRequestOps bounds the operations of one /v1/txn request.
	MaxTxnRequestOps = crdt.MaxTxnOps
	// DefaultWaitTimeout is /v1/wait's timeout when timeout_ms is 0.
	DefaultWaitTimeout = 10 * time.Second
	// MaxWaitTimeout caps /v1/wait's timeout_ms.
	MaxWaitTimeout = 5 * time.Minute
	// WatchBuffer is the change buffer of one /v1/watch stream.
	WatchBuffer = 1 << 12
	// WatchKeepAlive is how often an idle watch stream gets a comment
	// line, so proxies keep it open and a gone client is noticed.
	WatchKeepAlive = 15 * time.Second
	// WatchWriteTimeout bounds one write to a watch stream; a client that
	// does not read for that long is dropped.
	WatchWriteTimeout = 10 * time.Second
	// MaxWatchSendBufferBytes is the kernel send buffer (SO_SNDBUF) of a
	// watch stream's connection: what a watcher that stops reading can
	// hold in flight before its stream blocks (and, WatchWriteTimeout
	// later, is dropped). Without it the kernel would absorb megabytes of
	// events per idle watcher, and the node would spend its CPU writing
	// them.
	MaxWatchSendBufferBytes = 16 << 10
	// MaxWatchWriteEvents bounds the events a watch stream writes per
	// flush: a stream that is behind catches up in fewer, larger writes.
	MaxWatchWriteEvents = 64
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes = 64 << 10
	// ReadHeaderTimeout bounds reading request headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout = 2 * time.Minute
)

// ReservedPrefix starts the keys the replica keeps for itself: hidden from
// reads, refused for writes.
const ReservedPrefix = "\x00spook/"

// Config configures a Server. The zero value serves without auth.
type Config struct {
	// Token, when not empty, is the bearer token every /v1 request must
	// carry (or the Basic credentials of a user, below); it is the
	// default user's (api.DefaultUser). /healthz, /readyz and /metrics
	// stay open.
	Token string
	// Users, when not nil, are the named client users: a /v1 request may
	// carry HTTP Basic auth NAME:PASSWORD instead of the token, and its
	// writes are NAME's (api.WithUser: the node checks the user rules of
	// the write-rights policy in force). With Users set every /v1
	// request must authenticate, token or not. A write (PUT, POST,
	// DELETE) with Basic credentials from a cross-site browser page is
	// refused (403 cross_origin): browsers resend cached Basic
	// credentials by themselves, never a bearer header.
	Users *api.Users
	// Password, when not empty, is the default user's password for
	// Basic auth ("default:PASSWORD"), as in RESP (spookd --password).
	// It does not make authentication required by itself.
	Password string
	// Metrics, when not nil, is served at /metrics (the node mounts its
	// Prometheus handler here).
	Metrics http.Handler
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() error
	// Peer, when not nil, is served at /v1/peer without bearer auth: the
	// node's WebSocket endpoint for peer links (peers authenticate with
	// TLS inside the link, as on every medium).
	Peer http.Handler
	// ClientCertMissing, when set, reports whether a connection lacks a
	// verified client certificate the node requires; requests on such a
	// connection get 403 client_cert_required, except OpenPaths.
	ClientCertMissing func(net.Conn) bool
	// OpenPaths are served whatever ClientCertMissing says (health,
	// readiness, metrics and the peer endpoint).
	OpenPaths []string
	// Audit, when not nil, serves /v1/audit/ with bearer auth (the node's
	// audit endpoints, docs/audit.md).
	Audit http.Handler
}

// Server serves the HTTP API over a Backend.
type Server struct {
	backend api.Backend
	cfg     Config
	creds   api.Credentials // cfg's Password and Users
	// csrf refuses cross-site browser writes that carry Basic
	// credentials (auth).
	csrf    *http.CrossOriginProtection
	handler http.Handler
	srv     *http.Server

	// done is closed by Shutdown and Close: it ends watch streams, which
	// would otherwise keep Shutdown waiting for ever.
	done chan struct{}
	// mu orders stream starts before the wait for them: once closing is
	// set no stream starts, so streams.Add never races streams.Wait.
	mu      sync.Mutex
	closing bool
	// streams counts running watch handlers; Shutdown and Close wait.
	streams sync.WaitGroup
	// presence finds the text sockets of a key (presence.go).
	presence presenceHub
}

// New returns a server over backend.
func New(backend api.Backend, cfg Config) *Server {
	s := &Server{backend: backend, cfg: cfg, done: make(chan struct{}),
		creds: api.Credentials{Password: cfg.Password, Users: cfg.Users}, csrf: http.NewCrossOriginProtection()}
	mux := http.NewServeMux()
	v1 := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.auth(h)) }
	v1("GET /v1/kv/{key...}", s.getKey)
	v1("GET /v1/kv", s.getKey) // ?key=K
	v1("PUT /v1/kv/{key...}", s.putKey)
	v1("DELETE /v1/kv/{key...}", s.deleteKey)
	v1("POST /v1/txn", s.txn)
	v1("POST /v1/wait", s.wait)
	v1("GET /v1/watch", s.watch)
	v1("GET /v1/text/{key...}", s.getText) // a WebSocket too (text.go)
	v1("POST /v1/text/{key...}", s.postText)
	v1("GET /v1/status", s.status)
	v1("GET /v1/members", s.members)
	v1("DELETE /v1/members/{name}", s.removeMember)
	v1("POST /v1/leave", s.leave)
	v1("GET /v1/bundle/vector", s.bundleVector)
	v1("POST /v1/bundle/export", s.bundleExport)
	v1("POST /v1/bundle/import", s.bundleImport)
	// Method-less twins answer a wrong method with a JSON 405 (the mux's
	// own is plain text); more specific patterns win for the right one.
	for _, p := range []string{"/v1/kv/{key...}", "/v1/text/{key...}", "/v1/txn", "/v1/wait", "/v1/watch", "/v1/status", "/v1/members", "/v1/members/{name}", "/v1/leave",
		"/v1/bundle/vector", "/v1/bundle/export", "/v1/bundle/import", "/healthz", "/readyz"} {
		mux.Handle(p, s.auth(http.HandlerFunc(methodNotAllowed)))
	}
	if cfg.Audit != nil {
		mux.Handle("/v1/audit/", s.auth(cfg.Audit))
	}
	s.routeUI(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if cfg.Peer != nil {
		mux.Handle("GET /v1/peer", cfg.Peer)
	}
	if cfg.Metrics != nil {
		mux.Handle("/metrics", cfg.Metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	})
	s.handler = mux
	var handler http.Handler = mux
	var connContext func(context.Context, net.Conn) context.Context
	if cfg.ClientCertMissing != nil {
		handler = s.requireClientCert(mux)
		connContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, certMissingKey{}, cfg.ClientCertMissing(c))
		}
	}
	s.srv = &http.Server{
		Handler: handler,
		// The watch handler reaches the connection through the context
		// to bound its send buffer; requireClientCert reads whether the
		// connection lacks a required client certificate.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			ctx = context.WithValue(ctx, connKey{}, c)
			if connContext != nil {
				ctx = connContext(ctx, c)
			}
			return ctx
		},
		MaxHeaderBytes:    MaxHeaderBytes,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
	}
	return s
}

// connKey is the context key of a request's net.Conn.
type connKey struct{}

// setSendBuffer sets the kernel send buffer of the socket under c (TLS
// and the single port's wrappers unwrapped); a connection without one
// (a pipe, a WebSocket) is left as it is.
func setSendBuffer(c net.Conn, bytes int) {
	for c != nil {
		switch v := c.(type) {
		case interface{ SetWriteBuffer(int) error }:
			_ = v.SetWriteBuffer(bytes)
			return
		case interface{ NetConn() net.Conn }: // *tls.Conn
			c = v.NetConn()
		case interface{ Unwrap() net.Conn }:
			c = v.Unwrap()
		default:
			return
		}
	}
}

// certMissingKey keys a connection's ClientCertMissing answer in its
// requests' contexts.
type certMissingKey struct{}

// requireClientCert refuses requests on connections without a required
// client certificate, except to Config.OpenPaths.
func (s *Server) requireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if missing, _ := r.Context().Value(certMissingKey{}).(bool); missing && !slices.Contains(s.cfg.OpenPaths, r.URL.Path) {
			writeError(w, http.StatusForbidden, "client_cert_required", "this node requires a client certificate from the cluster CA (only "+strings.Join(s.cfg.OpenPaths, ", ")+" are open)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler returns the server's handler, for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves HTTP on l until Shutdown or Close, then returns nil.
func (s *Server) Serve(l net.Listener) error {
	err := s.srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown ends watch streams, stops accepting, and waits for in-flight
// requests until ctx ends (http.Server.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopStreams()
	err := s.srv.Shutdown(ctx)
	return errors.Join(err, s.waitStreams(ctx))
}

// Close closes the listener and every connection at once and waits for
// the watch streams to end.
func (s *Server) Close() error {
	s.stopStreams()
	err := s.srv.Close()
	return errors.Join(err, s.waitStreams(context.Background()))
}

// stopStreams ends every watch stream and refuses new ones.
func (s *Server) stopStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
}

// startStream counts a new watch stream, or reports false when closing.
func (s *Server) startStream() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.streams.Add(1)
	return true
}

func (s *Server) waitStreams(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// authRequired reports whether /v1 requests must authenticate: a token
// or users are configured.
func (s *Server) authRequired() bool { return s.cfg.Token != "" || s.cfg.Users != nil }

// auth admits a /v1 request that carries the bearer token (the default
// user) or, with users configured, a user's Basic credentials, and
// serves it with its user in the context (api.WithUser). With neither
// configured every request is the default user's.
func (s *Server) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := api.DefaultUser
		if s.authRequired() {
			var basic, ok bool
			if user, basic, ok = s.authenticate(r, false); !ok {
				if s.cfg.Token != "" {
					w.Header().Add("WWW-Authenticate", `Bearer realm="spook"`)
				}
				if s.cfg.Users != nil {
					w.Header().Add("WWW-Authenticate", `Basic realm="spook", charset="UTF-8"`)
				}
				writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token or user name and password is required")
				return
			}
			if err := s.csrf.Check(r); basic && err != nil {
				writeError(w, http.StatusForbidden, "cross_origin", "a cross-site write with Basic credentials is refused: "+err.Error())
				return
			}
		}
		h.ServeHTTP(w, r.WithContext(api.WithUser(r.Context(), user)))
	})
}

// authenticate returns the user a request authenticates as: the default
// user for the bearer token, or for the token as the Basic password
// when tokenAsPassword (the web page's prompt); a user of the users file
// (or the default user with Config.Password) for their Basic
// credentials. basic reports that Basic credentials admitted it.
// Comparisons are constant-time (api.Credentials.Verify).
func (s *Server) authenticate(r *http.Request, tokenAsPassword bool) (user string, basic, ok bool) {
	if s.cfg.Token != "" {
		want := []byte("Bearer " + s.cfg.Token)
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1 {
			return api.DefaultUser, false, true
		}
	}
	name, password, isBasic := r.BasicAuth()
	switch {
	case !isBasic:
		return "", false, false
	case s.creds.Required() && s.creds.Verify(name, []byte(password)):
		return name, true, true
	case tokenAsPassword && s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(password), []byte(s.cfg.Token)) == 1:
		return api.DefaultUser, true, true
	}
	return "", false, false
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, statusDocOf(s.backend.Status()))
}

// removeMember is DELETE /v1/members/{name}: the operator declares a dead
// member removed so collapse stops waiting for it. It needs a backend that
// implements api.Admin; others answer 501.
func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.backend.(api.Admin)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "this node does not accept operator actions")
		return
	}
	if err := checkRemovable(s.backend.Status(), r.PathValue("name")); err != nil {
		writeErr(w, err)
		return
	}
	tok, err := admin.RemoveMember(r.Context(), r.PathValue("name"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenBody{Token: formatToken(tok)})
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	m := s.backend.Status().Members
	if m == nil {
		m = []api.MemberStatus{}
	}
	writeJSON(w, http.StatusOK, m)
}
