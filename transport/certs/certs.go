package certs

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Year is 365 days, for validity periods.
const Year = 365 * 24 * time.Hour

// Defaults for validity periods.
const (
	DefaultCAValidity   = 10 * Year
	DefaultNodeValidity = 2 * Year
	// clockSkew backdates NotBefore so a node whose clock is slightly
	// behind the issuer's accepts a fresh certificate.
	clockSkew = time.Hour
)

// File names inside a certificate directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

var (
	// ErrNoCert is returned when a PEM file holds no certificate or key of
	// the expected kind.
	ErrNoCert = errors.New("certs: no certificate or key of the expected kind")
	// ErrNotCA is returned by LoadCA for a certificate that is not a CA.
	ErrNotCA = errors.New("certs: certificate is not a CA")
	// ErrUntrusted is returned by the VerifyConnection of ClientConfig for
	// a server certificate that does not chain to the cluster CA, has
	// expired, or does not name the expected peer; it wraps the x509 error.
	ErrUntrusted = errors.New("certs: peer certificate not trusted")
	// ErrKeyMismatch is returned when a certificate and key do not match.
	ErrKeyMismatch = errors.New("certs: certificate and key do not match")
	// ErrNodeCert is returned by CheckNodeCert for a certificate a node
	// must not serve with: a client certificate, one for another node, or
	// one that does not cover the node's advertised host.
	ErrNodeCert = errors.New("certs: not a usable node certificate")
)

// NodeURIPrefix starts the URI SAN that makes a certificate a node
// certificate: spook://node/NAME. Client certificates carry none, so a
// peer link accepts a certificate only when this SAN names the node its
// Hello claims (PeerName).
const NodeURIPrefix = "spook://node/"

// NodeName is the node a certificate was issued for (its
// spook://node/NAME SAN), or "" for any other certificate.
func NodeName(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if s := u.String(); strings.HasPrefix(s, NodeURIPrefix) {
			if name, err := url.PathUnescape(s[len(NodeURIPrefix):]); err == nil {
				return name
			}
		}
	}
	return ""
}

// CheckNodeCert checks, before a node starts, that cert can serve node
// name advertised at host: it is a node certificate for name, valid for
// both TLS server and client authentication, and its SANs cover host
// (an IP address or DNS name). Errors match ErrNodeCert and say what to
// issue instead.
func CheckNodeCert(cert *x509.Certificate, name, host string) error {
	got := NodeName(cert)
	server, client := false, false
	for _, u := range cert.ExtKeyUsage {
		server = server || u == x509.ExtKeyUsageServerAuth
		client = client || u == x509.ExtKeyUsageClientAuth
	}
	switch {
	case got == "" && client && !server:
		return fmt.Errorf("%w: %q is a client certificate; a node needs 'spook certs node %s'", ErrNodeCert, cert.Subject.CommonName, name)
	case got == "":
		return fmt.Errorf("%w: %q names no node (no %sNAME SAN; issued by an older 'spook certs'?): issue one with 'spook certs node %s'", ErrNodeCert, cert.Subject.CommonName, NodeURIPrefix, name)
	case got != name:
		return fmt.Errorf("%w: the certificate names node %q, this node is %q: issue one with 'spook certs node %s'", ErrNodeCert, got, name, name)
	case !server || !client:
		return fmt.Errorf("%w: the certificate for %q is not valid for both TLS server and client authentication", ErrNodeCert, name)
	}
	if host != "" {
		if err := cert.VerifyHostname(host); err != nil {
			return fmt.Errorf("%w: the certificate for %q does not cover the advertised host %s (it covers %s): reissue it with 'spook certs node %s --host %s'",
				ErrNodeCert, name, host, strings.Join(certHosts(cert), ", "), name, host)
		}
	}
	return nil
}

