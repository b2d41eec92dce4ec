package crdt

import (
	"errors"
	"testing"
)

// TestZSetInTransaction reads a sorted set as the transaction sees it,
// after writes in the same transaction.
func TestZSetInTransaction(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "MULTI", "ZADD z 0.5 x -> 1", "ZRANGE z -> [x=0.5]", "ZINCRBY z 1 x -> 1.5", "ZRANGE z -> [x=1.5]", "EXEC")
	script(t, r, "MULTI", "ZREM z x -> 1", "ZRANGE z -> []", "ZADD z 2 y", "ZRANGE z -> [y=2]", "EXEC", "ZRANGE z -> [y=2]")
}

// TestZSetLimitCountsHiddenMembers: MaxZSetMembers bounds every member a
// decoder must hold, hidden ones (removed, with reset increments)
// included, so ZADD and ZINCRBY refuse a member that would take the
// stored total past it even while fewer are visible; otherwise a replica
// could build a state it cannot decode (a snapshot it cannot restart
// from). The test lowers the Builder's bound (zsetMembersLimit).
func TestZSetLimitCountsHiddenMembers(t *testing.T) {
	defer func(n int) { zsetMembersLimit = n }(zsetMembersLimit)
	zsetMembersLimit = 3
	r := newReplicas(1)[0]
	// Two hidden members (an increment, then removed) and one visible.
	script(t, r, "ZINCRBY z 1 a", "ZINCRBY z 1 b", "ZREM z a b", "ZADD z 1 c", "ZCARD z -> 1")
	b := r.begin()
	if _, err := b.ZAdd([]byte("z"), []byte("new"), 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ZADD past the stored-member bound: %v, want ErrTooLarge", err)
	}
	if _, err := b.ZIncrement([]byte("z"), []byte("new"), 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ZINCRBY past the stored-member bound: %v, want ErrTooLarge", err)
	}
	// Members already stored can still be written.
	if _, err := b.ZAdd([]byte("z"), []byte("a"), 5); err != nil {
		t.Fatalf("ZADD of a hidden member: %v", err)
	}
}
