package chaos

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spooksystems/spook/transport/certs"
)

// certValidity is how long the test certificates are valid: far longer
// than any run and than the clock offsets nodes are given.
const certValidity = 24 * time.Hour

// authority is the run's cluster CA (package transport/certs, as `spook
// certs` uses it): one certificate per host, with the host's IP as a SAN,
// and one client certificate for the test process. Files live in dir.
type authority struct {
	ca     *certs.CA
	dir    string
	caFile string // the CA certificate in PEM, for --tls-ca
}

func newAuthority(dir string) (*authority, error) {
	ca, err := certs.NewCA("spook chaos test", certValidity, time.Now())
	if err != nil {
		return nil, err
	}
	if err := ca.WriteFiles(dir); err != nil {
		return nil, err
	}
	return &authority{ca: ca, dir: dir, caFile: filepath.Join(dir, certs.CACertFile)}, nil
}

// issue writes name.crt and name.key into the authority's directory: a
// certificate valid for TLS server and client use (a node serves and dials
// peers with it), naming ip when ip is set.
func (a *authority) issue(name string, ip net.IP) (*certs.Pair, error) {
	req := certs.Request{Name: name, Validity: certValidity}
	if ip != nil {
		req.Hosts = []string{ip.String()}
	}
	pair, err := a.ca.Issue(req, time.Now())
	if err != nil {
		return nil, err
	}
	if err := pair.WriteFiles(a.dir, name); err != nil {
		return nil, err
	}
	return pair, nil
}

// clientTLS is the TLS config of the test process's clients: TLS 1.3, a
// client certificate from the CA, servers verified against the CA.
func (a *authority) clientTLS() (*tls.Config, error) {
	pair, err := a.ca.IssueClient(certs.Request{Name: "chaos-client", Validity: certValidity}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	return certs.NewBundle(a.ca, pair).ClientConfig(""), nil
}
