package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spooksystems/spook/wire"
)

// Link is an established link: a connection on some medium with the wire
// handshake done. Its *wire.Conn reads and writes frames (one reader and
// one writer goroutine at a time); Close closes the connection.
type Link struct {
	*wire.Conn
	conn net.Conn
}

// NetConn is the link's connection (a *tls.Conn for TLS links; see
// ConnectionState).
func (l *Link) NetConn() net.Conn { return l.conn }

// Close sends nothing and closes the connection; call WriteClose first
// for an orderly close the peer can log.
func (l *Link) Close() error { return l.conn.Close() }

// Open dials addr with d and runs the wire handshake as initiator. ctx
// bounds both the dial and the handshake; on error the connection is
// closed.
func Open(ctx context.Context, d Dialer, addr string, cfg wire.Config) (*Link, error) {
	c, err := d.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return handshake(ctx, c, wire.Initiator, cfg)
}

// Accept runs the wire handshake as responder on an accepted connection
// (from a Mux's Peer listener or any listener). ctx bounds the handshake;
// on error the connection is closed.
func Accept(ctx context.Context, c net.Conn, cfg wire.Config) (*Link, error) {
	return handshake(ctx, c, wire.Responder, cfg)
}

func handshake(ctx context.Context, c net.Conn, role wire.Role, cfg wire.Config) (*Link, error) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d) // an ErrNoDeadline stream is bounded by ctx's cancel only
	}
	// Cancelling ctx interrupts a blocked handshake by expiring deadlines,
	// and failing that (a stream without deadlines) by closing.
	stop := context.AfterFunc(ctx, func() {
		if c.SetDeadline(time.Unix(1, 0)) != nil {
			c.Close()
		}
	})
	wc, err := wire.Handshake(c, role, cfg)
	interrupted := !stop()
	if err != nil {
		c.Close()
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "remote error" {
			// A TLS 1.3 client learns that the server refused its
			// certificate only on its first read, here.
			err = fmt.Errorf("%w: peer refused the TLS session: %w", ErrTLSHandshake, err)
		}
		if interrupted {
			return nil, fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return &Link{Conn: wc, conn: c}, nil
}
