package replica

import (
	"errors"
	"testing"

	"github.com/spooksystems/spook/crdt"
)

func bcDecr(c *cluster, name, key string, n int64) error {
	_, err := c.node(name).r.Propose(func(b *crdt.Builder) error {
		_, err := b.BCounterDecrement([]byte(key), n)
		return err
	})
	return err
}

func bcWant(c *cluster, name, key string, n int64) {
	c.propose(name, func(b *crdt.Builder) error { return b.BCounterWant([]byte(key), n) })
}

func bcRights(c *cluster, name, key string) int64 {
	return c.node(name).r.Keyspace().Get([]byte(key)).BCounterRights(c.node(name).r.ID())
}

// TestBCounterRightsMoveOnTick: a node short of rights asks, the holder
// gives on its next Tick, and the decrement then succeeds. Under a
// partition each side spends only what it holds; after the heal no
// replica is below the floor.
func TestBCounterRightsMoveOnTick(t *testing.T) {
	c := newCluster(t, "a", "b", "c")
	c.propose("a", func(b *crdt.Builder) error { return b.BCounterCreate([]byte("k"), 0, 30) })
	c.tick(1)
	if err := bcDecr(c, "b", "k", 5); !errors.Is(err, crdt.ErrBCounterInsufficient) {
		t.Fatalf("b without rights: %v", err)
	}
	bcWant(c, "b", "k", 5)
	c.tick(2)
	if r := bcRights(c, "b", "k"); r < 5 {
		t.Fatalf("b holds %d rights after asking for 5", r)
	}
	if err := bcDecr(c, "b", "k", 5); err != nil {
		t.Fatal(err)
	}
	c.tick(1)
	c.partition([]string{"a"}, []string{"b", "c"})
	taken := map[string]int64{}
	for i := 0; i < 40; i++ {
		for _, n := range []string{"a", "b", "c"} {
			if bcDecr(c, n, "k", 1) == nil {
				taken[n]++
			} else {
				bcWant(c, n, "k", 1)
			}
		}
		c.tick(1)
	}
	c.heal()
	c.tick(30)
	c.requireConverged()
	v, _ := c.node("a").r.Keyspace().Get([]byte("k")).BCounter()
	if v.Value < 0 || v.Value != 25-taken["a"]-taken["b"]-taken["c"] {
		t.Fatalf("value %d after taking %v", v.Value, taken)
	}
	// After the heal the rights left move to where they are asked for.
	if v.Value > 0 {
		bcWant(c, "b", "k", v.Value)
		c.tick(2) // the want reaches the holders, their gifts reach b
		if err := bcDecr(c, "b", "k", v.Value); err != nil {
			t.Fatalf("b taking the %d left: %v", v.Value, err)
		}
	}
}

// bcSkewed runs the skewed-load scenario: five nodes, one counter created
// on the third with total rights, perTick decrements of 1 a tick, 80% of
// them on the first node and 5% on each other, until decrements have
// been made (a failed one asks for rights and is retried on later ticks
// until it succeeds). It returns the decrements that succeeded at the
// first try and those that waited.
func bcSkewed(tb testing.TB, total, decrements, perTick int) (first, waited int) {
	c := newCluster(tb, "n1", "n2", "n3", "n4", "n5")
	c.propose("n3", func(b *crdt.Builder) error { return b.BCounterCreate([]byte("k"), 0, int64(total)) })
	c.tick(1)
	pending := map[string]int{}
	seed := uint64(1)
	made := 0
	for ticks := 0; made < decrements || len(pending) > 0; ticks++ {
		if ticks > 100*decrements/perTick {
			tb.Fatalf("no progress: %d made, pending %v", made, pending)
		}
		for name, n := range pending {
			for ; n > 0 && bcDecr(c, name, "k", 1) == nil; n-- {
				waited++
			}
			if n == 0 {
				delete(pending, name)
			} else {
				pending[name] = n
				bcWant(c, name, "k", int64(n))
			}
		}
		for i := 0; i < perTick && made < decrements; i++ {
			made++
			seed = seed*6364136223846793005 + 1442695040888963407
			name := "n1"
			if p := (seed >> 33) % 100; p >= 80 {
				name = []string{"n2", "n3", "n4", "n5"}[(p-80)/5]
			}
			if pending[name] == 0 && bcDecr(c, name, "k", 1) == nil {
				first++
				continue
			}
			pending[name]++
			bcWant(c, name, "k", int64(pending[name]))
		}
		c.tick(1)
	}
	return first, waited
}

