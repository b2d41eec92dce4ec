package crdt

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// runBCounter runs the bounded-counter script commands:
//
//	BCCREATE k floor initial | BCINCR k n | BCDECR k n | BCWANT k n
//	BCGIVE k node n | BCREBAL k | BCGET k | BCRIGHTS k node | BCNEED k node
//	BCWITHDRAW k
func runBCounter(b *Builder, args []string) (string, bool) {
	reply := func(v int64, err error) string {
		switch {
		case errors.Is(err, ErrWrongType):
			return "WRONGTYPE"
		case errors.Is(err, ErrBCounterInsufficient):
			return "INSUFFICIENT"
		case errors.Is(err, ErrBCounterExists):
			return "EXISTS"
		case errors.Is(err, ErrBCounterMissing):
			return "MISSING"
		case errors.Is(err, ErrBCounterRange):
			return "RANGE"
		case errors.Is(err, ErrOverflow):
			return "OVERFLOW"
		case err != nil:
			return "ERR " + err.Error()
		}
		return strconv.FormatInt(v, 10)
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(args[i], 10, 64)
		return n
	}
	if len(args) < 2 {
		return "", false
	}
	key := []byte(args[1])
	switch args[0] {
	case "BCCREATE":
		return reply(0, b.BCounterCreate(key, num(2), num(3))), true
	case "BCINCR":
		return reply(b.BCounterIncrement(key, num(2))), true
	case "BCDECR":
		return reply(b.BCounterDecrement(key, num(2))), true
	case "BCWANT":
		return reply(0, b.BCounterWant(key, num(2))), true
	case "BCGIVE":
		return reply(0, b.BCounterTransfer(key, causal.NodeID(num(2)), num(3))), true
	case "BCWITHDRAW":
		return reply(b.BCounterWithdraw(key)), true
	case "BCREBAL":
		return reply(b.BCounterRebalance(key)), true
	case "BCGET":
		c, ok := b.Get(key).BCounter()
		if !ok {
			return "(nil)", true
		}
		return strconv.FormatInt(c.Value, 10), true
	case "BCRIGHTS":
		return strconv.FormatInt(b.Get(key).BCounterRights(causal.NodeID(num(2))), 10), true
	case "BCNEED":
		return strconv.FormatInt(b.Get(key).BCounterNeed(causal.NodeID(num(2))), 10), true
	}
	return "", false
}

// TestBCounterConcurrentPairs holds the rows of the bounded-counter table
// in docs/semantics.md. Replica a is node 1, b node 2; a dot orders by
// node, so of two concurrent creates the one on node 2 wins.
func TestBCounterConcurrentPairs(t *testing.T) {
	runPairs(t, []pairCase{
		{"create || create", nil, []string{"BCCREATE k 0 10"}, []string{"BCCREATE k 5 20"},
			[]string{"BCGET k -> 20", "BCRIGHTS k 1 -> 0", "BCRIGHTS k 2 -> 15", "TYPE k -> bcounter"}},
		{"create, decr || create", nil, []string{"BCCREATE k 0 10", "BCDECR k 10 -> 0"}, []string{"BCCREATE k 0 5"},
			[]string{"BCGET k -> 5", "BCRIGHTS k 1 -> 0", "BCRIGHTS k 2 -> 5"}},
		{"decr || decr (split rights)", []string{"BCCREATE k 0 10", "BCGIVE k 2 4"},
			[]string{"BCDECR k 6 -> 4", "BCDECR k 1 -> INSUFFICIENT"}, []string{"BCDECR k 4 -> 6", "BCDECR k 1 -> INSUFFICIENT"},
			[]string{"BCGET k -> 0", "BCRIGHTS k 1 -> 0", "BCRIGHTS k 2 -> 0", "BCDECR k 1 -> INSUFFICIENT"}},
		{"incr || decr", []string{"BCCREATE k 0 10"}, []string{"BCDECR k 3 -> 7"}, []string{"BCINCR k 5 -> 15", "BCDECR k 5 -> 10"},
			[]string{"BCGET k -> 7", "BCRIGHTS k 1 -> 7", "BCRIGHTS k 2 -> 0"}},
		{"give || give", []string{"BCCREATE k 0 10", "BCGIVE k 2 5"}, []string{"BCGIVE k 2 5"}, []string{"BCGIVE k 1 2"},
			[]string{"BCGET k -> 10", "BCRIGHTS k 1 -> 2", "BCRIGHTS k 2 -> 8"}},
		{"decr || del", []string{"BCCREATE k 0 10", "BCGIVE k 2 5"}, []string{"BCDECR k 3"}, []string{"DEL k"},
			[]string{"BCGET k -> (nil)", "TYPE k -> none"}},
		{"decr || del, create", []string{"BCCREATE k 0 10"}, []string{"BCDECR k 3"}, []string{"DEL k", "BCCREATE k 1 4"},
			[]string{"BCGET k -> 4", "BCRIGHTS k 2 -> 3", "BCRIGHTS k 1 -> 0"}},
		{"create || set (fresh key)", nil, []string{"BCCREATE k 0 5"}, []string{"SET k v"},
			[]string{"TYPE k -> bcounter", "BCGET k -> 5", "INCR k -> WRONGTYPE"}},
		{"want || incr", []string{"BCCREATE k 0 10"}, []string{"BCINCR k 1"}, []string{"BCWANT k 4"},
			[]string{"BCNEED k 2 -> 4", "BCNEED k 1 -> 0", "BCGET k -> 11"}},
		{"want, withdraw || give", []string{"BCCREATE k 0 10"}, []string{"BCGIVE k 2 1"}, []string{"BCWANT k 4", "BCWITHDRAW k -> 4"},
			[]string{"BCNEED k 2 -> 0", "BCRIGHTS k 2 -> 1", "BCGET k -> 10"}},
		{"want || withdraw, want", []string{"BCCREATE k 0 10", "BCGIVE k 2 1"}, []string{"BCGIVE k 2 2"},
			[]string{"BCWANT k 4", "BCWITHDRAW k -> 3", "BCWANT k 6"},
			[]string{"BCNEED k 2 -> 3", "BCRIGHTS k 2 -> 3"}},
	})
}

