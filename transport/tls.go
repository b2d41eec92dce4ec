package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
)

// TLSDialer runs TLS 1.3 (client side) over any Dialer's streams, so a
// link has the same security on every medium. Config comes from
// certs.Bundle.ClientConfig; a Config allowing versions below TLS 1.3 is
// raised to 1.3.
type TLSDialer struct {
	Dialer Dialer
	Config *tls.Config
}

// Dial dials addr with the inner Dialer and completes the TLS handshake
// within ctx. Handshake failures match ErrTLSHandshake and wrap the cause
// (certs.ErrUntrusted, x509 errors, alerts from the server).
func (d *TLSDialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	raw, err := d.Dialer.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	c, err := ClientTLS(ctx, raw, d.Config)
	if err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

// ClientTLS runs the client side of a TLS 1.3 handshake over conn within
// ctx. On error the caller still owns (and closes) conn.
func ClientTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	c := tls.Client(conn, tls13(cfg))
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
	return c, nil
}

// ServerTLS runs the server side of a TLS 1.3 handshake over conn within
// ctx. On error the caller still owns (and closes) conn.
func ServerTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	c := tls.Server(conn, tls13(cfg))
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
	}
	return c, nil
}

func tls13(cfg *tls.Config) *tls.Config {
	if cfg.MinVersion >= tls.VersionTLS13 {
		return cfg
	}
	cfg = cfg.Clone()
	cfg.MinVersion = tls.VersionTLS13
	return cfg
}
