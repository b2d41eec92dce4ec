package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spooksystems/spook/wire"
)

// Mux limits and defaults.
const (
	// DefaultPeekTimeout bounds how long a connection that has sent its
	// first byte may take to send the rest of what classifies it and, for
	// TLS, to finish the TLS handshake and send its first inner bytes
	// (again from the inner first byte). A connection that sends nothing
	// is not timed: client pools open connections ahead of use, and Redis
	// keeps them too. Silent connections are bounded by MuxConfig.MaxConns.
	DefaultPeekTimeout = 5 * time.Second
	// MaxMuxQueue is how many routed connections each of the Mux's
	// listeners holds before Accept takes them. A connection that finds
	// its queue full waits up to the peek timeout, then is closed.
	MaxMuxQueue = 64
	// maxDrainBytes bounds what the Mux reads and discards after sending
	// a refusal, so the refusal is not lost to a TCP reset caused by
	// closing a socket with unread input.
	maxDrainBytes = 64 << 10
	// minAcceptBackoff and maxAcceptBackoff bound the wait after a failed
	// Accept (out of file descriptors, say): it starts at the minimum and
	// doubles up to the maximum while Accept keeps failing, as net/http's.
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// MuxConfig configures a Mux. The zero value serves plaintext only.
type MuxConfig struct {
	// TLS is the server config for TLS connections; nil refuses them.
	// Use certs.Bundle.ServerConfig(certs.OptionalClientCert) so RESP and
	// HTTP clients may connect without certificates: a Peer connection
	// must still have presented a certificate verified against the
	// config's ClientCAs, or it is refused. With
	// certs.RequirePeerCert every client needs one.
	TLS *tls.Config
	// RequireTLS refuses plaintext connections with a reason each
	// protocol understands (a wire refusal, a RESP error, an HTTP 400).
	RequireTLS bool
	// RequireClientCert refuses RESP connections through TLS without a
	// verified client certificate (peers and Prefixes always need one).
	// HTTP connections pass: their server checks per request
	// (ClientCertMissing), so probes reach OpenProbePaths. See
	// RelaxClientAuth.
	RequireClientCert bool
	// PeekTimeout: zero means DefaultPeekTimeout.
	PeekTimeout time.Duration
	// MaxConns bounds the connections open through the Mux: accepted and
	// not yet closed, whether still being classified or handed out. A
	// connection over it is closed at once, unread (counted as
	// RefusedConnLimit). Zero means no bound. Set it below the process's
	// file descriptor limit so accepting never fails for want of one.
	MaxConns int
	// PeerReserve is how many of MaxConns only peer links (and
	// Prefixes protocols) may use. Client connections (RESP, HTTP, and
	// connections not yet classified) are bounded by MaxConns minus
	// PeerReserve; a connection accepted beyond that must classify as a
	// peer within PeekTimeout of being accepted, and a client there is
	// refused in its protocol ("-ERR max number of clients reached", HTTP
	// 503). Zero means no reserve; it must be below MaxConns.
	PeerReserve int
	// Logger receives one line per refused connection; nil discards.
	Logger *slog.Logger
	// Prefixes are extra node-to-node protocols on the port, each routed
	// to its own listener (Mux.Prefix) when a connection starts with it.
	// They are checked before the built-in table, and like peers must
	// present a verified client certificate when they come through TLS.
	// Each is 1..MaxPeekBytes bytes and none may be a prefix of another.
	Prefixes []string
}

func (c *MuxConfig) validate() error {
	if c.PeekTimeout == 0 {
		c.PeekTimeout = DefaultPeekTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.PeekTimeout < 0:
		return fmt.Errorf("transport: MuxConfig.PeekTimeout %v", c.PeekTimeout)
	case c.MaxConns < 0 || c.PeerReserve < 0 || c.MaxConns > 0 && c.PeerReserve >= c.MaxConns:
		return fmt.Errorf("transport: MuxConfig.MaxConns %d, PeerReserve %d", c.MaxConns, c.PeerReserve)
	case c.MaxConns == 0 && c.PeerReserve > 0:
		return errors.New("transport: MuxConfig.PeerReserve without MaxConns")
	case c.RequireTLS && c.TLS == nil:
		return errors.New("transport: MuxConfig.RequireTLS without a TLS config")
	}
	for i, p := range c.Prefixes {
		if p == "" || len(p) > MaxPeekBytes {
			return fmt.Errorf("transport: MuxConfig.Prefixes[%d] %q: length outside 1..%d", i, p, MaxPeekBytes)
		}
		for j, q := range c.Prefixes {
			if i != j && strings.HasPrefix(q, p) {
				return fmt.Errorf("transport: MuxConfig.Prefixes: %q is a prefix of %q", p, q)
			}
		}
	}
	return nil
}

// MuxStats counts what a Mux did with connections. Read with Stats.
type MuxStats struct {
	Routed [RouteTLS + 1]uint64 // by final route (RouteTLS unused: counted by inner route)
	// PrefixRouted counts connections routed to each MuxConfig.Prefixes
	// entry, keyed by the prefix.
	PrefixRouted map[string]uint64
	TLS          uint64            // connections that came through TLS
	Refused      map[string]uint64 // by reason label
	// Conns is how many connections are open through the Mux now
	// (MaxConns); ClientConns how many of them are not peer links.
	Conns, ClientConns int64
}

// Refusal reasons, the labels of MuxStats.Refused.
const (
	RefusedUnknown      = "unknown_protocol"
	RefusedTLSRequired  = "tls_required"
	RefusedNoTLS        = "tls_not_configured"
	RefusedTLSHandshake = "tls_handshake"
	RefusedNoClientCert = "peer_without_client_cert"
	RefusedNestedTLS    = "nested_tls"
	RefusedPeek         = "peek_failed"
	RefusedQueueFull    = "queue_full"
	RefusedClosed       = "listener_closed"
	RefusedConnLimit    = "conn_limit"   // MuxConfig.MaxConns reached: closed unread
	RefusedClientLimit  = "client_limit" // a client in the PeerReserve
)

var refusalLabels = []string{RefusedUnknown, RefusedTLSRequired, RefusedNoTLS, RefusedTLSHandshake,
	RefusedNoClientCert, RefusedNestedTLS, RefusedPeek, RefusedQueueFull, RefusedClosed,
	RefusedConnLimit, RefusedClientLimit}

// Mux serves peers, RESP clients and HTTP clients on one listener. For
// each accepted connection it reads the first bytes (Classify), terminates
// TLS if the connection starts with a TLS handshake and sniffs again
// inside, and hands the connection to the listener for its protocol.
// The connections handed out replay the sniffed bytes, so servers see the
// stream from its first byte.
//
// Use:
//
//	m, _ := transport.NewMux(ln, transport.MuxConfig{TLS: cfg})
//	go m.Serve()
//	go httpServer.Serve(m.HTTP())
//	go redconServer.Serve(m.RESP())
//	c, _ := m.Peer().Accept() // then wire.Handshake(c, wire.Responder, ...)
//	...
//	m.Close() // closes ln, the three listeners and unrouted connections
type Mux struct {
	inner net.Listener
	cfg   MuxConfig

	// listeners is indexed by Route: RoutePeer, RouteRESP, RouteHTTP, then
	// one per MuxConfig.Prefixes entry from routeExtra (RouteNone and
	// RouteTLS are nil).
	listeners []*muxListener

	done   chan struct{} // closed by Close
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	unsniff map[net.Conn]struct{} // accepted, not yet routed: closed by Close
	wg      sync.WaitGroup        // Serve and per-connection goroutines

	// conns counts connections open through the Mux (MaxConns);
	// clientConns those of them not routed to a peer or prefix route
	// (MaxConns - PeerReserve). Both drop when a connection closes.
	conns       atomic.Int64
	clientConns atomic.Int64
	// serveErr is the error that ended Serve, if any (Err).
	serveErr atomic.Pointer[error]

	routed   []atomic.Uint64 // indexed like listeners
	tlsCount atomic.Uint64
	refused  map[string]*atomic.Uint64
}

// NewMux wraps l. Call Serve to start routing.
func NewMux(l net.Listener, cfg MuxConfig) (*Mux, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mux{
		inner:   l,
		cfg:     cfg,
		done:    make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		unsniff: make(map[net.Conn]struct{}),
		refused: make(map[string]*atomic.Uint64, len(refusalLabels)),
	}
	for _, label := range refusalLabels {
		m.refused[label] = new(atomic.Uint64)
	}
	m.listeners = make([]*muxListener, int(routeExtra)+len(cfg.Prefixes))
	m.routed = make([]atomic.Uint64, len(m.listeners))
	for r := range m.listeners {
		if Route(r) == RouteNone || Route(r) == RouteTLS {
			continue
		}
		m.listeners[r] = &muxListener{mux: m, route: Route(r), queue: make(chan net.Conn, MaxMuxQueue), closed: make(chan struct{})}
	}
	return m, nil
}

// Peer is the listener for connections that start with wire.Magic.
func (m *Mux) Peer() net.Listener { return m.listeners[RoutePeer] }

// RESP is the listener for RESP (Redis protocol) connections.
func (m *Mux) RESP() net.Listener { return m.listeners[RouteRESP] }

// HTTP is the listener for HTTP/1.x connections.
func (m *Mux) HTTP() net.Listener { return m.listeners[RouteHTTP] }

// Prefix is the listener for connections starting with p, one of
// MuxConfig.Prefixes; nil if p is not configured.
func (m *Mux) Prefix(p string) net.Listener {
	for i, q := range m.cfg.Prefixes {
		if q == p {
			return m.listeners[routeExtra+Route(i)]
		}
	}
	return nil
}

// Addr is the wrapped listener's address.
func (m *Mux) Addr() net.Addr { return m.inner.Addr() }

// Stats is a snapshot of the Mux's counters.
func (m *Mux) Stats() MuxStats {
	s := MuxStats{TLS: m.tlsCount.Load(), Conns: m.conns.Load(), ClientConns: m.clientConns.Load(), Refused: make(map[string]uint64, len(m.refused)), PrefixRouted: make(map[string]uint64, len(m.cfg.Prefixes))}
	for i := range s.Routed {
		s.Routed[i] = m.routed[i].Load()
	}
	for i, p := range m.cfg.Prefixes {
		s.PrefixRouted[p] = m.routed[routeExtra+Route(i)].Load()
	}
	for label, n := range m.refused {
		s.Refused[label] = n.Load()
	}
	return s
}

// Serve accepts and routes connections until Close, then returns nil.
//
// A failed Accept that can pass (out of file descriptors or memory, an
// aborted connection, a timeout) is retried after a backoff that starts at
// 5 ms and doubles to 1 s, logged once per run of failures; any other
// error ends Serve, which returns it and keeps it for Err. The node must
// then stop reporting ready: nobody can reach it any more.
func (m *Mux) Serve() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()
	var backoff time.Duration
	failures := 0
	for {
		c, err := m.inner.Accept()
		if err != nil {
			select {
			case <-m.done:
				return nil
			default:
			}
			if !temporary(err) {
				m.serveErr.Store(&err)
				return err
			}
			if failures == 0 {
				m.cfg.Logger.Warn("single port: accept failing, backing off", "err", err)
			}
			failures++
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			select {
			case <-time.After(backoff):
			case <-m.done:
				return nil
			}
			continue
		}
		if failures > 0 {
			m.cfg.Logger.Info("single port: accepting again", "failed_accepts", failures)
		}
		backoff, failures = 0, 0
		m.admit(c)
	}
}

