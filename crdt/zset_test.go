package crdt

import "testing"

// TestZSetInTransaction reads a sorted set as the transaction sees it,
// after writes in the same transaction.
func TestZSetInTransaction(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "MULTI", "ZADD z 0.5 x -> 1", "ZRANGE z -> [x=0.5]", "ZINCRBY z 1 x -> 1.5", "ZRANGE z -> [x=1.5]", "EXEC")
	script(t, r, "MULTI", "ZREM z x -> 1", "ZRANGE z -> []", "ZADD z 2 y", "ZRANGE z -> [y=2]", "EXEC", "ZRANGE z -> [y=2]")
}
