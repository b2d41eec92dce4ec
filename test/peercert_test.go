package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/transport/certs"
	"github.com/spooksystems/spook/wire"
)

// TestPeerCertificateMustNameTheNode is issue 12 item 2 and issue 14
// item 17. Two nodes require mutual TLS. A client certificate from the
// same CA, and a node certificate of another node, must not open a peer
// link (each is refused at the handshake, naming why); a spookd whose
// certificate names another node, or does not cover its advertised
// address, must refuse to start with the reason.
func TestPeerCertificateMustNameTheNode(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir := t.TempDir()
	spook := build(t, "spook")
	run := func(args ...string) {
		if out, err := exec.Command(spook, args...).CombinedOutput(); err != nil {
			t.Fatalf("spook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("certs", "init", "--dir", dir)
	for _, n := range []string{"n1", "n2", "n3"} {
		run("certs", "node", n, "--dir", dir)
	}
	run("certs", "client", "app", "--dir", dir)
	tlsArgs := func(name string) []string {
		return []string{"--tls-cert", filepath.Join(dir, name+".crt"), "--tls-key", filepath.Join(dir, name+".key"),
			"--tls-ca", filepath.Join(dir, "ca.crt")}
	}
	a1, a2 := freePort(t), freePort(t)
	peers := fmt.Sprintf("--peers=n1=%s,n2=%s", a1, a2)
	p1 := startSpookd(t, a1, append([]string{"--node-id", "n1", peers, "--tick", "20ms", "--log-level", "info"}, tlsArgs("n1")...)...)
	defer p1.kill()

	// A hand-made peer: TLS with the given certificate, then the wire
	// handshake claiming to be node claim.
	peerWith := func(certName, claim string) error {
		b, err := certs.LoadBundle(dir, certName)
		if err != nil {
			return err
		}
		raw, err := net.DialTimeout("tcp", a1, 2*time.Second)
		if err != nil {
			return err
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{b.Pair.TLSCertificate()},
			RootCAs: x509Pool(b), ServerName: "127.0.0.1"})
		if err := tc.HandshakeContext(context.Background()); err != nil {
			return err
		}
		_, err = wire.Handshake(tc, wire.Initiator, wire.Config{Local: wire.Hello{ClusterID: "spook",
			Node: causal.NodeIDFromName(claim), NodeName: claim, Addr: "127.0.0.1:1"}})
		return err
	}
	if err := peerWith("n2", "n2"); err != nil {
		t.Fatalf("n2's own certificate was refused: %v", err)
	}
	for _, tc := range []struct{ cert, claim, want string }{
		{"app", "app", "no node certificate"},
		{"app", "n2", "no node certificate"},
		{"n3", "n2", `certificate is for node "n3"`},
	} {
		err := peerWith(tc.cert, tc.claim)
		if !errors.Is(err, wire.ErrPeerRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("certificate %s claiming %s: %v, want a refusal saying %q\n%s", tc.cert, tc.claim, err, tc.want, p1.logs)
		}
	}

	// Startup checks of the node's own certificate.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"--node-id", "n2", peers}, tlsArgs("n1")...), `names node "n1"`},
		{append([]string{"--node-id", "n2", peers}, tlsArgs("app")...), "client certificate"},
		{append([]string{"--node-id", "n2", peers, "--advertise", "10.9.9.9:7000"}, tlsArgs("n2")...), "does not cover the advertised host 10.9.9.9"},
	} {
		out := startSpookdExpectExit(t, a2, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Fatalf("%v: want a refusal saying %q, got:\n%s", tc.args, tc.want, out)
		}
	}
}

func x509Pool(b *certs.Bundle) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(b.CA)
	return p
}
