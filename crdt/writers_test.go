package crdt

import (
	"fmt"
	"slices"
	"testing"

	"github.com/spooksystems/spook/causal"
)

// writersOf lists v's writers, sorted and without repeats.
func writersOf(v *Value) []causal.Dot {
	var out []causal.Dot
	v.Writers(func(d causal.Dot) bool { out = append(out, d); return true })
	slices.SortFunc(out, compareDot)
	return slices.Compact(out)
}

func dots(ds ...causal.Dot) []causal.Dot {
	slices.SortFunc(ds, compareDot)
	return ds
}

func dot(node, counter uint64) causal.Dot {
	return causal.Dot{Node: causal.NodeID(node), Counter: counter}
}

// write makes r's next transaction with fn and delivers it to every
// replica in to (r included).
func write(t *testing.T, r *replica, fn func(b *Builder) error, to ...*replica) {
	t.Helper()
	b := r.begin()
	if err := fn(b); err != nil {
		t.Fatal(err)
	}
	txn := b.Finish()
	for _, o := range append([]*replica{r}, to...) {
		o.deliver(t, txn)
	}
}

// TestWriters: every type's entries are reported with the dot of the
// transaction that stamped them (counter columns and accounts with their
// node), and an entry a later write removed is not.
func TestWriters(t *testing.T) {
	k := []byte("k")
	cases := []struct {
		name       string
		concurrent bool                     // each write applied only where made, then exchanged
		writes     []func(b *Builder) error // by node 1, 2, 1, 2, ...
		want       []causal.Dot
	}{
		{"register siblings", true, []func(b *Builder) error{
			func(b *Builder) error { return b.Set(k, []byte("a")) },
			func(b *Builder) error { return b.Set(k, []byte("b")) },
		}, dots(dot(1, 1), dot(2, 1))},
		{"expiry", false, []func(b *Builder) error{
			func(b *Builder) error { return b.Set(k, []byte("a")) },
			func(b *Builder) error { _, err := b.Expire(k, 1<<40); return err },
		}, dots(dot(1, 1), dot(2, 1))},
		{"counter columns", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.Increment(k, 3); return err },
			func(b *Builder) error { _, err := b.Increment(k, 4); return err },
			func(b *Builder) error { _, err := b.Increment(k, 5); return err },
		}, dots(dot(1, 2), dot(2, 1))},
		{"set members", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.SetAdd(k, []byte("x"), []byte("y")); return err },
			func(b *Builder) error { _, err := b.SetAdd(k, []byte("z")); return err },
			func(b *Builder) error { _, err := b.SetRemove(k, []byte("x"), []byte("y")); return err },
		}, dots(dot(2, 1))},
		{"map fields", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.MapSet(k, []byte("f"), []byte("v")); return err },
			func(b *Builder) error { _, err := b.MapIncrement(k, []byte("n"), 2); return err },
		}, dots(dot(1, 1), dot(2, 1))},
		{"list elements", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.ListPush(k, false, []byte("a"), []byte("b")); return err },
			func(b *Builder) error { _, err := b.ListPush(k, true, []byte("c")); return err },
			func(b *Builder) error { _, err := b.ListDelete(k, 0, 1); return err }, // a tombstone stays
		}, dots(dot(1, 1), dot(2, 1))},
		{"text", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.TextInsert(k, 0, []byte("hé")); return err },
			func(b *Builder) error { _, err := b.TextInsert(k, 2, []byte("!")); return err },
		}, dots(dot(1, 1), dot(2, 1))},
		{"sorted set", false, []func(b *Builder) error{
			func(b *Builder) error { _, err := b.ZAdd(k, []byte("m"), 1); return err },
			func(b *Builder) error { _, err := b.ZIncrement(k, []byte("m"), 2); return err },
		}, dots(dot(1, 1), dot(2, 1))},
		{"stream", false, []func(b *Builder) error{
			func(b *Builder) error {
				_, err := b.StreamAdd(k, StreamIDExplicit, StreamID{Ms: 5, Seq: 1}, [][]byte{[]byte("f"), []byte("v")})
				return err
			},
			func(b *Builder) error {
				_, err := b.StreamAdd(k, StreamIDExplicit, StreamID{Ms: 6, Seq: 1}, [][]byte{[]byte("f"), []byte("w")})
				return err
			},
		}, dots(dot(1, 1), dot(2, 1))},
		{"bounded counter", false, []func(b *Builder) error{
			func(b *Builder) error { return b.BCounterCreate(k, 0, 10) },
			func(b *Builder) error { _, err := b.BCounterIncrement(k, 5); return err },
		}, dots(dot(1, 1), dot(2, 0))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := newReplicas(2)
			var txns []*Txn
			for i, fn := range c.writes {
				w := rs[i%2]
				if !c.concurrent {
					write(t, w, fn, rs[1-i%2])
					continue
				}
				b := w.begin()
				if err := fn(b); err != nil {
					t.Fatal(err)
				}
				txns = append(txns, b.Finish())
				w.deliver(t, txns[len(txns)-1])
			}
			for i, txn := range txns {
				rs[1-i%2].deliver(t, txn)
			}
			got := writersOf(rs[0].ks.State(k))
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("writers %v, want %v", got, c.want)
			}
			if a, b := writersOf(rs[1].ks.State(k)), got; fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("the replicas disagree: %v and %v", a, b)
			}
		})
	}
	var none *Value
	if got := writersOf(none); len(got) != 0 {
		t.Fatalf("nil value has writers %v", got)
	}
}

