package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/spooksystems/spook/wire"
)

func policyKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("policy test " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// TestPolicyRoundTrip: a draft in any order, with comments, signs to a
// canonical document that parses back to the same rules and verifies;
// rights follow the rules.
func TestPolicyRoundTrip(t *testing.T) {
	draft := "# rights\nspook-policy v1\n\nversion 3\nuser alice \"app/alice/\"\nnode n2 \"\"\nnode n1 \"app/\"\nnode n1 \"app/\"\nnode * \"shared/\"\n"
	p, err := ParsePolicy([]byte(draft), false)
	if err != nil {
		t.Fatal(err)
	}
	op := policyKey("operator")
	p.Sign(op)
	doc := p.Canonical()
	want := "spook-policy v1\nversion 3\nnode * \"shared/\"\nnode n1 \"app/\"\nnode n2 \"\"\nuser alice \"app/alice/\"\nsignature "
	if !strings.HasPrefix(string(doc), want) {
		t.Fatalf("canonical form:\n%s\nwant prefix:\n%s", doc, want)
	}
	q, err := VerifyPolicyFor(doc, op.Public().(ed25519.PublicKey), "prod")
	if err != nil || q.Version != 3 || len(q.Rules) != 4 {
		t.Fatalf("VerifyPolicy: %v, %+v", err, q)
	}
	for _, c := range []struct {
		node, key string
		want      bool
	}{{"n1", "app/x", true}, {"n1", "other", false}, {"n3", "shared/x", true}, {"n3", "app/x", false}, {"n2", "anything", true}} {
		if got := q.NodeMay(c.node, []byte(c.key)); got != c.want {
			t.Errorf("NodeMay(%s, %s) = %v, want %v", c.node, c.key, got, c.want)
		}
	}
	if !q.UserMay("alice", []byte("app/alice/1")) || q.UserMay("bob", []byte("app/alice/1")) {
		t.Errorf("UserMay does not follow the user rules")
	}
	if (&Policy{Version: 1}).UserMay("bob", []byte("x")) != true {
		t.Errorf("a policy without user rules restricts users")
	}
}

// TestPolicyRefusals: another signer, a changed byte, a non-canonical
// document and the named limits are refused.
func TestPolicyRefusals(t *testing.T) {
	op := policyKey("operator")
	pub := op.Public().(ed25519.PublicKey)
	p := &Policy{Version: 2, Rules: []Rule{{Kind: RuleNode, Name: "n1", Prefix: []byte("a/")}}}
	p.Sign(policyKey("intruder"))
	if _, err := VerifyPolicyFor(p.Canonical(), pub, "prod"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("other signer: %v", err)
	}
	p.Sign(op)
	doc := p.Canonical()
	changed := []byte(strings.Replace(string(doc), `"a/"`, `"b/"`, 1))
	if _, err := VerifyPolicyFor(changed, pub, "prod"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("changed rule: %v", err)
	}
	spaced := []byte(strings.Replace(string(doc), "version 2", "version  2", 1))
	if _, err := VerifyPolicyFor(spaced, pub, "prod"); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("non-canonical: %v", err)
	}
	unsigned := (&Policy{Version: 2}).Canonical()
	if _, err := VerifyPolicyFor(unsigned, pub, "prod"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("unsigned: %v", err)
	}
	long := "spook-policy v1\nversion 1\nnode n1 \"" + strings.Repeat("x", MaxPolicyPrefixBytes+1) + "\"\n"
	if _, err := ParsePolicy([]byte(long), false); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("prefix over MaxPolicyPrefixBytes: %v", err)
	}
	many := "spook-policy v1\nversion 1\n" + strings.Repeat("node n1 \"a\"\n", MaxPolicyRules+1)
	if _, err := ParsePolicy([]byte(many), false); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("rules over MaxPolicyRules: %v", err)
	}
}

// TestPolicyClusterRoundTrip: a policy naming its cluster signs to a
// spook-policy v2 document, with the cluster line after the version, that
// verifies for that cluster and no other.
func TestPolicyClusterRoundTrip(t *testing.T) {
	draft := "spook-policy v2\nnode n1 \"app/\"\ncluster \"prod eu\"\nversion 4\n"
	p, err := ParsePolicy([]byte(draft), false)
	if err != nil {
		t.Fatal(err)
	}
	op := policyKey("operator")
	pub := op.Public().(ed25519.PublicKey)
	p.Sign(op)
	doc := p.Canonical()
	want := "spook-policy v2\nversion 4\ncluster \"prod eu\"\nnode n1 \"app/\"\nsignature "
	if !strings.HasPrefix(string(doc), want) {
		t.Fatalf("canonical form:\n%s\nwant prefix:\n%s", doc, want)
	}
	q, err := VerifyPolicyFor(doc, pub, "prod eu")
	if err != nil || q.Version != 4 || q.Cluster != "prod eu" || !q.NodeMay("n1", []byte("app/x")) {
		t.Fatalf("VerifyPolicyFor: %v, %+v", err, q)
	}
	for _, other := range []string{"prod", "", "prod eu "} {
		if _, err := VerifyPolicyFor(doc, pub, other); !errors.Is(err, ErrPolicyCluster) {
			t.Fatalf("VerifyPolicyFor(cluster %q): %v, want ErrPolicyCluster", other, err)
		}
	}
}

