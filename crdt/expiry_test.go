package crdt

import (
	"bytes"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// TestExpiryConcurrentPairs is the expiry part of docs/semantics.md: A
// (node 1) and B (node 2) run a and b concurrently from base, exchange,
// and must agree. The shared clock advances 1 ms per transaction, so
// deadlines of 1000 are far in the future and B's writes are later.
func TestExpiryConcurrentPairs(t *testing.T) {
	cases := []pairCase{
		{"expire || expire", []string{"SET k v"}, []string{"EXPIREAT k 1000 -> 1"}, []string{"EXPIREAT k 2000 -> 1"}, []string{"DEADLINE k -> 2000"}},
		{"expire || expire (later writer, earlier deadline)", []string{"SET k v"}, []string{"EXPIREAT k 2000"}, []string{"EXPIREAT k 1000"}, []string{"DEADLINE k -> 1000"}},
		{"expire || persist", []string{"SET k v", "EXPIREAT k 500"}, []string{"EXPIREAT k 1000"}, []string{"PERSIST k -> 1"}, []string{"DEADLINE k -> 1000"}},
		{"persist || expire", []string{"SET k v", "EXPIREAT k 500"}, []string{"PERSIST k -> 1"}, []string{"EXPIREAT k 1000"}, []string{"DEADLINE k -> 1000"}},
		{"expire || set", []string{"SET k v"}, []string{"EXPIREAT k 1000"}, []string{"SET k w"}, []string{"GET k -> w", "DEADLINE k -> 1000"}},
		{"set || expire", []string{"SET k v"}, []string{"SET k w"}, []string{"EXPIREAT k 1000"}, []string{"GET k -> w", "DEADLINE k -> 1000"}},
		{"expire || set keepttl", []string{"SET k v", "EXPIREAT k 500"}, []string{"EXPIREAT k 1000"}, []string{"SETKEEPTTL k w"}, []string{"GET k -> w", "DEADLINE k -> 1000"}},
		{"set keepttl || persist", []string{"SET k v", "EXPIREAT k 500"}, []string{"SETKEEPTTL k w"}, []string{"PERSIST k"}, []string{"GET k -> w", "DEADLINE k -> none"}},
		{"expire || del", []string{"SET k v"}, []string{"EXPIREAT k 1000"}, []string{"DEL k"}, []string{"GET k -> (nil)", "DEADLINE k -> (nil)", "RECLAIM k -> 1"}},
		{"expire || del, then sadd", []string{"SET k v"}, []string{"EXPIREAT k 1000"}, []string{"DEL k"}, []string{"SADD k m -> 1", "DEADLINE k -> none"}},
		{"expire || incr", []string{"INCR k"}, []string{"EXPIREAT k 1000"}, []string{"INCR k -> 2"}, []string{"GET k -> 2", "DEADLINE k -> 1000"}},
		{"expire || sadd", []string{"SADD s m"}, []string{"EXPIREAT s 1000"}, []string{"SADD s n"}, []string{"SMEMBERS s -> [m n]", "DEADLINE s -> 1000"}},
		{"expired || incr", []string{"INCRBY k 10", "EXPIREAT k 3"}, []string{"GET k -> (nil)"}, []string{"INCR k -> 1"}, []string{"GET k -> 1", "DEADLINE k -> none"}},
	}
	runPairs(t, cases)
}

// TestExpiryHidesAndWritesObserveRemove: an expired key reads as absent,
// and a write to it starts from nothing: SADD makes a new set, SET has no
// deadline, EXPIRE of it answers 0.
func TestExpiryHidesAndWritesObserveRemove(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r,
		"SADD s a b", "EXPIREAT s 5", // times 1..2
		"SMEMBERS s -> [a b]", "SCARD s -> 2", // 3, 4
		"SCARD s -> 0", // 5: deadline ≤ now
		"EXPIREAT s 100 -> 0",
		"SADD s c -> 1", "SMEMBERS s -> [c]", "DEADLINE s -> none",
		"SET k v", "EXPIREAT k 14", "SETKEEPTTL k w", "DEADLINE k -> 14", "GET k -> (nil)",
		"SETKEEPTTL k x", "DEADLINE k -> none", "GET k -> x",
		"SET p v", "EXPIREAT p 100", "PERSIST p -> 1", "PERSIST p -> 0", "DEADLINE p -> none",
		"SET q v", "EXPIREAT q 1 -> 1", "GET q -> (nil)",
	)
	if v := r.ks.lookup([]byte("q")); v != nil {
		t.Fatalf("EXPIRE in the past left %s", dumpValue(v))
	}
	if v := r.ks.lookup([]byte("s")); len(v.expiry()) != 0 || len(members(v)) != 1 {
		t.Fatalf("SADD on the expired set kept %s", dumpValue(v))
	}
}

