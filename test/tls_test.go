package test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/spooksystems/spook/transport/certs"
)

// tlsClient is a Redis client presenting the certificate NAME from dir.
func tlsClient(t *testing.T, addr, dir, name, caDir string) *redis.Client {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(caDir, certs.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 15 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}, RootCAs: pool, ServerName: "127.0.0.1"}})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestThreeNodesOverMutualTLS makes a CA and node certificates with the
// spook CLI, runs three spookd that require mutual TLS, and checks they
// converge; then checks what must be refused is refused and changes
// nothing: a plaintext client, a client whose certificate another CA
// signed, an expired certificate, and a node of another cluster.
func TestThreeNodesOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test skipped in -short mode")
	}
	dir, rogueDir := t.TempDir(), t.TempDir()
	spook := build(t, "spook")
	run := func(args ...string) {
		if out, err := exec.Command(spook, args...).CombinedOutput(); err != nil {
			t.Fatalf("spook %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("certs", "init", "--dir", dir)
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		run("certs", "node", n, "--dir", dir)
	}
	run("certs", "client", "client", "--dir", dir)
	run("certs", "init", "--dir", rogueDir)
	run("certs", "client", "client", "--dir", rogueDir)
	if info, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode: %v, %v", info.Mode(), err)
	}

	addrs := []string{freePort(t), freePort(t), freePort(t)}
	peers := fmt.Sprintf("--peers=n1=%s,n2=%s,n3=%s", addrs[0], addrs[1], addrs[2])
	var procs []*process
	for i, a := range addrs {
		name := fmt.Sprint("n", i+1)
		p := startSpookd(t, a, "--node-id", name, peers, "--log-level", "debug", "--tick", "20ms",
			"--tls-cert", filepath.Join(dir, name+".crt"), "--tls-key", filepath.Join(dir, name+".key"),
			"--tls-ca", filepath.Join(dir, "ca.crt"))
		defer p.kill()
		procs = append(procs, p)
	}
	ctx := context.Background()
	c1 := tlsClient(t, addrs[0], dir, "client", dir)
	c3 := tlsClient(t, addrs[2], dir, "client", dir)
	// SET and WAIT in one pipeline: one connection, so WAIT waits for
	// this write (a pooled client could otherwise send it on another).
	var wait *redis.Cmd
	if _, err := c1.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "hello", "over tls", 0)
		wait = p.Do(ctx, "WAIT", 2, 10000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := wait.Int(); err != nil || n != 2 {
		t.Fatalf("WAIT 2 over TLS = %d, %v\nn1: %s\nn2: %s\nn3: %s", n, err, procs[0].logs, procs[1].logs, procs[2].logs)
	}
	if v, err := c3.Get(ctx, "hello").Result(); err != nil || v != "over tls" {
		t.Fatalf("n3: GET hello = %q, %v", v, err)
	}

	// Refusals. Each must fail and leave n1's keyspace as it was.
	before, _ := c1.DBSize(ctx).Result()
	plain := redis.NewClient(&redis.Options{Addr: addrs[0], Protocol: 2, MaxRetries: -1, DialTimeout: 2 * time.Second})
	defer plain.Close()
	if err := plain.Set(ctx, "plain", "x", 0).Err(); err == nil {
		t.Fatal("a plaintext client was served by a TLS-only node")
	}
	rogue := tlsClient(t, addrs[0], rogueDir, "client", dir)
	if err := rogue.Set(ctx, "rogue", "x", 0).Err(); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	ca, err := certs.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old, err := ca.Issue(certs.Request{Name: "old", NotBefore: now.Add(-2 * time.Hour), NotAfter: now.Add(-time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.WriteFiles(dir, "old"); err != nil {
		t.Fatal(err)
	}
	expired := tlsClient(t, addrs[0], dir, "old", dir)
	if err := expired.Set(ctx, "expired", "x", 0).Err(); err == nil {
		t.Fatal("an expired client certificate was accepted")
	}
	// A node of another cluster, with a valid certificate, dials n1.
	a4 := freePort(t)
	p4 := startSpookd(t, a4, "--node-id", "n4", "--cluster", "other", "--peers=n4="+a4+",n1="+addrs[0],
		"--log-level", "info", "--tick", "20ms",
		"--tls-cert", filepath.Join(dir, "n4.crt"), "--tls-key", filepath.Join(dir, "n4.key"), "--tls-ca", filepath.Join(dir, "ca.crt"))
	defer p4.kill()
	c4 := tlsClient(t, a4, dir, "client", dir)
	time.Sleep(500 * time.Millisecond) // n4 dials n1 within its first ticks
	if v, err := c4.Get(ctx, "hello").Result(); err != redis.Nil {
		t.Fatalf("a node of another cluster received n1's data: %q, %v", v, err)
	}
	if !strings.Contains(procs[0].logs.String(), "cluster") {
		t.Fatalf("n1 did not log the cluster mismatch:\n%s", procs[0].logs)
	}
	if after, _ := c1.DBSize(ctx).Result(); after != before {
		t.Fatalf("refused connections changed n1's keyspace: %d keys, was %d", after, before)
	}
}