// TestPolicyV1Legacy: a v1 document (no cluster line) still parses and
// verifies for any cluster, so policies already applied keep loading; it
// may not carry a cluster line.
func TestPolicyV1Legacy(t *testing.T) {
	op := policyKey("operator")
	pub := op.Public().(ed25519.PublicKey)
	p := &Policy{Version: 2, Rules: []Rule{{Kind: RuleNode, Name: "n1", Prefix: []byte("a/")}}}
	p.Sign(op)
	doc := p.Canonical()
	if !strings.HasPrefix(string(doc), "spook-policy v1\nversion 2\nnode") {
		t.Fatalf("a policy without a cluster is not a v1 document:\n%s", doc)
	}
	for _, cluster := range []string{"prod", "other"} {
		if q, err := VerifyPolicyFor(doc, pub, cluster); err != nil || q.Cluster != "" {
			t.Fatalf("v1 for %q: %v, %+v", cluster, err, q)
		}
	}
	withCluster := "spook-policy v1\nversion 1\ncluster \"prod\"\nnode n1 \"\"\n"
	if _, err := ParsePolicy([]byte(withCluster), false); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("v1 with a cluster line: %v, want ErrBadPolicy", err)
	}
}

// TestPolicyRelabelRefused: a signed document moved between formats or
// clusters is refused: a v1 signature relabelled v2 (with a cluster line
// added or not), a v2 one relabelled v1, a v2 one with its cluster
// renamed; a v2 draft needs its cluster line, of a bounded name.
func TestPolicyRelabelRefused(t *testing.T) {
	op := policyKey("operator")
	pub := op.Public().(ed25519.PublicKey)
	v1 := &Policy{Version: 3, Rules: []Rule{{Kind: RuleNode, Name: "n1", Prefix: []byte("a/")}}}
	v1.Sign(op)
	d1 := string(v1.Canonical())
	relabelled := strings.Replace(d1, "spook-policy v1\nversion 3\n", "spook-policy v2\nversion 3\ncluster \"prod\"\n", 1)
	if _, err := VerifyPolicyFor([]byte(relabelled), pub, "prod"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("v1 relabelled v2 with a cluster: %v, want ErrPolicySignature", err)
	}
	bare := strings.Replace(d1, "spook-policy v1", "spook-policy v2", 1)
	if _, err := VerifyPolicyFor([]byte(bare), pub, "prod"); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("v1 relabelled v2 without a cluster: %v, want ErrBadPolicy", err)
	}
	v2 := &Policy{Version: 3, Cluster: "prod", Rules: v1.Rules}
	v2.Sign(op)
	d2 := string(v2.Canonical())
	down := strings.Replace(d2, "spook-policy v2\nversion 3\ncluster \"prod\"\n", "spook-policy v1\nversion 3\n", 1)
	if _, err := VerifyPolicyFor([]byte(down), pub, "prod"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("v2 relabelled v1: %v, want ErrPolicySignature", err)
	}
	moved := strings.Replace(d2, "cluster \"prod\"", "cluster \"test\"", 1)
	if _, err := VerifyPolicyFor([]byte(moved), pub, "test"); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("v2 with its cluster renamed: %v, want ErrPolicySignature", err)
	}
	for _, draft := range []string{
		"spook-policy v2\nversion 1\nnode n1 \"\"\n",
		"spook-policy v2\nversion 1\ncluster \"\"\n",
		"spook-policy v2\nversion 1\ncluster prod\n",
		"spook-policy v2\nversion 1\ncluster \"a\"\ncluster \"b\"\n",
		"spook-policy v2\nversion 1\ncluster \"" + strings.Repeat("c", MaxPolicyClusterBytes+1) + "\"\n",
	} {
		if _, err := ParsePolicy([]byte(draft), false); !errors.Is(err, ErrBadPolicy) {
			t.Fatalf("draft %.60q: %v, want ErrBadPolicy", draft, err)
		}
	}
	if _, err := ParsePolicy([]byte("spook-policy v2\nversion 1\ncluster \""+strings.Repeat("c", MaxPolicyClusterBytes)+"\"\n"), false); err != nil {
		t.Fatalf("cluster name of MaxPolicyClusterBytes: %v", err)
	}
}

// TestPolicyClusterLimitIsTheHandshakes: every cluster name a node can
// have (wire's limit) fits in a policy, and no longer one.
func TestPolicyClusterLimitIsTheHandshakes(t *testing.T) {
	if MaxPolicyClusterBytes != wire.MaxClusterIDBytes {
		t.Fatalf("MaxPolicyClusterBytes %d != wire.MaxClusterIDBytes %d", MaxPolicyClusterBytes, wire.MaxClusterIDBytes)
	}
}
