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
	"time"

	"github.com/spooksystems/spook/wire"
)

// Mux limits and defaults.
const (
	// DefaultPeekTimeout bounds how long a new connection may take to
	// send its first bytes and, for TLS, to finish the TLS handshake and
	// send its first inner bytes. Slow or silent connections are closed.
	DefaultPeekTimeout = 5 * time.Second
	// DefaultMaxPending bounds connections accepted but not yet routed.
	// When it is reached the Mux stops accepting (the kernel's backlog
	// holds further connections) until one is routed or closed, so a
	// flood of silent connections costs at most this many goroutines and
	// DefaultPeekTimeout each.
	DefaultMaxPending = 256
	// MaxMuxQueue is how many routed connections each of the Mux's
	// listeners holds before Accept takes them. A connection that finds
	// its queue full waits up to the peek timeout, then is closed.
	MaxMuxQueue = 64
	// maxDrainBytes bounds what the Mux reads and discards after sending
	// a refusal, so the refusal is not lost to a TCP reset caused by
	// closing a socket with unread input.
	maxDrainBytes = 64 << 10
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
	// MaxPending: zero means DefaultMaxPending.
	MaxPending int
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
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.PeekTimeout < 0:
		return fmt.Errorf("transport: MuxConfig.PeekTimeout %v", c.PeekTimeout)
	case c.MaxPending < 0:
		return fmt.Errorf("transport: MuxConfig.MaxPending %d", c.MaxPending)
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
)

var refusalLabels = []string{RefusedUnknown, RefusedTLSRequired, RefusedNoTLS, RefusedTLSHandshake,
	RefusedNoClientCert, RefusedNestedTLS, RefusedPeek, RefusedQueueFull, RefusedClosed}

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

	pending chan struct{} // semaphore of MaxPending slots
	done    chan struct{} // closed by Close
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	closed  bool
	unsniff map[net.Conn]struct{} // accepted, not yet routed: closed by Close
	wg      sync.WaitGroup        // Serve and per-connection goroutines

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
		pending: make(chan struct{}, cfg.MaxPending),
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
	s := MuxStats{TLS: m.tlsCount.Load(), Refused: make(map[string]uint64, len(m.refused)), PrefixRouted: make(map[string]uint64, len(m.cfg.Prefixes))}
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

// Serve accepts and routes connections until Close, then returns nil; it
// returns the wrapped listener's error if Accept fails otherwise.
func (m *Mux) Serve() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()
	var tempDelay time.Duration
	for {
		select {
		case m.pending <- struct{}{}:
		case <-m.done:
			return nil
		}
		c, err := m.inner.Accept()
		if err != nil {
			<-m.pending
			select {
			case <-m.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Transient (e.g. out of file descriptors): back off.
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(tempDelay):
				case <-m.done:
					return nil
				}
				continue
			}
			return err
		}
		tempDelay = 0
		if !m.track(c) {
			<-m.pending
			c.Close()
			return nil
		}
		go m.handle(c)
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

// handle sniffs, maybe terminates TLS, and routes one connection.
func (m *Mux) handle(raw net.Conn) {
	defer m.wg.Done()
	routedConn, route, refusal := m.sniff(raw)
	m.untrack(raw)
	<-m.pending
	if refusal != "" {
		raw.Close()
		return
	}
	m.routed[route].Add(1)
	m.listeners[route].deliver(routedConn, m.cfg.PeekTimeout)
}

// sniff returns the connection to hand out and its route, or the label
// of the refusal (having written the refusal and logged it).
func (m *Mux) sniff(raw net.Conn) (net.Conn, Route, string) {
	log := m.cfg.Logger.With("remote", raw.RemoteAddr().String())
	deadline := time.Now().Add(m.cfg.PeekTimeout)
	raw.SetDeadline(deadline)
	route, prefix, err := peek(raw, m.cfg.Prefixes)
	if err != nil {
		log.Debug("single port: no protocol recognised before the connection failed", "err", err, "bytes", len(prefix))
		return m.reject(RefusedPeek)
	}
	conn := net.Conn(&prefixConn{Conn: raw, prefix: prefix})
	secure := false
	if route == RouteTLS {
		if m.cfg.TLS == nil {
			log.Warn("single port: TLS connection refused: this node has no TLS config")
			return m.reject(RefusedNoTLS)
		}
		ctx, cancel := context.WithDeadline(m.ctx, deadline)
		tc, err := ServerTLS(ctx, conn, m.cfg.TLS)
		cancel()
		if err != nil {
			log.Warn("single port: TLS handshake failed", "err", err)
			return m.reject(RefusedTLSHandshake)
		}
		m.tlsCount.Add(1)
		route, prefix, err = peek(tc, m.cfg.Prefixes)
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
		log.Warn("single port: unrecognised protocol refused", "first_bytes", fmt.Sprintf("%q", prefix))
		m.reject(RefusedUnknown)
		m.refuse(conn, 0, route, "")
		return nil, 0, RefusedUnknown
	case !secure && m.cfg.RequireTLS:
		log.Warn("single port: plaintext connection refused: this node requires TLS", "protocol", route.String())
		m.reject(RefusedTLSRequired)
		m.refuse(conn, wire.ReasonTLSRequired, route, "this port requires TLS")
		return nil, 0, RefusedTLSRequired
	}
	raw.SetDeadline(time.Time{})
	return conn, route, ""
}

// reject counts a refusal. It is called before any refusal is written, so
// a client that has read its refusal sees it counted.
func (m *Mux) reject(label string) (net.Conn, Route, string) {
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
		io.WriteString(c, "-ERR spook: "+text+"\r\n")
	case RouteHTTP:
		body := "spook: " + text + "\n"
		fmt.Fprintf(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
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
