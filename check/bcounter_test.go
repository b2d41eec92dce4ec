package check

import (
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// TestBCountersFindsADecrementWithoutRights: a decrement made against a
// different creation of the same generation (a forged history) takes a
// counter below its floor, and the checker says so; an honest state
// passes.
func TestBCountersFindsADecrementWithoutRights(t *testing.T) {
	key := []byte("bc")
	build := func(ks *crdt.Keyspace, dot causal.Dot, fn func(b *crdt.Builder) error) *crdt.Txn {
		b := ks.Begin(dot, causal.Timestamp{WallMs: dot.Counter})
		if err := fn(b); err != nil {
			t.Fatal(err)
		}
		txn := b.Finish()
		if err := ks.Apply(txn); err != nil {
			t.Fatal(err)
		}
		return txn
	}
	honest, forged := crdt.NewKeyspace(), crdt.NewKeyspace()
	build(honest, causal.Dot{Node: 1, Counter: 1}, func(b *crdt.Builder) error { return b.BCounterCreate(key, 0, 10) })
	build(forged, causal.Dot{Node: 1, Counter: 1}, func(b *crdt.Builder) error { return b.BCounterCreate(key, 0, 100) })
	dec := build(forged, causal.Dot{Node: 1, Counter: 2}, func(b *crdt.Builder) error {
		_, err := b.BCounterDecrement(key, 50)
		return err
	})
	var ok Report
	BCounters(&ok, 1, []State{{Name: "honest", Keyspace: honest}})
	if len(ok.Failures) != 0 {
		t.Fatalf("honest state: %v", ok.First())
	}
	if err := honest.Apply(dec); err != nil {
		t.Fatal(err)
	}
	var rep Report
	BCounters(&rep, 2, []State{{Name: "a", Keyspace: honest}})
	if len(rep.Failures) != 1 || !strings.Contains(rep.First(), "below floor") {
		t.Fatalf("got %v", rep.Failures)
	}
}