// certHosts lists a certificate's DNS and IP SANs.
func certHosts(cert *x509.Certificate) []string {
	hosts := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

// CA is a cluster certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  ed25519.PrivateKey
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA creates a self-signed ed25519 CA called name, valid from now
// (less an hour of skew) for validity (zero means DefaultCAValidity).
func NewCA(name string, validity time.Duration, now time.Time) (*CA, error) {
	if validity == 0 {
		validity = DefaultCAValidity
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Spook"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // nodes' certificates sign nothing
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, pub, key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Request describes a certificate to issue (Issue: a node's;
// IssueClient: a client's).
type Request struct {
	// Name is the node's (or client's) name: the certificate's common
	// name; for a node also a DNS SAN, so a dialler can check it reached
	// the node it meant, and the spook://node/NAME URI SAN that admits it
	// as a peer.
	Name string
	// Hosts are extra SANs of a node certificate: IP addresses or DNS
	// names the node is reached by. 127.0.0.1, ::1 and localhost are
	// always included. IssueClient ignores them.
	Hosts []string
	// Validity is how long the certificate is valid; zero means
	// DefaultNodeValidity. NotBefore/NotAfter, if set, override it (tests
	// issue expired certificates this way).
	Validity  time.Duration
	NotBefore time.Time
	NotAfter  time.Time
}

// Pair is an issued certificate with its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  ed25519.PrivateKey
}

// Issue signs a node certificate for req, valid for TLS server and client
// authentication, naming the node by a spook://node/NAME URI SAN.
func (ca *CA) Issue(req Request, now time.Time) (*Pair, error) {
	return ca.issue(req, now, true)
}

// IssueClient signs a client certificate for req (a Redis or HTTP
// client, or an operator's tool): valid for TLS client authentication
// only, with no node SAN and no host SANs, so it can never be taken for a
// node on either side of a peer link.
func (ca *CA) IssueClient(req Request, now time.Time) (*Pair, error) {
	return ca.issue(req, now, false)
}

func (ca *CA) issue(req Request, now time.Time, node bool) (*Pair, error) {
	if req.Name == "" {
		return nil, errors.New("certs: issue: empty name")
	}
	notBefore, notAfter := req.NotBefore, req.NotAfter
	if notBefore.IsZero() {
		notBefore = now.Add(-clockSkew)
	}
	if notAfter.IsZero() {
		validity := req.Validity
		if validity == 0 {
			validity = DefaultNodeValidity
		}
		notAfter = now.Add(validity)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.Name, Organization: []string{"Spook"}, OrganizationalUnit: []string{"node"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if !node {
		template.Subject.OrganizationalUnit = []string{"client"}
		template.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		return ca.sign(template, pub, key, req.Name)
	}
	nodeURI, err := url.Parse(NodeURIPrefix + url.PathEscape(req.Name))
	if err != nil {
		return nil, fmt.Errorf("certs: issue %q: %w", req.Name, err)
	}
	template.URIs = []*url.URL{nodeURI}
	seen := map[string]bool{}
	for _, h := range append([]string{req.Name, "localhost", "127.0.0.1", "::1"}, req.Hosts...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, h)
		}
	}
	return ca.sign(template, pub, key, req.Name)
}

func (ca *CA) sign(template *x509.Certificate, pub ed25519.PublicKey, key ed25519.PrivateKey, name string) (*Pair, error) {
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("certs: issue %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key}, nil
}

// CertPEM is the certificate in PEM form.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// KeyPEM is the private key in PKCS #8 PEM form.
func (p *Pair) KeyPEM() []byte { return keyPEM(p.Key) }

// CertPEM is the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM is the CA private key in PKCS #8 PEM form.
func (ca *CA) KeyPEM() []byte { return keyPEM(ca.Key) }

func keyPEM(k ed25519.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic("certs: marshal ed25519 key: " + err.Error()) // cannot fail for ed25519
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLSCertificate is the pair as a tls.Certificate.
func (p *Pair) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{p.Cert.Raw}, PrivateKey: p.Key, Leaf: p.Cert}
}

// WriteFiles writes ca.crt and ca.key into dir (created 0700 if missing),
// both with mode 0600. It refuses to overwrite an existing CA.
func (ca *CA) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), ca.KeyPEM()); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, CACertFile), ca.CertPEM())
}

// WriteFiles writes NAME.crt and NAME.key into dir with mode 0600,
// refusing to overwrite existing files.
func (p *Pair) WriteFiles(dir, name string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, name+".key"), p.KeyPEM()); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, name+".crt"), p.CertPEM())
}

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("certs: sync %s: %w", path, err)
	}
	return f.Close()
}

// LoadCA reads ca.crt and ca.key from dir (to issue node certificates).
func LoadCA(dir string) (*CA, error) {
	cert, err := readCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: %s", ErrNotCA, CACertFile)
	}
	key, err := readKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	if !key.Public().(ed25519.PublicKey).Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, dir)
	}
	return &CA{Cert: cert, Key: key}, nil
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s", ErrNoCert, path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: %s", ErrNoCert, path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not an ed25519 key", ErrNoCert, path)
	}
	return key, nil
}
