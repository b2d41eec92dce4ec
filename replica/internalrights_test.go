package replica

import (
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// TestRightsInternalKeys: with write rights on, a member (here
// compromised: it skips its own check) cannot write another member's
// membership record beyond marking it removed, cannot write a checkpoint
// unless it is the checkpointer, and cannot write an internal key of no
// known kind. Every other replica refuses each, as it refuses a write
// outside the policy; an operator's removal through any member, a
// node's own record and the checkpointer's checkpoints still pass.
func TestRightsInternalKeys(t *testing.T) {
	names := []string{"n1", "n2", "n3"}
	// roles names the checkpointer and two others.
	roles := func(c *cluster) (cp, a, b string) {
		low := c.node("n1").r.checkpointer()
		var others []string
		for _, n := range names {
			if c.node(n).r.ID() == low {
				cp = n
			} else {
				others = append(others, n)
			}
		}
		return cp, others[0], others[1]
	}
	refused := []struct {
		name string
		fn   func(c *cluster, cp, b string) func(*crdt.Builder) error
	}{
		{"another member's address", func(c *cluster, _, b string) func(*crdt.Builder) error {
			return func(tx *crdt.Builder) error {
				_, err := tx.MapSet(memberKey(c.node(b).r.ID()), fieldAddr, []byte("127.0.0.1:1"))
				return err
			}
		}},
		{"another member left", func(c *cluster, _, b string) func(*crdt.Builder) error {
			return func(tx *crdt.Builder) error {
				_, err := tx.MapSet(memberKey(c.node(b).r.ID()), fieldStatus, []byte(statusLeft))
				return err
			}
		}},
		{"a removal with another field", func(c *cluster, _, b string) func(*crdt.Builder) error {
			return func(tx *crdt.Builder) error {
				key := memberKey(c.node(b).r.ID())
				if _, err := tx.MapSet(key, fieldStatus, []byte(statusRemoved)); err != nil {
					return err
				}
				_, err := tx.MapSet(key, fieldName, []byte("someone"))
				return err
			}
		}},
		{"a checkpoint from another member", func(c *cluster, _, _ string) func(*crdt.Builder) error {
			return setFn(CheckpointKey, "\x07")
		}},
		{"an internal key of no known kind", func(c *cluster, _, _ string) func(*crdt.Builder) error {
			return setFn(InternalPrefix+"other", "x")
		}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := newRightsCluster(t, names...)
			cp, a, b := roles(c)
			c.set(a, "k", "1")
			txn := inject(c, a, tc.fn(c, cp, b))
			c.deliver()
			// The third member refuses it. The target b need not even
			// receive it (a, believing b gone, may stop sending to it),
			// but never applies it.
			for _, n := range names {
				if n != a && n != b {
					requireRefused(c, txn.Dot, n)
				}
			}
			if c.node(b).r.ks.Context().Contains(txn.Dot) {
				t.Fatalf("%s applied %s", b, txn.Dot)
			}
		})
	}

	t.Run("allowed", func(t *testing.T) {
		c := newRightsCluster(t, names...)
		cp, a, b := roles(c)
		c.set(a, "k", "1")
		// A node's own record, any field.
		own := inject(c, a, func(tx *crdt.Builder) error {
			_, err := tx.MapSet(memberKey(c.node(a).r.ID()), fieldAddr, []byte("127.0.0.1:2"))
			return err
		})
		// The checkpointer's checkpoint key.
		ckpt := inject(c, cp, setFn(CheckpointKey, "\x01"))
		c.deliver()
		// An operator's removal of b, through a.
		tok, err := c.node(a).r.Remove(c.node(b).r.ID())
		if err != nil {
			t.Fatal(err)
		}
		c.deliver()
		for _, d := range []causal.Dot{own.Dot, ckpt.Dot, tok} {
			for _, n := range names {
				if n == b && d == tok {
					continue // b may stop exchanging once removed
				}
				if !c.node(n).r.ks.Context().Contains(d) {
					t.Fatalf("%s did not apply %s", n, d)
				}
			}
		}
	})
}

// TestRepairRightsInternalKeys: the rules of internal keys hold for
// repairs too: a member whose own state holds another member's address
// it wrote (a compromised member that skipped its own check) does not
// get it onto a correct replica by reconciliation.
func TestRepairRightsInternalKeys(t *testing.T) {
	c := newRightsCluster(t, "n1", "n2", "n3")
	forged := inject(c, "n1", func(tx *crdt.Builder) error {
		_, err := tx.MapSet(memberKey(id("n3")), fieldAddr, []byte("127.0.0.1:1"))
		return err
	})
	c.deliver()
	requireRefused(c, forged.Dot, "n2", "n3")
	trimBehind(c, "n1")
	c.tick(10 * DefaultDigestTicks)
	for _, name := range []string{"n2", "n3"} {
		if c.node(name).r.ks.Context().Contains(forged.Dot) {
			t.Fatalf("%s joined n1's write of n3's address by repair", name)
		}
		if e := repairRefused(c, name, "n1"); e.Dot != forged.Dot {
			t.Fatalf("%s: refusal %v, want the writer %s", name, e, forged.Dot)
		}
	}
}

// TestJoinerJudgesInternalKeysByItsSnapshot: a node joining a cluster
// with write rights on installs a snapshot that holds the checkpointer's
// checkpoints and the members' own records: it judges them by the
// initial member list the snapshot carries (it has none of its own yet),
// so it joins. (The simulator found a joiner refusing every snapshot that
// held a checkpoint.)
func TestJoinerJudgesInternalKeysByItsSnapshot(t *testing.T) {
	c, startJoiner := rightsJoinerCluster(t, []string{"n2"}, "n1", "n2", "n3")
	c.set("n1", "k", "1")
	cp := c.node("n1").r.checkpointer()
	for _, n := range []string{"n1", "n2", "n3"} {
		if c.node(n).r.ID() == cp {
			inject(c, n, setFn(CheckpointKey, "\x01"))
		}
	}
	c.deliver()
	if c.node("n2").r.ks.Get([]byte(CheckpointKey)) == nil {
		t.Fatal("n2 holds no checkpoint: the test proves nothing")
	}
	n4 := startJoiner()
	c.tick(4 * DefaultJoinRetryTicks)
	if n4.r.state != NodeMember {
		t.Fatalf("n4 did not join: %s, %d events, the first %v", n4.r.state, len(n4.events), n4.events[:min(1, len(n4.events))])
	}
}
