package crdt

import "testing"

// TestCounterRebase: a node whose own contribution would leave int64
// while the visible value does not (another node holds a large opposite
// contribution) still increments, by taking the whole value as its own
// and resetting the entries it observed; an increment it did not observe
// survives, and both replicas converge.
func TestCounterRebase(t *testing.T) {
	rs := newReplicas(2)
	a, b := rs[0], rs[1]
	for _, txn := range script(t, b, "INCRBY c -9000000000000000000") {
		a.deliver(t, txn)
	}
	fromA := script(t, a,
		"INCRBY c 9000000000000000000 -> 0",
		"INCRBY c 9000000000000000000 -> 9000000000000000000", // A's own part would be 1.8e19
		"INCRBY c 1 -> 9000000000000000001",
	)
	fromB := script(t, b, "INCRBY c -1 -> -9000000000000000001") // concurrent with A's
	for _, txn := range fromA {
		b.deliver(t, txn)
	}
	for _, txn := range fromB {
		a.deliver(t, txn)
	}
	sameState(t, "after exchange", a.ks, b.ks)
	script(t, a, "GET c -> 9000000000000000000")
}

// TestCounterWrappedSums: a node's cumulative sum wraps past int64 across
// clears while every value it shows stays exact, on the writer and on a
// replica that receives the transactions.
func TestCounterWrappedSums(t *testing.T) {
	rs := newReplicas(2)
	var txns []*Txn
	for range 3 {
		txns = append(txns, script(t, rs[0],
			"INCRBY c 9223372036854775807 -> 9223372036854775807",
			"DEL c -> 1",
		)...)
	}
	txns = append(txns, script(t, rs[0], "INCRBY c 7 -> 7")...)
	for _, txn := range txns {
		rs[1].deliver(t, txn)
	}
	sameState(t, "replay", rs[0].ks, rs[1].ks)
	script(t, rs[1], "INCRBY c -7 -> 0")
}
