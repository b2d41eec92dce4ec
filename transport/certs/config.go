package certs

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
)

// Bundle is what a node needs for TLS: the cluster CA's certificate and
// its own certificate and key.
type Bundle struct {
	CA   *x509.Certificate
	Pair *Pair
}

// LoadBundle reads ca.crt, NAME.crt and NAME.key from dir. It does not
// need ca.key.
func LoadBundle(dir, name string) (*Bundle, error) {
	ca, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	cert, err := readCert(filepath.Join(dir, name+".crt"))
	if err != nil {
		return nil, err
	}
	key, err := readKey(filepath.Join(dir, name+".key"))
	if err != nil {
		return nil, err
	}
	if !key.Public().(ed25519.PublicKey).Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, name)
	}
	return &Bundle{CA: ca, Pair: &Pair{Cert: cert, Key: key}}, nil
}

// NewBundle is a Bundle from values in memory (tests, embedding).
func NewBundle(ca *CA, pair *Pair) *Bundle { return &Bundle{CA: ca.Cert, Pair: pair} }

func (b *Bundle) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(b.CA)
	return p
}

// ClientAuth says what a server demands of clients.
type ClientAuth uint8

const (
	// RequirePeerCert demands a client certificate chained to the CA: the
	// setting for links between nodes.
	RequirePeerCert ClientAuth = iota
	// OptionalClientCert verifies a client certificate if one is sent and
	// accepts clients without one: for RESP/HTTP clients on a shared port.
	// Whoever serves peers on such a config must check the peer presented
	// a verified certificate (transport.Mux does).
	OptionalClientCert
)

// ServerConfig is a TLS 1.3 server config presenting the node's
// certificate and verifying client certificates against the CA.
// Session tickets are disabled: resumption would skip the client
// certificate check on reconnect, and a server writing tickets after the
// handshake deadlocks over unbuffered streams.
func (b *Bundle) ServerConfig(auth ClientAuth) *tls.Config {
	cfg := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{b.Pair.TLSCertificate()},
		ClientCAs:              b.pool(),
		ClientAuth:             tls.RequireAndVerifyClientCert,
		SessionTicketsDisabled: true,
	}
	if auth == OptionalClientCert {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg
}

// ClientConfig is a TLS 1.3 client config presenting the node's
// certificate. It verifies that the server's certificate chains to the
// cluster CA and is valid for server authentication; if peerName is not
// empty, also that the certificate names it (a node name or a host from
// its SANs). Verification is by chain rather than by the dialled address,
// because links run over media without host names (Unix sockets, pipes,
// memory); errors match ErrUntrusted.
func (b *Bundle) ClientConfig(peerName string) *tls.Config {
	pool := b.pool()
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{b.Pair.TLSCertificate()},
		RootCAs:      pool,
		ServerName:   peerName,
		// Standard verification needs a host name; VerifyConnection below
		// does the same chain check without one.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeer(cs, pool, peerName, x509.ExtKeyUsageServerAuth)
		},
	}
}

// verifyPeer checks the peer's chain against pool, for usage, at the
// current time, and against name if not empty.
func verifyPeer(cs tls.ConnectionState, pool *x509.CertPool, name string, usage x509.ExtKeyUsage) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("%w: no certificate", ErrUntrusted)
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{usage},
		DNSName:       name,
	})
	if err != nil {
		return fmt.Errorf("%w: %q: %w", ErrUntrusted, leaf.Subject.CommonName, err)
	}
	return nil
}

// PeerName is the verified node name of the peer of a TLS connection
// (the spook://node/NAME SAN of its certificate), or "" if the peer
// presented no verified certificate or a certificate that is not a node
// certificate (a client certificate). The node accepts a peer link only
// when this equals the name in the peer's Hello.
func PeerName(cs tls.ConnectionState) string {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return NodeName(cs.VerifiedChains[0][0])
}
