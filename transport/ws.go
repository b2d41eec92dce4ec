package transport

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// WSSubprotocol is the WebSocket subprotocol a link negotiates; a server
// refuses clients that do not offer it.
const WSSubprotocol = "spook.link.v1"

// MaxWSAcceptQueue is how many accepted WebSocket connections may wait for
// Accept; ServeHTTP blocks (until the request is cancelled or the handler
// closed) while the queue is full.
const MaxWSAcceptQueue = 64

// WSDialer dials ws:// or wss:// URLs and presents the WebSocket as a
// byte stream (each Write is one binary message). Run TLSDialer over it
// for mutual TLS inside the WebSocket, as on every medium; wss:// adds the
// web's TLS on top, for proxies that demand it.
type WSDialer struct {
	// HTTPClient makes the upgrade request; nil means a client with no
	// proxy-level timeout (the dial's ctx bounds the upgrade).
	HTTPClient *http.Client
}

func (d *WSDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	if !strings.HasPrefix(addr, "ws://") && !strings.HasPrefix(addr, "wss://") {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, addr)
	}
	c, resp, err := websocket.Dial(ctx, addr, &websocket.DialOptions{
		HTTPClient:   d.HTTPClient,
		Subprotocols: []string{WSSubprotocol},
	})
	if err != nil {
		return nil, fmt.Errorf("transport: websocket dial %s: %w", addr, err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if c.Subprotocol() != WSSubprotocol {
		c.Close(websocket.StatusPolicyViolation, "subprotocol "+WSSubprotocol+" required")
		return nil, fmt.Errorf("transport: websocket %s: server did not accept subprotocol %s", addr, WSSubprotocol)
	}
	// The conn outlives the dial: its context must not be ctx.
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), nil
}

// WSHandler is an http.Handler that upgrades requests to WebSocket links
// and a net.Listener that hands them out, so the node serves links on an
// HTTP path (mount it on the single port's HTTP server) and accepts them
// like any other listener.
type WSHandler struct {
	// OriginPatterns is passed to websocket.AcceptOptions. Links come from
	// nodes, not browsers, so the default (same origin only) is right.
	OriginPatterns []string

	once   sync.Once
	queue  chan net.Conn
	closed chan struct{}
	close  sync.Once
	addr   net.Addr
}

var (
	_ http.Handler = (*WSHandler)(nil)
	_ net.Listener = (*WSHandler)(nil)
)

// NewWSHandler returns a WSHandler whose Addr reports addr (the HTTP
// server's address).
func NewWSHandler(addr net.Addr) *WSHandler {
	h := &WSHandler{addr: addr}
	h.init()
	return h
}

func (h *WSHandler) init() {
	h.once.Do(func() {
		h.queue = make(chan net.Conn, MaxWSAcceptQueue)
		h.closed = make(chan struct{})
	})
}

func (h *WSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	select {
	case <-h.closed:
		http.Error(w, "spook: link listener closed", http.StatusServiceUnavailable)
		return
	default:
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:   []string{WSSubprotocol},
		OriginPatterns: h.OriginPatterns,
	})
	if err != nil {
		return // Accept has written the HTTP error
	}
	if c.Subprotocol() != WSSubprotocol {
		c.Close(websocket.StatusPolicyViolation, "subprotocol "+WSSubprotocol+" required")
		return
	}
	// The hijacked connection outlives the request; r.Context ends when
	// ServeHTTP returns.
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	select {
	case h.queue <- nc:
	case <-h.closed:
		nc.Close()
	case <-r.Context().Done():
		nc.Close()
	}
}

// Accept waits for the next upgraded connection.
func (h *WSHandler) Accept() (net.Conn, error) {
	h.init()
	select {
	case c := <-h.queue:
		return c, nil
	case <-h.closed:
		return nil, fmt.Errorf("%w: websocket listener", net.ErrClosed)
	}
}

// Close stops accepting: later upgrades are refused with 503 and queued
// connections are closed. Connections already accepted are the caller's.
func (h *WSHandler) Close() error {
	h.init()
	h.close.Do(func() {
		close(h.closed)
		for {
			select {
			case c := <-h.queue:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr is the address given to NewWSHandler, or a placeholder.
func (h *WSHandler) Addr() net.Addr {
	if h.addr != nil {
		return h.addr
	}
	return wsAddr{}
}

type wsAddr struct{}

func (wsAddr) Network() string { return "websocket" }
func (wsAddr) String() string  { return "websocket" }
