package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestInitIssueWriteLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	now := time.Now()
	ca, err := NewCA("test", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Before(now.Add(9*Year)) {
		t.Fatalf("CA: IsCA=%v NotAfter=%v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	if err := ca.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteFiles(dir); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second init overwrote the CA: %v", err)
	}
	loaded, err := LoadCA(dir)
	if err != nil || !loaded.Cert.Equal(ca.Cert) {
		t.Fatalf("LoadCA: %v", err)
	}
	node, err := loaded.Issue(Request{Name: "node-a", Hosts: []string{"10.1.2.3", "a.example"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WriteFiles(dir, "node-a"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CACertFile, CAKeyFile, "node-a.crt", "node-a.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v", f, fi.Mode(), err)
		}
	}
	b, err := LoadBundle(dir, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	c := b.Pair.Cert
	if c.Subject.CommonName != "node-a" || !slices.Contains(c.DNSNames, "node-a") || !slices.Contains(c.DNSNames, "localhost") || !slices.Contains(c.DNSNames, "a.example") {
		t.Fatalf("DNS SANs %v", c.DNSNames)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, want := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
		if !slices.Contains(ips, want) {
			t.Fatalf("IP SANs %v lack %s", ips, want)
		}
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Fatalf("ExtKeyUsage %v", c.ExtKeyUsage)
	}
	if c.PublicKeyAlgorithm != x509.Ed25519 {
		t.Fatalf("key algorithm %v", c.PublicKeyAlgorithm)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "node-a", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node cert does not verify: %v", err)
	}
	s, cl := b.ServerConfig(RequirePeerCert), b.ClientConfig("node-b")
	if s.MinVersion != tls.VersionTLS13 || cl.MinVersion != tls.VersionTLS13 || s.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatal("configs are not TLS 1.3 with required client certificates")
	}
	if b.ServerConfig(OptionalClientCert).ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatal("optional client certs not configured")
	}
}

func TestLoadRefusals(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _ := NewCA("one", 0, now)
	other, _ := NewCA("two", 0, now)
	if err := ca.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	// A certificate with someone else's key.
	p1, _ := ca.Issue(Request{Name: "n"}, now)
	p2, _ := other.Issue(Request{Name: "n"}, now)
	os.WriteFile(filepath.Join(dir, "n.crt"), p1.CertPEM(), 0o600)
	os.WriteFile(filepath.Join(dir, "n.key"), p2.KeyPEM(), 0o600)
	if _, err := LoadBundle(dir, "n"); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("mismatched key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "junk.crt"), []byte("not pem"), 0o600)
	if _, err := LoadBundle(dir, "junk"); !errors.Is(err, ErrNoCert) {
		t.Fatalf("junk cert: %v", err)
	}
	// A node certificate posing as the CA.
	nodeDir := t.TempDir()
	os.WriteFile(filepath.Join(nodeDir, CACertFile), p1.CertPEM(), 0o600)
	os.WriteFile(filepath.Join(nodeDir, CAKeyFile), p1.KeyPEM(), 0o600)
	if _, err := LoadCA(nodeDir); !errors.Is(err, ErrNotCA) {
		t.Fatalf("node cert as CA: %v", err)
	}
}

func TestVerifyPeer(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("one", 0, now)
	other, _ := NewCA("two", 0, now)
	good, _ := ca.Issue(Request{Name: "b"}, now)
	foreign, _ := other.Issue(Request{Name: "b"}, now)
	expired, _ := ca.Issue(Request{Name: "b", NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}, now)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	state := func(p *Pair) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.Cert}}
	}
	if err := verifyPeer(state(good), pool, "b", x509.ExtKeyUsageServerAuth); err != nil {
		t.Fatal(err)
	}
	var ua x509.UnknownAuthorityError
	if err := verifyPeer(state(foreign), pool, "", x509.ExtKeyUsageServerAuth); !errors.Is(err, ErrUntrusted) || !errors.As(err, &ua) {
		t.Fatalf("foreign: %v", err)
	}
	var ci x509.CertificateInvalidError
	if err := verifyPeer(state(expired), pool, "", x509.ExtKeyUsageServerAuth); !errors.As(err, &ci) || ci.Reason != x509.Expired {
		t.Fatalf("expired: %v", err)
	}
	var he x509.HostnameError
	if err := verifyPeer(state(good), pool, "c", x509.ExtKeyUsageServerAuth); !errors.As(err, &he) {
		t.Fatalf("wrong name: %v", err)
	}
	if err := verifyPeer(tls.ConnectionState{}, pool, "", x509.ExtKeyUsageServerAuth); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("no certificate: %v", err)
	}
}