// TestExpiryReclaim: RECLAIM deletes an expired key (one DEL, after which
// nothing is left) and nothing else.
func TestExpiryReclaim(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET k v", "EXPIREAT k 100", "RECLAIM k -> 0", "SET e v", "EXPIREAT e 6")
	script(t, r, "RECLAIM e -> 1", "RECLAIM e -> 0", "RECLAIM missing -> 0")
	if v := r.ks.lookup([]byte("e")); v != nil {
		t.Fatalf("reclaimed key left %s", dumpValue(v))
	}
	// A deadline a concurrent DEL left alone is not live, so Range skips
	// it; RangeExpiring finds it, and RECLAIM removes it.
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	b.deliver(t, script(t, a, "SET k v")[0])
	ta := script(t, a, "EXPIREAT k 1000")
	tb := script(t, b, "DEL k")
	a.deliver(t, tb[0])
	b.deliver(t, ta[0])
	script(t, a, "SET a 1", "SET z 1")
	var found []string
	collect := func(k []byte, _ *Value) bool { found = append(found, string(k)); return true }
	next := a.ks.RangeExpiring(nil, 1, collect) // visits only "a"
	if len(found) != 0 || string(next) != "k" {
		t.Fatalf("RangeExpiring(nil, 1) found %q, next %q", found, next)
	}
	if next = a.ks.RangeExpiring(next, 5, collect); len(found) != 1 || found[0] != "k" || next != nil {
		t.Fatalf("RangeExpiring found %q, next %q", found, next)
	}
	script(t, a, "RECLAIM k -> 1")
	if v := a.ks.lookup([]byte("k")); v != nil {
		t.Fatalf("reclaimed leftover deadline left %s", dumpValue(v))
	}
}

// TestExpiryEncoding: a value with a deadline round-trips, a value
// without one encodes as before expiry existed, and the transaction body
// of EXPIRE is the key, a tag and the deadline.
func TestExpiryEncoding(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET plain v")
	before := enc(r.ks)
	script(t, r, "SET k v")
	txns := script(t, r, "EXPIREAT k 300")
	body := txns[0].AppendBody(nil, PlainKeys{})
	want := []byte{1, 1, 'k', opExpiry}
	want = codec.AppendUvarint(want, 300)
	if !bytes.Equal(body, want) {
		t.Fatalf("EXPIRE body %x, want %x", body, want)
	}
	ks, err := DecodeKeyspace(enc(r.ks))
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "decoded", ks, r.ks)
	back, err := DecodeTxn(txns[0].AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.AppendBinary(nil), txns[0].AppendBinary(nil)) {
		t.Fatal("txn did not round-trip")
	}
	// The plain key's bytes are unchanged by the other key's deadline.
	p := NewKeyspace()
	must(t, p.Apply(script(t, newReplicas(1)[0], "SET plain v")[0]))
	if !bytes.Equal(enc(p), before) {
		t.Fatalf("plain encoding changed")
	}
	if !bytes.Contains(before, []byte{1, 1, 1, 1, 1, 0, 1, 'v'}) {
		t.Fatalf("plain register encoding %x is not the pre-expiry one", before)
	}
	// A field carries no expiry: a nested tag 16 is refused.
	bad := append([]byte{tagMap, 1, 1, 'f', tagRegister | tagExpiry}, make([]byte, 10)...)
	if _, err := DecodeValue(codec.NewReader(bad)); err == nil {
		t.Fatal("nested expiry accepted")
	}
}

// TestExpiryTieBreak: concurrent deadlines with equal timestamps resolve
// by node, like registers.
func TestExpiryTieBreak(t *testing.T) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	base := script(t, a, "SET k v")
	b.deliver(t, base[0])
	ts := causal.Timestamp{WallMs: 50}
	ba := a.ks.Begin(causal.Dot{Node: a.id, Counter: 2}, ts)
	bb := b.ks.Begin(causal.Dot{Node: b.id, Counter: 1}, ts)
	if _, err := ba.Expire([]byte("k"), 900); err != nil {
		t.Fatal(err)
	}
	if _, err := bb.Expire([]byte("k"), 800); err != nil {
		t.Fatal(err)
	}
	ta, tb := ba.Finish(), bb.Finish()
	a.deliver(t, tb)
	b.deliver(t, ta)
	a.deliver(t, ta)
	b.deliver(t, tb)
	sameState(t, "tie", a.ks, b.ks)
	if d, _ := a.ks.Get([]byte("k")).Deadline(); d != 800 {
		t.Fatalf("deadline %d, want node 2's 800", d)
	}
}

// TestLastApplyExpired: an Apply that deletes a key whose deadline had
// passed at its time reports it (keyspace notifications call it
// "expired"); a plain DEL of a live key and a write that leaves the key
// live do not.
func TestLastApplyExpired(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET k v", "EXPIREAT k 4", "SET live v", "EXPIREAT live 1000")
	for *r.now < 10 {
		*r.now++
	}
	script(t, r, "RECLAIM k -> 1")
	if !r.ks.LastApplyExpired([]byte("k")) {
		t.Fatal("reclaim of an expired key not reported")
	}
	script(t, r, "DEL live -> 1")
	if r.ks.LastApplyExpired([]byte("live")) {
		t.Fatal("DEL of a live key reported as expired")
	}
	script(t, r, "SET e v", "EXPIREAT e 14", "SET e w")
	if r.ks.LastApplyExpired([]byte("e")) {
		t.Fatal("a write that leaves the key live reported as expired")
	}
}