// Err is the error that ended Serve, or nil while it serves or after
// Close.
func (m *Mux) Err() error {
	if p := m.serveErr.Load(); p != nil {
		return *p
	}
	return nil
}

// temporary reports whether a failed Accept may succeed if retried: the
// process or system is out of descriptors or buffers, or one connection
// failed before it was accepted.
func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// admit counts a new connection against MaxConns and starts its
// classification, or closes it at once over the limit. Within the
// PeerReserve it must classify as a peer within PeekTimeout of now.
func (m *Mux) admit(c net.Conn) {
	if n := m.conns.Add(1); m.cfg.MaxConns > 0 && n > int64(m.cfg.MaxConns) {
		m.conns.Add(-1)
		m.refused[RefusedConnLimit].Add(1)
		c.Close()
		return
	}
	var first time.Time // no deadline for the first byte
	if n := m.clientConns.Add(1); m.cfg.MaxConns > 0 && n > int64(m.cfg.MaxConns-m.cfg.PeerReserve) {
		first = time.Now().Add(m.cfg.PeekTimeout)
	}
	if !m.track(c) {
		m.release(true)
		c.Close()
		return
	}
	go m.handle(c, first)
}

// release uncounts a closed connection; client says whether it still
// counted as a client.
func (m *Mux) release(client bool) {
	m.conns.Add(-1)
	if client {
		m.clientConns.Add(-1)
	}
}

