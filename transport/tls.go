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

// OpenProbePaths are the HTTP paths served to TLS clients without a
// client certificate on a node that otherwise requires one: health and
// readiness probes (Kubernetes), metrics (Prometheus), and the WebSocket
// peer endpoint, whose links authenticate with TLS inside the link.
var OpenProbePaths = []string{"/healthz", "/readyz", "/metrics", "/v1/peer"}

// RelaxClientAuth prepares a server config that requires client
// certificates (tls.RequireAndVerifyClientCert) for the single port,
// where probes must reach OpenProbePaths without one: it returns a copy
// that verifies a certificate if given (tls.VerifyClientCertIfGiven),
// and true. The caller must then demand a verified certificate on every
// other route: MuxConfig.RequireClientCert for peers and RESP, and
// ClientCertMissing per HTTP request. Any other config is returned as is,
// with false.
func RelaxClientAuth(cfg *tls.Config) (*tls.Config, bool) {
	if cfg == nil || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		return cfg, false
	}
	cfg = cfg.Clone()
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return cfg, true
}

// ClientCertMissing reports whether c (a connection handed out by a Mux)
// came through TLS without a verified client certificate. Plaintext
// connections report false: whether they are allowed at all is
// MuxConfig.RequireTLS's decision.
func ClientCertMissing(c net.Conn) bool {
	cs, ok := ConnectionState(c)
	return ok && len(cs.VerifiedChains) == 0
}
