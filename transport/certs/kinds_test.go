package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNodeAndClientCertificatesDiffer: a node certificate names its node
// (PeerName), a client certificate names none and is not valid for
// server authentication, so it can never stand for a node on either side
// of a link.
func TestNodeAndClientCertificatesDiffer(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.Issue(Request{Name: "n1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(Request{Name: "app"}, now)
	if err != nil {
		t.Fatal(err)
	}
	verified := func(p *Pair) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.Cert}, VerifiedChains: [][]*x509.Certificate{{p.Cert, ca.Cert}}}
	}
	if got := PeerName(verified(node)); got != "n1" {
		t.Fatalf("node certificate: PeerName %q, want n1", got)
	}
	if got := PeerName(verified(client)); got != "" {
		t.Fatalf("client certificate: PeerName %q, want none", got)
	}
	if NodeName(client.Cert) != "" || NodeName(node.Cert) != "n1" {
		t.Fatal("NodeName")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	_, err = client.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err == nil {
		t.Fatal("a client certificate is valid for server authentication")
	}
	if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate not valid for client authentication: %v", err)
	}
}

// TestCheckNodeCertificate: at startup a node refuses its own certificate
// when it names another node, is a client certificate, or does not cover
// the advertised host.
func TestCheckNodeCertificate(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("test", 0, now)
	node, _ := ca.Issue(Request{Name: "n1", Hosts: []string{"10.0.0.5", "n1.example"}}, now)
	client, _ := ca.IssueClient(Request{Name: "n1"}, now)
	for _, host := range []string{"10.0.0.5", "n1.example", "127.0.0.1", "localhost"} {
		if err := CheckNodeCert(node.Cert, "n1", host); err != nil {
			t.Fatalf("host %s: %v", host, err)
		}
	}
	for _, tc := range []struct {
		cert       *x509.Certificate
		name, host string
		want       string
	}{
		{node.Cert, "n2", "10.0.0.5", `names node "n1"`},
		{node.Cert, "n1", "10.0.0.6", "10.0.0.6"},
		{client.Cert, "n1", "127.0.0.1", "client certificate"},
	} {
		err := CheckNodeCert(tc.cert, tc.name, tc.host)
		if !errors.Is(err, ErrNodeCert) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s@%s: %v, want ErrNodeCert mentioning %q", tc.name, tc.host, err, tc.want)
		}
	}
}
