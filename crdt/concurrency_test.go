package crdt

import (
	"testing"

	"github.com/spooksystems/spook/causal"
)

// TestConcurrentPairs runs every concurrent operation pair per type on two
// replicas A (node 1) and B (node 2): both start from base, A runs a and B
// runs b without seeing each other, then they exchange transactions. The
// checks must hold on both, and the two states must be identical.
// docs/semantics.md is the table of exactly these rows. B's writes carry
// later timestamps than A's (the clock is shared and B runs second), so
// "later" below means B.
// pairCase is one row of a table of concurrent pairs (docs/semantics.md):
// base runs on replica a and is delivered to b; then a and b run
// concurrently on a and on b; after both exchange their transactions the
// checks must hold on both.
type pairCase struct {
	name   string
	base   []string
	a, b   []string
	checks []string
}

// runPairs runs each case on two fresh replicas and checks, before the
// case's own checks, that both ended in the same state, that a state join
// gives that state too, and that its encoding round-trips.
func runPairs(t *testing.T, cases []pairCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reps := newReplicas(2)
			a, b := reps[0], reps[1]
			for _, txn := range script(t, a, c.base...) {
				b.deliver(t, txn)
			}
			ta := script(t, a, c.a...)
			tb := script(t, b, c.b...)
			for _, txn := range tb {
				a.deliver(t, txn)
			}
			for _, txn := range ta {
				b.deliver(t, txn)
			}
			sameState(t, "after exchange", a.ks, b.ks)
			j := NewKeyspace()
			j.Join(a.ks)
			sameState(t, "joined", j, b.ks)
			ks, err := DecodeKeyspace(enc(a.ks))
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, "decoded", ks, a.ks)
			// Checks last: some write (RECLAIM, SADD), and each replica
			// writes with its own dots.
			script(t, a, c.checks...)
			script(t, b, c.checks...)
		})
	}
}

func TestConcurrentPairs(t *testing.T) {
	cases := []pairCase{
		// Registers.
		{"set || set", nil, []string{"SET k a"}, []string{"SET k b"}, []string{"GET k -> b", "TYPE k -> register"}},
		{"set || del", []string{"SET k old"}, []string{"SET k a"}, []string{"DEL k"}, []string{"GET k -> a"}},
		{"del || del", []string{"SET k old"}, []string{"DEL k"}, []string{"DEL k"}, []string{"GET k -> (nil)", "TYPE k -> none"}},
		{"set || incr (integer string)", []string{"SET k 5"}, []string{"SET k x"}, []string{"INCR k -> 6"}, []string{"GET k -> 6", "TYPE k -> counter"}},
		{"set || incr (fresh key)", nil, []string{"SET k x"}, []string{"INCR k"}, []string{"GET k -> 1", "TYPE k -> counter"}},
		// Counters.
		{"incr || incr", []string{"INCRBY k 10"}, []string{"INCRBY k 5"}, []string{"INCRBY k -3"}, []string{"GET k -> 12"}},
		{"incr || del", []string{"INCRBY k 10"}, []string{"INCRBY k 5"}, []string{"DEL k"}, []string{"GET k -> 5"}},
		{"incr || set", []string{"INCRBY k 10"}, []string{"INCRBY k 5"}, []string{"SET k x"}, []string{"GET k -> 5", "TYPE k -> counter"}},
		{"del || incr then incr", []string{"INCRBY k 10"}, []string{"DEL k", "INCRBY k 2"}, []string{"INCRBY k 3"}, []string{"GET k -> 5"}},
		{"incr || del (fresh counter)", nil, []string{"INCRBY k 7"}, []string{"DEL k"}, []string{"GET k -> 7"}},
		// Sets.
		{"sadd || srem (same member)", []string{"SADD s m"}, []string{"SADD s m"}, []string{"SREM s m"}, []string{"SMEMBERS s -> [m]"}},
		{"sadd || sadd (same member)", nil, []string{"SADD s m"}, []string{"SADD s m"}, []string{"SMEMBERS s -> [m]", "SCARD s -> 1"}},
		{"srem || srem", []string{"SADD s m n"}, []string{"SREM s m"}, []string{"SREM s m"}, []string{"SMEMBERS s -> [n]"}},
		{"sadd || del", []string{"SADD s a b"}, []string{"SADD s c"}, []string{"DEL s"}, []string{"SMEMBERS s -> [c]"}},
		{"sadd existing || del", []string{"SADD s a b"}, []string{"SADD s a"}, []string{"DEL s"}, []string{"SMEMBERS s -> [a]"}},
		{"sadd || set", []string{"SADD s a"}, []string{"SADD s b"}, []string{"SET s v"}, []string{"SMEMBERS s -> [b]", "TYPE s -> set"}},
		// Maps.
		{"hset || hset (same field)", nil, []string{"HSET h f a"}, []string{"HSET h f b"}, []string{"HGET h f -> b", "HLEN h -> 1"}},
		{"hset || hset (other fields)", nil, []string{"HSET h f a"}, []string{"HSET h g b"}, []string{"HGETALL h -> [f=a g=b]"}},
		{"hset || hdel (same field)", []string{"HSET h f old"}, []string{"HSET h f a"}, []string{"HDEL h f"}, []string{"HGET h f -> a"}},
		{"hdel || hdel", []string{"HSET h f old", "HSET h g x"}, []string{"HDEL h f"}, []string{"HDEL h f"}, []string{"HGETALL h -> [g=x]"}},
		{"hincrby || hincrby", []string{"HINCRBY h n 10"}, []string{"HINCRBY h n 5"}, []string{"HINCRBY h n 1"}, []string{"HGET h n -> 16"}},
		{"hincrby || hdel", []string{"HINCRBY h n 10"}, []string{"HINCRBY h n 5"}, []string{"HDEL h n"}, []string{"HGET h n -> 5"}},
		{"hset || hincrby (integer field)", []string{"HSET h f 5"}, []string{"HSET h f x"}, []string{"HINCRBY h f 1 -> 6"}, []string{"HGET h f -> 6"}},
		{"hset || del", []string{"HSET h f old", "HSET h g old"}, []string{"HSET h f a"}, []string{"DEL h"}, []string{"HGETALL h -> [f=a]"}},
		{"hincrby || del", []string{"HINCRBY h n 10", "HSET h g x"}, []string{"HINCRBY h n 5"}, []string{"DEL h"}, []string{"HGETALL h -> [n=5]"}},
		{"hset || set", []string{"HSET h f old"}, []string{"HSET h g a"}, []string{"SET h v"}, []string{"HGETALL h -> [g=a]", "TYPE h -> map"}},
		// Type conflicts on a fresh key: the visible type is the highest
		// ranked live component, map > set > counter > register.
		{"set || sadd", nil, []string{"SET k v"}, []string{"SADD k m"}, []string{"TYPE k -> set"}},
		{"incr || sadd", nil, []string{"INCR k"}, []string{"SADD k m"}, []string{"TYPE k -> set"}},
		{"sadd || hset", nil, []string{"SADD k m"}, []string{"HSET k f v"}, []string{"TYPE k -> map"}},
		{"set || hset", nil, []string{"SET k v"}, []string{"HSET k f v"}, []string{"TYPE k -> map"}},
	}
	runPairs(t, cases)
}

