package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"

	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestProbesWithoutClientCertificate is issue 14 item 18: on a node that
// requires mutual TLS, /healthz, /readyz and /metrics answer TLS clients
// without a certificate (Kubernetes probes, a plain Prometheus), and
// nothing else does: other HTTP paths, RESP and peer links still need a
// verified client certificate.
func TestProbesWithoutClientCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir := t.TempDir()
	spook := build(t, "spook")
	for _, args := range [][]string{{"certs", "init", "--dir", dir}, {"certs", "node", "n1", "--dir", dir}, {"certs", "client", "app", "--dir", dir}} {
		if out, err := exec.Command(spook, args...).CombinedOutput(); err != nil {
			t.Fatalf("spook %v: %v\n%s", args, err, out)
		}
	}
	addr := freePort(t)
	p := startSpookd(t, addr, "--node-id", "n1", "--log-level", "info", "--tls-cert", filepath.Join(dir, "n1.crt"),
		"--tls-key", filepath.Join(dir, "n1.key"), "--tls-ca", filepath.Join(dir, "ca.crt"))
	defer p.kill()
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "127.0.0.1"}
	get := func(cfg *tls.Config, path string) (int, error) {
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
		resp, err := c.Get("https://" + addr + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, err := get(noCert, path); err != nil || status != 200 {
			t.Fatalf("%s without a client certificate: %d %v\n%s", path, status, err, p.logs)
		}
	}
	for _, path := range []string{"/v1/status", "/v1/kv/x", "/v1/members"} {
		if status, err := get(noCert, path); err == nil && status < 400 {
			t.Fatalf("%s answered %d without a client certificate", path, status)
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "app.crt"), filepath.Join(dir, "app.key"))
	if err != nil {
		t.Fatal(err)
	}
	withCert := noCert.Clone()
	withCert.Certificates = []tls.Certificate{pair}
	if status, err := get(withCert, "/v1/status"); err != nil || status != 200 {
		t.Fatalf("/v1/status with a client certificate: %d %v", status, err)
	}
	ctx := context.Background()
	r := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, TLSConfig: noCert, DialTimeout: 2 * time.Second})
	defer r.Close()
	if err := r.Set(ctx, "k", "v", 0).Err(); err == nil {
		t.Fatal("RESP without a client certificate was served")
	}
	r2 := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, TLSConfig: withCert, DialTimeout: 2 * time.Second})
	defer r2.Close()
	if err := r2.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("RESP with a client certificate: %v", err)
	}
	if strings.Contains(p.logs.String(), "panic") {
		t.Fatal(p.logs)
	}
}