// TestBCounterSequential checks one replica's replies: creation, rights,
// refusals, transfers and the want/rebalance round trip.
func TestBCounterSequential(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	ship := func(from, to *replica, txns []*Txn) {
		for _, txn := range txns {
			to.deliver(t, txn)
		}
	}
	ship(a, b, script(t, a,
		"BCDECR k 1 -> MISSING",
		"BCCREATE k 5 3 -> RANGE",
		"BCCREATE k -5 10 -> 0",
		"BCCREATE k 0 1 -> EXISTS",
		"BCRIGHTS k 1 -> 15",
		"BCDECR k -1 -> RANGE",
		"BCDECR k 16 -> INSUFFICIENT",
		"BCDECR k 15 -> -5",
		"BCDECR k 1 -> INSUFFICIENT",
		"BCINCR k 20 -> 15",
		"BCGIVE k 2 30 -> INSUFFICIENT",
		"SADD k m -> WRONGTYPE",
		"MULTI", "BCDECR k 5 -> 10", "BCDECR k 16 -> INSUFFICIENT", "BCDECR k 15 -> -5", "EXEC",
		"SET s v", "BCCREATE s 0 1 -> WRONGTYPE",
		"MULTI", "DEL s", "BCCREATE s 0 1 -> 0", "BCDECR s 1 -> 0", "EXEC",
		"BCGET s -> 0", "BCINCR k 10 -> 5"))
	// b lacks rights: it asks, a answers on its rebalance, b then decrements.
	ship(b, a, script(t, b, "BCRIGHTS k 2 -> 0", "BCDECR k 4 -> INSUFFICIENT", "BCWANT k 4 -> 0", "BCNEED k 2 -> 4"))
	ship(a, b, script(t, a, "BCNEED k 2 -> 4", "BCREBAL k -> 4", "BCRIGHTS k 1 -> 6", "BCREBAL k -> 0"))
	ship(b, a, script(t, b, "BCNEED k 2 -> 0", "BCRIGHTS k 2 -> 4", "BCDECR k 4 -> 1", "BCGET k -> 1"))
	// A withdrawn want is not answered; a new one is, above it.
	ship(b, a, script(t, b, "BCWITHDRAW k -> 0", "BCWANT k 3 -> 0", "BCWITHDRAW k -> 3", "BCNEED k 2 -> 0", "BCWITHDRAW k -> 0"))
	ship(a, b, script(t, a, "BCNEED k 2 -> 0", "BCREBAL k -> 0", "BCRIGHTS k 1 -> 6"))
	ship(b, a, script(t, b, "BCWANT k 2 -> 0", "BCNEED k 2 -> 2"))
	ship(a, b, script(t, a, "BCNEED k 2 -> 2", "BCREBAL k -> 2"))
	script(t, b, "BCNEED k 2 -> 0", "BCRIGHTS k 2 -> 2")
	// A gift to a node that never used the counter: it is listed, and
	// the rights still sum to value − floor.
	script(t, a, "BCGIVE k 7 1")
	sum, listed := int64(0), false
	a.ks.Get([]byte("k")).BCounterNodes(func(n causal.NodeID, r int64) bool {
		sum += r
		listed = listed || n == 7
		return true
	})
	if c, _ := a.ks.Get([]byte("k")).BCounter(); !listed || sum != c.Value-c.Floor {
		t.Fatalf("gift recipient listed %v, rights sum %d, value %d, floor %d", listed, sum, c.Value, c.Floor)
	}
	// A rebalance with nothing to give records nothing.
	bd := b.begin()
	if _, err := bd.BCounterRebalance([]byte("nokey")); err != nil || !bd.Empty() {
		t.Fatalf("rebalance of a missing key: %v, empty %v", err, bd.Empty())
	}
}

