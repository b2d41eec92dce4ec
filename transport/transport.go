package transport

import (
	"context"
	"errors"
	"net"
)

// Sentinel errors.
var (
	// ErrTLSHandshake wraps a failed TLS handshake: an untrusted, expired
	// or missing certificate, or a peer that does not speak TLS 1.3.
	ErrTLSHandshake = errors.New("transport: TLS handshake failed")
	// ErrNoDeadline is returned by deadline setters of a StreamConn whose
	// stream cannot be interrupted.
	ErrNoDeadline = errors.New("transport: stream does not support deadlines")
	// ErrMuxClosed is returned by a Mux listener's Accept after the Mux or
	// that listener is closed. It matches net.ErrClosed.
	ErrMuxClosed = errors.New("transport: mux closed")
	// ErrBadURL is returned by WSDialer for an address that is not a ws://
	// or wss:// URL.
	ErrBadURL = errors.New("transport: not a ws:// or wss:// URL")
)

// Dialer opens a byte stream to an address. The address format belongs to
// the implementation: host:port for TCP, a path for Unix sockets, a URL
// for WebSocket, a name for mem. Dial honours ctx for the connection
// attempt only; the returned conn outlives it.
type Dialer interface {
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// The listener side of every medium is a net.Listener: net.Listen for TCP
// and Unix sockets, WSHandler for WebSocket, mem.Listener for memory, and
// the listeners of a Mux for a shared port.

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, addr string) (net.Conn, error)

func (f DialerFunc) Dial(ctx context.Context, addr string) (net.Conn, error) { return f(ctx, addr) }

// NetDialer dials a net package network: "tcp", "tcp4", "tcp6" or "unix".
// The zero Network means "tcp".
type NetDialer struct {
	Network string
	Dialer  net.Dialer
}

// TCP dials host:port over TCP.
var TCP Dialer = &NetDialer{Network: "tcp"}

// Unix dials a Unix domain socket path.
var Unix Dialer = &NetDialer{Network: "unix"}

func (d *NetDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	network := d.Network
	if network == "" {
		network = "tcp"
	}
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// Frames are batched and flushed by the writer; Nagle would only
		// add latency to the last frame of a batch.
		tc.SetNoDelay(true)
	}
	return c, nil
}