// TestConflictResolvedByObservingWrite: after a type conflict, a SET or
// DEL that observed every component removes all of them, hidden ones too.
func TestConflictResolvedByObservingWrite(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	ta := script(t, a, "SET k v", "INCR c")
	tb := script(t, b, "SADD k m", "SET c x")
	for _, txn := range tb {
		a.deliver(t, txn)
	}
	for _, txn := range ta {
		b.deliver(t, txn)
	}
	script(t, a, "TYPE k -> set", "TYPE c -> counter", "SET k w", "GET k -> w", "DEL c", "GET c -> (nil)")
	if v := a.ks.lookup([]byte("k")); v.reg.len() != 1 || v.oset() != nil {
		t.Fatalf("SET left hidden parts: %s", dumpValue(v))
	}
	// The deleted counter keeps only its resets, as a hidden value.
	if v := a.ks.lookup([]byte("c")); v == nil || v.ctr() == nil || v.ctr().live() || v.reg.len() != 0 {
		t.Fatalf("deleted counter: %s", dumpValue(v))
	}
	if a.ks.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (the hidden counter is not counted)", a.ks.Len())
	}
}

// TestRegisterTieBreak: concurrent writes with equal timestamps resolve
// by node id; both stay as siblings until a write observes them.
func TestRegisterTieBreak(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	ts := causal.Timestamp{WallMs: 7}
	ba := a.ks.Begin(causal.Dot{Node: a.id, Counter: 1}, ts)
	must(t, ba.Set([]byte("k"), []byte("from-1")))
	bb := b.ks.Begin(causal.Dot{Node: b.id, Counter: 1}, ts)
	must(t, bb.Set([]byte("k"), []byte("from-2")))
	ta, tb := ba.Finish(), bb.Finish()
	for _, r := range reps {
		r.deliver(t, ta)
		r.deliver(t, tb)
	}
	sameState(t, "tie", a.ks, b.ks)
	v := a.ks.Get([]byte("k"))
	if s, _ := v.Register(); string(s) != "from-2" {
		t.Fatalf("Register = %q, want the higher node's", s)
	}
	sib := v.Siblings()
	if len(sib) != 2 || string(sib[0].Value) != "from-1" || string(sib[1].Value) != "from-2" {
		t.Fatalf("Siblings = %v", sib)
	}
	script(t, a, "SET k z")
	if n := len(a.ks.Get([]byte("k")).Siblings()); n != 1 {
		t.Fatalf("an observing SET left %d siblings", n)
	}
}