// TestBCounterPlan checks the policy: wants from the largest holders
// first, then the surplus toward demand.
func TestBCounterPlan(t *testing.T) {
	g := &bcGen{dot: causal.Dot{Node: 1, Counter: 1}, floor: 0, initial: 100}
	g.joinAccount(&bcAccount{node: 1, gifts: []bcGift{{to: 2, amt: 30}, {to: 3, amt: 10}}})
	g.joinAccount(&bcAccount{node: 4, want: 50})
	// Rights: 1 → 60, 2 → 30, 3 → 10, 4 → 0 wanting 50.
	if p := bcPlan(g, 1); len(p) == 0 || p[0] != (bcPlanned{to: 4, n: 50}) {
		t.Fatalf("largest holder: %v", p)
	}
	if p := bcPlan(g, 2); len(p) != 0 && p[0].to == 4 {
		t.Fatalf("second holder gave although the first covers the want: %v", p)
	}
	g.joinAccount(&bcAccount{node: 4, want: 80})
	if p := bcPlan(g, 2); len(p) == 0 || p[0] != (bcPlanned{to: 4, n: 20}) {
		t.Fatalf("second holder covers the rest: %v", p)
	}
	// Demand: node 5 decremented most; a holder with surplus gives there.
	h := &bcGen{dot: causal.Dot{Node: 1, Counter: 1}, floor: 0, initial: 1000}
	h.joinAccount(&bcAccount{node: 5, inc: 100, dec: 100})
	p := bcPlan(h, 1)
	if len(p) != 1 || p[0].to != 5 || p[0].n < 500 {
		t.Fatalf("surplus: %v", p)
	}
	for _, q := range bcPlan(h, 5) {
		t.Fatalf("a node short of its target gave %v", q)
	}
	// A node waiting for rights gives no surplus away, although its own
	// demand is small: it asked for them.
	w := &bcGen{dot: causal.Dot{Node: 1, Counter: 1}, floor: 0, initial: 100}
	w.joinAccount(&bcAccount{node: 1, dec: 90, gifts: []bcGift{{to: 2, amt: 5}}})
	w.joinAccount(&bcAccount{node: 2, want: 8})
	for _, q := range bcPlan(w, 2) {
		t.Fatalf("a waiting node gave %v", q)
	}
}