// track registers an unrouted connection and a goroutine for it; false
// once the Mux is closed.
func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.unsniff[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	delete(m.unsniff, c)
	m.mu.Unlock()
}

// handle sniffs, maybe terminates TLS, and routes one connection. first
// is the deadline for its first byte (zero: none).
func (m *Mux) handle(raw net.Conn, first time.Time) {
	defer m.wg.Done()
	routedConn, route, refusal := m.sniff(raw, first)
	m.untrack(raw)
	if refusal != "" {
		raw.Close()
		m.release(true)
		return
	}
	client := route == RouteRESP || route == RouteHTTP
	if !client {
		m.clientConns.Add(-1)
	}
	routedConn.release = func() { m.release(client) }
	m.routed[route].Add(1)
	m.listeners[route].deliver(routedConn, m.cfg.PeekTimeout)
}

// sniff returns the connection to hand out and its route, or the label
// of the refusal (having written the refusal and logged it).
func (m *Mux) sniff(raw net.Conn, first time.Time) (*prefixConn, Route, string) {
	log := m.cfg.Logger.With("remote", raw.RemoteAddr().String())
	reserved := !first.IsZero()
	route, prefix, err := peek(raw, m.cfg.Prefixes, first, m.cfg.PeekTimeout)
	if err != nil {
		log.Debug("single port: no protocol recognised before the connection failed", "err", err, "bytes", len(prefix))
		return m.reject(RefusedPeek)
	}
	conn := &prefixConn{Conn: raw, prefix: prefix}
	secure := false
	if route == RouteTLS {
		if m.cfg.TLS == nil {
			log.Warn("single port: TLS connection refused: this node has no TLS config")
			return m.reject(RefusedNoTLS)
		}
		// The handshake is bounded from the first byte; the inner first
		// byte again waits without a deadline (unless in the reserve).
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.PeekTimeout)
		raw.SetDeadline(time.Now().Add(m.cfg.PeekTimeout))
		tc, err := ServerTLS(ctx, conn, m.cfg.TLS)
		cancel()
		if err != nil {
			log.Warn("single port: TLS handshake failed", "err", err)
			return m.reject(RefusedTLSHandshake)
		}
		raw.SetDeadline(time.Time{})
		m.tlsCount.Add(1)
		route, prefix, err = peek(tc, m.cfg.Prefixes, first, m.cfg.PeekTimeout)
		if err != nil {
			log.Debug("single port: no protocol recognised inside TLS", "err", err, "bytes", len(prefix))
			tc.Close()
			return m.reject(RefusedPeek)
		}
		conn, secure = &prefixConn{Conn: tc, prefix: prefix}, true
		if route == RouteTLS {
			log.Warn("single port: TLS inside TLS refused")
			tc.Close()
			return m.reject(RefusedNestedTLS)
		}
		if (route == RoutePeer || route >= routeExtra) && len(tc.ConnectionState().VerifiedChains) == 0 {
			log.Warn("single port: peer refused: no client certificate from the cluster CA")
			m.reject(RefusedNoClientCert)
			m.refuse(tc, wire.ReasonPolicy, route, "peer links need a client certificate from the cluster CA")
			return nil, 0, RefusedNoClientCert
		}
		if route == RouteRESP && m.cfg.RequireClientCert && len(tc.ConnectionState().VerifiedChains) == 0 {
			log.Warn("single port: RESP client refused: no client certificate from the cluster CA")
			m.reject(RefusedNoClientCert)
			m.refuse(tc, 0, route, "this port requires a client certificate from the cluster CA")
			return nil, 0, RefusedNoClientCert
		}
	}
	switch {
	case route == RouteNone:
		log.Warn("single port: unrecognised protocol refused", "first_bytes", fmt.Sprintf("%q", prefix[:min(len(prefix), 32)]))
		m.reject(RefusedUnknown)
		m.refuse(conn, 0, route, "")
		return nil, 0, RefusedUnknown
	case !secure && m.cfg.RequireTLS:
		log.Warn("single port: plaintext connection refused: this node requires TLS", "protocol", route.String())
		m.reject(RefusedTLSRequired)
		m.refuse(conn, wire.ReasonTLSRequired, route, "this port requires TLS")
		return nil, 0, RefusedTLSRequired
	case reserved && (route == RouteRESP || route == RouteHTTP):
		log.Debug("single port: client refused: connections reserved for peers", "protocol", route.String())
		m.reject(RefusedClientLimit)
		m.refuse(conn, 0, route, "")
		return nil, 0, RefusedClientLimit
	}
	raw.SetDeadline(time.Time{})
	return conn, route, ""
}