// TestApplyReadiness: Apply refuses a transaction whose past is missing,
// ignores a duplicate, and refuses a zero dot.
func TestApplyReadiness(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	t1 := script(t, a, "SET k 1")[0]
	t2 := script(t, a, "SET k 2")[0]
	before := enc(b.ks)
	if err := b.ks.Apply(t2); err != ErrNotReady {
		t.Fatalf("early apply: %v", err)
	}
	if string(enc(b.ks)) != string(before) {
		t.Fatal("refused apply changed state")
	}
	b.deliver(t, t1)
	b.deliver(t, t2)
	h := b.ks.Hash()
	b.deliver(t, t1)
	if b.ks.Hash() != h {
		t.Fatal("duplicate changed state")
	}
	if err := b.ks.Apply(&Txn{}); err != ErrInvalid {
		t.Fatalf("zero dot: %v", err)
	}
}

// TestConcurrentZSetPairs is TestConcurrentPairs for sorted sets: the rows
// of docs/semantics.md's sorted-set table. B runs second, so B's ZADD is
// the later one.
func TestConcurrentZSetPairs(t *testing.T) {
	cases := []pairCase{
		{"zadd || zadd (same member)", nil, []string{"ZADD z 1 m"}, []string{"ZADD z 2 m"}, []string{"ZSCORE z m -> 2", "ZCARD z -> 1"}},
		{"zadd || zadd (other members)", nil, []string{"ZADD z 1 m"}, []string{"ZADD z 2 n"}, []string{"ZRANGE z -> [m=1 n=2]"}},
		{"zincrby || zincrby", []string{"ZADD z 10 m"}, []string{"ZINCRBY z 5 m -> 15"}, []string{"ZINCRBY z -3 m -> 7"}, []string{"ZSCORE z m -> 12"}},
		{"zincrby || zincrby (fresh member)", nil, []string{"ZINCRBY z 2.5 m"}, []string{"ZINCRBY z 1 m"}, []string{"ZSCORE z m -> 3.5"}},
		{"zadd || zincrby", []string{"ZADD z 10 m", "ZINCRBY z 1 m"}, []string{"ZADD z 100 m"}, []string{"ZINCRBY z 5 m -> 16"}, []string{"ZSCORE z m -> 105"}},
		{"zincrby || zadd", []string{"ZADD z 10 m"}, []string{"ZINCRBY z 5 m"}, []string{"ZADD z 100 m"}, []string{"ZSCORE z m -> 105"}},
		{"zadd || zrem", []string{"ZADD z 1 m"}, []string{"ZADD z 5 m"}, []string{"ZREM z m -> 1"}, []string{"ZSCORE z m -> 5"}},
		{"zrem || zadd", []string{"ZADD z 1 m"}, []string{"ZREM z m"}, []string{"ZADD z 5 m -> 0"}, []string{"ZSCORE z m -> 5"}},
		{"zincrby || zrem", []string{"ZADD z 10 m", "ZINCRBY z 1 m"}, []string{"ZINCRBY z 5 m -> 16"}, []string{"ZREM z m"}, []string{"ZSCORE z m -> 5", "ZCARD z -> 1"}},
		{"zrem || zrem", []string{"ZADD z 1 m 2 n"}, []string{"ZREM z m"}, []string{"ZREM z m"}, []string{"ZRANGE z -> [n=2]"}},
		{"zadd || del", []string{"ZADD z 1 a 2 b"}, []string{"ZADD z 3 c"}, []string{"DEL z"}, []string{"ZRANGE z -> [c=3]"}},
		{"zincrby || del", []string{"ZADD z 1 a", "ZINCRBY z 4 a"}, []string{"ZINCRBY z 2 a"}, []string{"DEL z"}, []string{"ZRANGE z -> [a=2]"}},
		{"zadd || set", []string{"ZADD z 1 a"}, []string{"ZADD z 2 b"}, []string{"SET z v"}, []string{"ZRANGE z -> [b=2]", "TYPE z -> zset"}},
		{"zincrby +inf || zincrby -inf", []string{"ZADD z 1 m"}, []string{"ZINCRBY z +inf m"}, []string{"ZINCRBY z -inf m"}, []string{"ZSCORE z m -> -Inf"}},
		{"sadd || zadd", nil, []string{"SADD k m"}, []string{"ZADD k 1 m"}, []string{"TYPE k -> zset"}},
		{"hset || zadd", nil, []string{"HSET k f v"}, []string{"ZADD k 1 m"}, []string{"TYPE k -> zset"}},
	}
	runPairs(t, cases)
}