// TestWritersStops: Writers stops at the first false.
func TestWritersStops(t *testing.T) {
	rs := newReplicas(2)
	write(t, rs[0], func(b *Builder) error { _, err := b.SetAdd([]byte("k"), []byte("x"), []byte("y")); return err }, rs[1])
	write(t, rs[1], func(b *Builder) error { _, err := b.SetAdd([]byte("k"), []byte("z")); return err }, rs[0])
	calls := 0
	rs[0].ks.State([]byte("k")).Writers(func(causal.Dot) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("Writers called fn %d times after it returned false", calls)
	}
}

// TestWritersAllocatesNothing: Writers of a map of sets allocates nothing.
func TestWritersAllocatesNothing(t *testing.T) {
	rs := newReplicas(1)
	write(t, rs[0], func(b *Builder) error {
		for i := range 8 {
			if _, err := b.MapSet([]byte("k"), fmt.Appendf(nil, "f%d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	v := rs[0].ks.State([]byte("k"))
	n := 0
	if allocs := testing.AllocsPerRun(10, func() { v.Writers(func(causal.Dot) bool { n++; return true }) }); allocs != 0 {
		t.Fatalf("Writers allocated %.0f times", allocs)
	}
}

// TestHides: joining a state that removed or hid something (a delete, a
// counter reset, a list element deleted, a set member removed, a map
// field deleted, a generation dropped) is found; a join that only adds
// is not.
func TestHides(t *testing.T) {
	k := []byte("k")
	cases := []struct {
		name   string
		setup  func(b *Builder) error // by node 1, delivered to both
		change func(b *Builder) error // by node 2 only
		hides  bool
	}{
		{"register overwritten", func(b *Builder) error { return b.Set(k, []byte("a")) },
			func(b *Builder) error { return b.Set(k, []byte("b")) }, true},
		{"register deleted", func(b *Builder) error { return b.Set(k, []byte("a")) },
			func(b *Builder) error { return b.Delete(k) }, true},
		{"counter incremented", func(b *Builder) error { _, err := b.Increment(k, 1); return err },
			func(b *Builder) error { _, err := b.Increment(k, 1); return err }, false},
		{"counter deleted", func(b *Builder) error { _, err := b.Increment(k, 1); return err },
			func(b *Builder) error { return b.Delete(k) }, true},
		{"set member added", func(b *Builder) error { _, err := b.SetAdd(k, []byte("x")); return err },
			func(b *Builder) error { _, err := b.SetAdd(k, []byte("y")); return err }, false},
		{"set member removed", func(b *Builder) error { _, err := b.SetAdd(k, []byte("x"), []byte("y")); return err },
			func(b *Builder) error { _, err := b.SetRemove(k, []byte("y")); return err }, true},
		{"map field deleted", func(b *Builder) error { _, err := b.MapIncrement(k, []byte("n"), 1); return err },
			func(b *Builder) error { _, err := b.MapDelete(k, []byte("n")); return err }, true},
		{"list element pushed", func(b *Builder) error { _, err := b.ListPush(k, false, []byte("a")); return err },
			func(b *Builder) error { _, err := b.ListPush(k, false, []byte("b")); return err }, false},
		{"list element deleted", func(b *Builder) error { _, err := b.ListPush(k, false, []byte("a"), []byte("b")); return err },
			func(b *Builder) error { _, err := b.ListDelete(k, 1, 1); return err }, true},
		{"text deleted", func(b *Builder) error { _, err := b.TextInsert(k, 0, []byte("ab")); return err },
			func(b *Builder) error { _, err := b.TextDelete(k, 0, 1); return err }, true},
		{"sorted-set member removed", func(b *Builder) error { _, err := b.ZIncrement(k, []byte("m"), 1); return err },
			func(b *Builder) error { _, err := b.ZRemove(k, []byte("m")); return err }, true},
		{"sorted-set member added", func(b *Builder) error { _, err := b.ZAdd(k, []byte("m"), 1); return err },
			func(b *Builder) error { _, err := b.ZAdd(k, []byte("n"), 1); return err }, false},
		{"stream entry deleted", func(b *Builder) error {
			_, err := b.StreamAdd(k, StreamIDExplicit, StreamID{Ms: 5, Seq: 1}, [][]byte{[]byte("f"), []byte("v")})
			return err
		}, func(b *Builder) error { _, err := b.StreamDelete(k, StreamID{Ms: 5, Seq: 1}); return err }, true},
		{"bounded counter deleted", func(b *Builder) error { return b.BCounterCreate(k, 0, 10) },
			func(b *Builder) error { return b.Delete(k) }, true},
		{"bounded counter incremented", func(b *Builder) error { return b.BCounterCreate(k, 0, 10) },
			func(b *Builder) error { _, err := b.BCounterIncrement(k, 1); return err }, false},
		{"deadline persisted", func(b *Builder) error {
			if err := b.Set(k, []byte("a")); err != nil {
				return err
			}
			_, err := b.Expire(k, 1<<40)
			return err
		}, func(b *Builder) error { _, err := b.Persist(k); return err }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := newReplicas(2)
			write(t, rs[0], c.setup, rs[1])
			write(t, rs[1], c.change)
			before := rs[0].ks.State(k).clone()
			rs[0].ks.JoinKey(k, rs[1].ks.State(k), rs[1].ks.Context())
			after := rs[0].ks.State(k)
			if got := Hides(before, after); got != c.hides {
				t.Fatalf("Hides = %t, want %t", got, c.hides)
			}
			if Hides(after, after) {
				t.Fatal("a value hides itself")
			}
		})
	}
	if Hides(nil, nil) {
		t.Fatal("nothing hides nothing")
	}
}