// reject counts a refusal. It is called before any refusal is written, so
// a client that has read its refusal sees it counted.
func (m *Mux) reject(label string) (*prefixConn, Route, string) {
	m.refused[label].Add(1)
	return nil, 0, label
}

// refuse writes a short refusal the client's protocol understands, then
// drains input until EOF, maxDrainBytes or the peek deadline, so closing
// does not reset the connection before the refusal is read.
func (m *Mux) refuse(c net.Conn, reason wire.Reason, route Route, text string) {
	switch route {
	case RoutePeer:
		wire.Refuse(c, reason, text)
	case RouteRESP:
		if text == "" {
			io.WriteString(c, "-ERR max number of clients reached\r\n")
			break
		}
		io.WriteString(c, "-ERR spook: "+text+"\r\n")
	case RouteHTTP:
		status := "400 Bad Request"
		if text == "" {
			status, text = "503 Service Unavailable", "too many connections"
		}
		body := "spook: " + text + "\n"
		fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
	default: // unrecognised, or a MuxConfig.Prefixes protocol
		if text == "" {
			text = "unrecognised protocol"
		}
		io.WriteString(c, "spook: "+text+"\n")
	}
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite()
	} else if cw, ok := unwrapRaw(c).(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, maxDrainBytes))
	c.Close()
}

