package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
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
	q, err := VerifyPolicy(doc, op.Public().(ed25519.PublicKey))
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
	if _, err := VerifyPolicy(p.Canonical(), pub); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("other signer: %v", err)
	}
	p.Sign(op)
	doc := p.Canonical()
	changed := []byte(strings.Replace(string(doc), `"a/"`, `"b/"`, 1))
	if _, err := VerifyPolicy(changed, pub); !errors.Is(err, ErrPolicySignature) {
		t.Fatalf("changed rule: %v", err)
	}
	spaced := []byte(strings.Replace(string(doc), "version 2", "version  2", 1))
	if _, err := VerifyPolicy(spaced, pub); !errors.Is(err, ErrBadPolicy) {
		t.Fatalf("non-canonical: %v", err)
	}
	unsigned := (&Policy{Version: 2}).Canonical()
	if _, err := VerifyPolicy(unsigned, pub); !errors.Is(err, ErrPolicySignature) {
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