// BenchmarkBCounterSkewed reports the fraction of decrements that
// succeed without waiting under the skewed load (docs/BENCHMARKS.md):
// total rights 20000, 10000 and then 19000 decrements of 1 at 20 a
// 10-ms tick.
func BenchmarkBCounterSkewed(b *testing.B) {
	for _, s := range []struct {
		name       string
		decrements int
	}{{"half", 10000}, {"95pct", 19000}} {
		b.Run(s.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				first, waited := bcSkewed(b, 20000, s.decrements, 20)
				b.ReportMetric(100*float64(first)/float64(first+waited), "%no-wait")
				b.ReportMetric(float64(waited), "waited")
			}
		})
	}
}

// TestBCounterSkewedCompletes runs a small skewed load to its end: every
// decrement is eventually made, none below the floor.
func TestBCounterSkewedCompletes(t *testing.T) {
	first, waited := bcSkewed(t, 2000, 1900, 20)
	if first+waited != 1900 {
		t.Fatalf("%d + %d decrements made, want 1900", first, waited)
	}
}

// TestBCounterWantExpires: a want left by a decrement that gave up (its
// node cut off from the holders) is withdrawn by its node's tick, so
// after the heal it pulls no rights away from the node that uses them;
// a new want after the withdrawal is answered as before.
func TestBCounterWantExpires(t *testing.T) {
	const giveUpTicks = 200 // past the want's lifetime
	c := newCluster(t, "a", "b", "c")
	c.propose("a", func(b *crdt.Builder) error { return b.BCounterCreate([]byte("k"), 0, 130) })
	// a's demand (100 taken) makes its target all the rights: no
	// proactive gifts to b or c.
	if err := bcDecr(c, "a", "k", 100); err != nil {
		t.Fatal(err)
	}
	c.tick(1)
	c.partition([]string{"a", "c"}, []string{"b"})
	if err := bcDecr(c, "b", "k", 20); !errors.Is(err, crdt.ErrBCounterInsufficient) {
		t.Fatalf("b without rights: %v", err)
	}
	bcWant(c, "b", "k", 20)
	c.tick(giveUpTicks)
	if need := c.node("b").r.Keyspace().Get([]byte("k")).BCounterNeed(id("b")); need != 0 {
		t.Fatalf("b's want still outstanding after %d ticks: need %d", giveUpTicks, need)
	}
	c.heal()
	c.tick(100) // anti-entropy brings the transactions the cut lost
	c.requireConverged()
	for _, n := range []string{"a", "b", "c"} {
		v := c.node(n).r.Keyspace().Get([]byte("k"))
		if need := v.BCounterNeed(id("b")); need != 0 {
			t.Fatalf("%s sees b needing %d after the withdrawal", n, need)
		}
	}
	if r := bcRights(c, "b", "k"); r != 0 {
		t.Fatalf("b was given %d rights for a want it withdrew", r)
	}
	if r := bcRights(c, "a", "k"); r != 30 {
		t.Fatalf("a holds %d rights, want 30", r)
	}
	// Asking again works: the new want is above the withdrawn one.
	bcWant(c, "b", "k", 20)
	c.tick(2)
	if r := bcRights(c, "b", "k"); r < 20 {
		t.Fatalf("b holds %d rights after asking again for 20", r)
	}
}