func unwrapRaw(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			return c
		}
		c = u.Unwrap()
	}
}

// Close stops the Mux: closes the wrapped listener, the Peer/RESP/HTTP
// listeners, connections being sniffed and connections routed but not
// yet accepted, and waits for every goroutine the Mux started.
// Connections already accepted belong to their servers.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	m.cancel()
	for c := range m.unsniff {
		c.Close()
	}
	m.mu.Unlock()
	err := m.inner.Close()
	m.wg.Wait()
	for _, l := range m.listeners {
		if l != nil {
			l.Close()
		}
	}
	return err
}

// ConnectionState returns the TLS state of a connection handed out by a
// Mux (or any *tls.Conn), and false for plaintext connections. The node
// uses it to learn a peer's verified name (certs.PeerName).
func ConnectionState(c net.Conn) (tls.ConnectionState, bool) {
	for {
		if tc, ok := c.(*tls.Conn); ok {
			return tc.ConnectionState(), true
		}
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			return tls.ConnectionState{}, false
		}
		c = u.Unwrap()
	}
}

// muxListener is one of a Mux's routes as a net.Listener.
type muxListener struct {
	mux       *Mux
	route     Route
	queue     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

// deliver queues c for Accept, waiting up to wait for room.
func (l *muxListener) deliver(c net.Conn, wait time.Duration) {
	select {
	case l.queue <- c:
		return
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case l.queue <- c:
	case <-l.closed:
		l.mux.refused[RefusedClosed].Add(1)
		c.Close()
	case <-l.mux.done:
		c.Close()
	case <-timer.C:
		l.mux.refused[RefusedQueueFull].Add(1)
		l.mux.cfg.Logger.Warn("single port: connection dropped: nobody accepting", "protocol", l.route.String(), "remote", c.RemoteAddr().String())
		c.Close()
	}
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.closed:
	case <-l.mux.done:
	}
	// Prefer queued connections over the close, so none is lost in a race.
	select {
	case c := <-l.queue:
		return c, nil
	default:
		return nil, fmt.Errorf("%w: %w (%s)", ErrMuxClosed, net.ErrClosed, l.route)
	}
}

// Close stops this route: connections for it are refused from now on,
// and queued ones are closed. The other routes keep working.
func (l *muxListener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		for {
			select {
			case c := <-l.queue:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *muxListener) Addr() net.Addr { return l.mux.inner.Addr() }
