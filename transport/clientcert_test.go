package transport

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/spooksystems/spook/transport/certs"
)

// TestRelaxedClientAuth: a config that requires client certificates,
// relaxed for probes, still refuses RESP without one (RequireClientCert)
// and lets HTTP through (its server checks the path with
// ClientCertMissing; test/probes_test.go runs the whole node); with a
// certificate, everything is served.
func TestRelaxedClientAuth(t *testing.T) {
	strict := testPKI.b.ServerConfig(certs.RequirePeerCert)
	relaxed, ok := RelaxClientAuth(strict)
	if !ok || relaxed.ClientAuth != tls.VerifyClientCertIfGiven || strict.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("relaxed %v %v, original now %v", ok, relaxed.ClientAuth, strict.ClientAuth)
	}
	if same, ok := RelaxClientAuth(testPKI.b.ServerConfig(certs.OptionalClientCert)); ok || same.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Fatal("an optional-certificate config was changed")
	}
	s := newSinglePort(t, MuxConfig{TLS: relaxed, RequireTLS: true, RequireClientCert: true})
	if got := s.resp(t, noCertConfig(), "PING\r\n"); !strings.Contains(got, "requires a client certificate") {
		t.Fatalf("RESP without a certificate: %q", got)
	}
	withCert := testPKI.a.ClientConfig("b")
	if got := s.resp(t, withCert, "PING\r\n"); got != "+PONG\r\n" {
		t.Fatalf("RESP with a certificate: %q", got)
	}
	if code, body := s.get(t, noCertConfig(), "/healthz"); code != http.StatusOK || !strings.Contains(body, "tls=true") {
		t.Fatalf("HTTP without a certificate: %d %q", code, body)
	}
	if st := s.mux.Stats(); st.Refused[RefusedNoClientCert] != 1 {
		t.Fatalf("refusals %+v", st.Refused)
	}
}