// TestBCounterDecodeRefuses checks that decoders refuse non-canonical or
// out-of-limit bounded counters and never panic on a damaged encoding.
func TestBCounterDecodeRefuses(t *testing.T) {
	ks, txns := bcFixture(t)
	state := enc(ks)
	for i := range state {
		for _, d := range []byte{1, 0x7f, 0x80} {
			b := bytes.Clone(state)
			b[i] ^= d
			if got, err := DecodeKeyspace(b); err == nil && !bytes.Equal(enc(got), b) {
				t.Fatalf("byte %d: decoded input re-encodes differently", i)
			}
		}
		if _, err := DecodeKeyspace(state[:i]); err == nil {
			t.Fatalf("truncated at %d: decoded", i)
		}
	}
	for _, txn := range txns {
		bin := txn.AppendBinary(nil)
		for i := range bin {
			b := bytes.Clone(bin)
			b[i] ^= 0x41
			if got, err := DecodeTxn(b); err == nil && !bytes.Equal(got.AppendBinary(nil), b) {
				t.Fatalf("txn byte %d: decoded input re-encodes differently", i)
			}
		}
	}
	// Hand-made values: an amount over MaxBCounterAmount, initial below
	// floor, an empty account, unsorted accounts.
	val := func(parts ...uint64) []byte {
		b := []byte{tagExt, extBCounter}
		for _, p := range parts {
			b = codec.AppendUvarint(b, p)
		}
		return b
	}
	zz := func(n int64) uint64 { return uint64(n<<1) ^ uint64(n>>63) }
	bad := map[string][]byte{
		"over max":      val(1, 1, 1, zz(0), zz(10), 1, 2, MaxBCounterAmount+1, 0, 0, 0),
		"initial<floor": val(1, 1, 1, zz(5), zz(1), 0),
		"empty account": val(1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 0, 0),
		"unsorted":      val(1, 1, 1, zz(0), zz(1), 2, 3, 1, 0, 0, 0, 2, 1, 0, 0, 0),
		"gift to self":  val(1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 0, 1, 2, 5),
		"no gens":       val(0),
		// Version 1: withdrawn after each account's gifts.
		"v1 no withdrawal":   val(0, 1, 1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 5, 0, 0),
		"v1 withdrawn>want":  val(0, 1, 1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 5, 0, 6),
		"unknown version":    val(0, 2, 1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 5, 0, 3),
		"v1 no gens":         val(0, 1, 0),
		"v0 marker repeated": val(0, 1, 0, 1, 1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 5, 0, 3),
	}
	for name, b := range bad {
		r := codec.NewReader(b)
		if _, err := DecodeValue(r); err == nil && r.Finish() == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// A value as written before withdrawals existed (version 0) and one
	// with a withdrawal (version 1) decode and re-encode as they were.
	for name, good := range map[string][]byte{
		"v0": val(1, 1, 1, zz(0), zz(1), 1, 2, 1, 0, 0, 0),
		"v1": val(0, 1, 1, 1, 1, zz(0), zz(1), 1, 2, 0, 0, 5, 0, 3),
	} {
		r := codec.NewReader(good)
		v, err := DecodeValue(r)
		if err != nil || r.Finish() != nil || v.Type() != TypeBCounter {
			t.Fatalf("%s: a valid value: %v", name, err)
		}
		if got := AppendValue(nil, v); !bytes.Equal(got, good) {
			t.Fatalf("%s: re-encodes as %x, not %x", name, got, good)
		}
	}
}

// TestBCounterUpdateOfUnseenGeneration: Apply refuses an account update
// naming a generation outside the transaction's past.
func TestBCounterUpdateOfUnseenGeneration(t *testing.T) {
	reps := newReplicas(2)
	a := reps[0]
	script(t, a, "BCCREATE k 0 10")
	b := a.begin()
	if _, err := b.BCounterIncrement([]byte("k"), 1); err != nil {
		t.Fatal(err)
	}
	txn := b.Finish()
	txn.ops[0].op.bcounter.gen = causal.Dot{Node: 9, Counter: 1}
	if err := reps[1].ks.Apply(txn); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNotReady) {
		t.Fatalf("apply: %v", err)
	}
	txn.Deps = causal.Context{}
	txn.ops[0].op.bcounter.gen = causal.Dot{Node: 1, Counter: 1}
	if err := reps[1].ks.Apply(txn); !errors.Is(err, ErrInvalid) {
		t.Fatalf("apply without the generation in its past: %v", err)
	}
}

// bcFixture is a keyspace with bounded counters in several shapes and
// the transactions that made it.
func bcFixture(t testing.TB) (*Keyspace, []*Txn) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	var all []*Txn
	for _, txn := range script(t, a, "BCCREATE k -3 10", "BCGIVE k 2 4", "BCDECR k 2", "BCINCR k 7", "BCCREATE j 0 0") {
		b.deliver(t, txn)
		all = append(all, txn)
	}
	for _, txn := range script(t, b, "BCWANT k 9", "BCDECR k 1", "BCGIVE k 1 1", "BCWITHDRAW k -> 5", "BCCREATE x 0 3") {
		a.deliver(t, txn)
		all = append(all, txn)
	}
	for _, txn := range script(t, a, "BCCREATE x 1 2", "MULTI", "DEL j", "BCCREATE j 2 9", "BCDECR j 3", "EXEC") {
		all = append(all, txn)
	}
	return a.ks, all
}

// TestBCounterKeys: the keyspace lists exactly its bounded-counter keys,
// after applies, deletes, joins and a decode.
func TestBCounterKeys(t *testing.T) {
	ks, _ := bcFixture(t)
	want := "[j k x]"
	got := func(ks *Keyspace) string {
		var parts []string
		for _, k := range ks.BCounterKeys() {
			parts = append(parts, string(k))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	if g := got(ks); g != want {
		t.Fatalf("applied: %s", g)
	}
	d, err := DecodeKeyspace(enc(ks))
	if err != nil {
		t.Fatal(err)
	}
	if g := got(d); g != want {
		t.Fatalf("decoded: %s", g)
	}
	j := NewKeyspace()
	j.Join(ks)
	if g := got(j); g != want {
		t.Fatalf("joined: %s", g)
	}
	r := &replica{id: 1, ks: d, now: new(uint64)}
	*r.now = 100
	script(t, r, "DEL k", "SET x v")
	if g := got(d); g != "[j]" {
		t.Fatalf("after DEL and SET: %s", g)
	}
}
