package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/node"
)

// TestPolicySignNamesCluster: spook audit policy sign always writes a
// spook-policy v2 document naming the cluster (from --cluster or the
// draft's cluster line, which must agree), which verifies for that
// cluster only; a draft naming no cluster is refused without --cluster.
func TestPolicySignNamesCluster(t *testing.T) {
	dir := t.TempDir()
	opKey, keys := filepath.Join(dir, "op.key"), filepath.Join(dir, "keys")
	if _, _, err := run("audit", "policy", "keygen", "--out", opKey, "--keys", keys); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(keys, node.OperatorKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := filepath.Join(dir, "v1.txt"), filepath.Join(dir, "v2.txt")
	os.WriteFile(v1, []byte("spook-policy v1\nversion 1\nnode n1 \"a/\"\n"), 0o644)
	os.WriteFile(v2, []byte("spook-policy v2\ncluster \"prod\"\nversion 1\nnode n1 \"a/\"\n"), 0o644)
	if _, _, err := run("audit", "policy", "sign", "--key", opKey, v1); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Fatalf("sign of a draft naming no cluster, without --cluster: %v", err)
	}
	if _, _, err := run("audit", "policy", "sign", "--key", opKey, "--cluster", "test", v2); err == nil || !strings.Contains(err.Error(), "prod") {
		t.Fatalf("sign --cluster test of a draft for prod: %v", err)
	}
	for _, args := range [][]string{{"--cluster", "prod", v1}, {v2}, {"--cluster", "prod", v2}} {
		out, _, err := run(append([]string{"audit", "policy", "sign", "--key", opKey}, args...)...)
		if err != nil {
			t.Fatalf("sign %q: %v", args, err)
		}
		if want := "spook-policy v2\nversion 1\ncluster \"prod\"\nnode n1 \"a/\"\nsignature "; !strings.HasPrefix(out, want) {
			t.Fatalf("sign %q:\n%s\nwant prefix:\n%s", args, out, want)
		}
		if _, err := audit.VerifyPolicyFor([]byte(out), ed25519.PublicKey(pub), "prod"); err != nil {
			t.Fatalf("sign %q: %v", args, err)
		}
		if _, err := audit.VerifyPolicyFor([]byte(out), ed25519.PublicKey(pub), "test"); !errors.Is(err, audit.ErrPolicyCluster) {
			t.Fatalf("sign %q for another cluster: %v, want ErrPolicyCluster", args, err)
		}
	}
}

// TestPolicyApplyChecksCluster: spook audit policy apply refuses, before
// sending it, a document for another cluster than the node's.
func TestPolicyApplyChecksCluster(t *testing.T) {
	posted := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/v1/status":
			io.WriteString(w, `{"name":"n1","cluster":"prod","applied":{},"collapsed":{},"members":[]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/audit/policy":
			posted++
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	op := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	dir := t.TempDir()
	for _, c := range []struct {
		cluster string
		ok      bool
	}{{"test", false}, {"prod", true}, {"", true}} {
		p := &audit.Policy{Version: 1, Cluster: c.cluster, Rules: []audit.Rule{{Kind: audit.RuleNode, Name: "n1", Prefix: []byte("a/")}}}
		p.Sign(op)
		doc := filepath.Join(dir, "signed-"+c.cluster+".txt")
		os.WriteFile(doc, p.Canonical(), 0o644)
		before := posted
		_, _, err := run("audit", "policy", "apply", "--addr", srv.URL, doc)
		if c.ok != (err == nil) || c.ok != (posted == before+1) {
			t.Fatalf("apply of a policy for %q to a node of prod: %v (posted %d)", c.cluster, err, posted-before)
		}
		if !c.ok && !strings.Contains(err.Error(), `"test"`) {
			t.Fatalf("apply of a policy for another cluster: %v, want the cluster named", err)
		}
	}
}
