package replica

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
)

// userPolicy is a policy document of version v with the given rules
// ({kind, name, prefix}), signed by key.
func userPolicy(key ed25519.PrivateKey, v uint64, rules ...[3]string) []byte {
	p := &audit.Policy{Version: v}
	for _, r := range rules {
		p.Rules = append(p.Rules, audit.Rule{Kind: audit.RuleKind(r[0]), Name: r[1], Prefix: []byte(r[2])})
	}
	p.Sign(key)
	return p.Canonical()
}

// TestRightsUserRulesAtPropose: a client write proposed for a user
// (ProposeAs) is checked against the user rules of the newest policy the
// replica holds, every key it writes: alice writes under app/alice/ only,
// bob under app/bob/ only; a transaction with one forbidden key is
// refused whole and changes nothing; a write without a user (the Go API)
// and a policy without user rules leave users unrestricted; a newer
// policy judges the writes proposed after it arrived.
func TestRightsUserRulesAtPropose(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2")
	op := testKey("operator")
	applyPolicy(c, "n2", userPolicy(op, 1, [3]string{"node", "*", ""}))
	r := c.node("n1").r
	// No user rules: any user writes anything the node may.
	if _, err := r.ProposeAs("alice", setFn("app/bob/0", "v1")); err != nil {
		t.Fatalf("policy without user rules: %v", err)
	}

	applyPolicy(c, "n2", userPolicy(op, 2, [3]string{"node", "*", ""},
		[3]string{"user", "alice", "app/alice/"}, [3]string{"user", "bob", "app/bob/"},
		[3]string{"user", "*", "shared/"}))
	if p := r.Policy(); p == nil || p.Version != 2 {
		t.Fatalf("n1 policy %v, want version 2", p)
	}
	for _, w := range []struct{ user, key string }{
		{"alice", "app/alice/x"}, {"bob", "app/bob/x"}, {"alice", "shared/s"}, {"carol", "shared/t"},
	} {
		if _, err := r.ProposeAs(w.user, setFn(w.key, w.user)); err != nil {
			t.Fatalf("%s writes %s: %v, want allowed", w.user, w.key, err)
		}
	}
	before := r.ks.Context().Vector.Get(r.ID())
	for _, w := range []struct{ user, key string }{
		{"alice", "app/bob/x"}, {"bob", "app/alice/x"}, {"carol", "app/alice/y"}, {"default", "app/z"},
	} {
		_, err := r.ProposeAs(w.user, setFn(w.key, "forbidden"))
		if !errors.Is(err, ErrNoRights) || !errors.Is(err, audit.ErrNoRights) {
			t.Fatalf("%s writes %s: %v, want ErrNoRights", w.user, w.key, err)
		}
		want := "this user has no rights to write key '" + w.key + "' (policy version 2)"
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s writes %s: %q, want it to say %q", w.user, w.key, err, want)
		}
	}
	// One forbidden key refuses the whole transaction.
	_, err := r.ProposeAs("alice", func(b *crdt.Builder) error {
		if err := b.Set([]byte("app/alice/m1"), []byte("1")); err != nil {
			return err
		}
		return b.Set([]byte("app/bob/m2"), []byte("2"))
	})
	if !errors.Is(err, ErrNoRights) {
		t.Fatalf("alice's transaction with a key of bob's: %v, want ErrNoRights", err)
	}
	if got := r.ks.Context().Vector.Get(r.ID()); got != before {
		t.Fatalf("refused writes made transactions: counter %d, was %d", got, before)
	}
	c.deliver()
	for _, name := range c.names {
		for _, k := range []string{"app/bob/x", "app/alice/m1", "app/bob/m2", "app/z"} {
			if got := c.get(name, k); k != "app/bob/x" && got != "<nil>" {
				t.Fatalf("%s: %s=%q, written by a refused transaction", name, k, got)
			}
		}
		if got := c.get(name, "app/bob/x"); got != "bob" {
			t.Fatalf("%s: app/bob/x=%q, want bob's write only", name, got)
		}
	}
	// Without a user (the Go API, internal writes) user rules do not apply.
	if _, err := r.Propose(setFn("app/nobody", "embedded")); err != nil {
		t.Fatalf("write without a user: %v", err)
	}
	if _, err := r.ProposeAs("", setFn("app/nobody2", "embedded")); err != nil {
		t.Fatalf("ProposeAs with no user: %v", err)
	}

	// Version 3 narrows alice to app/alice/in/: her next write is judged by it.
	applyPolicy(c, "n2", userPolicy(op, 3, [3]string{"node", "*", ""},
		[3]string{"user", "alice", "app/alice/in/"}))
	if _, err := r.ProposeAs("alice", setFn("app/alice/x", "again")); !errors.Is(err, ErrNoRights) ||
		!strings.Contains(err.Error(), "(policy version 3)") {
		t.Fatalf("alice after version 3: %v, want refused by version 3", err)
	}
	if _, err := r.ProposeAs("alice", setFn("app/alice/in/x", "ok")); err != nil {
		t.Fatalf("alice within version 3: %v", err)
	}
}

// TestRightsUserRulesNodeRuleFirst: a user's rights never widen the
// node's: a write the user may make but the node may not is refused by
// the node rule.
func TestRightsUserRulesNodeRuleFirst(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2")
	op := testKey("operator")
	applyPolicy(c, "n2", userPolicy(op, 1, [3]string{"node", "n1", "a/"}, [3]string{"node", "n2", ""},
		[3]string{"user", "alice", ""}))
	_, err := c.node("n1").r.ProposeAs("alice", setFn("b/x", "1"))
	if !errors.Is(err, ErrNoRights) || strings.Contains(err.Error(), "this user") {
		t.Fatalf("alice on n1 writes b/: %v, want the node rule's refusal", err)
	}
}

// TestRightsUserRulesOffWithoutOperator: without write rights (no
// operator key) ProposeAs is Propose.
func TestRightsUserRulesOffWithoutOperator(t *testing.T) {
	c := newCluster(t, "n1")
	if _, err := c.node("n1").r.ProposeAs("alice", setFn("anything", "1")); err != nil {
		t.Fatal(err)
	}
}
