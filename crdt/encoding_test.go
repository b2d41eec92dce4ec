package crdt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// fixture is a small state with every type, hidden parts and siblings,
// used as a fuzz seed and as a join partner for hostile input.
func fixture(t testing.TB) (*Keyspace, []*Txn) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	var txns []*Txn
	txns = append(txns, script(t, a, "SET str hello", "INCRBY cnt 5", "SADD set x y z", "HSET map f v", "HINCRBY map n 3", "SET tomb 1", "INCR tomb", "DEL tomb", "RPUSH lst p q r", "TINS txt 0 héllo", "RPUSH gone a", "DEL gone", "XADD strm 1-1 f a", "XADD strm * g b h c")...)
	for _, txn := range txns {
		b.deliver(t, txn)
	}
	tA := script(t, a, "SET str a", "SREM set x", "HDEL map f", "INCRBY cnt -2", "LINSERTAT lst 1 s", "TDEL txt 1 2", "XDEL strm 1-1", "XADD strm * i j")
	tB := script(t, b, "SET str b", "SADD set x", "HSET map f w", "DEL cnt", "MULTI", "SET k1 v", "SADD k2 m", "XADD k3 5-5 f v", "XTRIM strm MAXLEN 1", "EXEC", "LDELAT lst 0", "TINS txt 2 XY", "LSET lst 1 w")
	for _, txn := range tB {
		a.deliver(t, txn)
	}
	for _, txn := range tA {
		b.deliver(t, txn)
	}
	return a.ks, append(append(txns, tA...), tB...)
}

// zsetFixture is a state with sorted sets in every shape: concurrent
// ZADDs, live and reset increments, a hidden member, infinities.
func zsetFixture(t testing.TB) (*Keyspace, []*Txn) {
	reps := newReplicas(2)
	a, b := reps[0], reps[1]
	txns := script(t, a, "ZADD z 1 a 2.5 b -inf c", "ZINCRBY z 3 a", "ZINCRBY z 0.5 h", "ZREM z h", "ZINCRBY z 1 h")
	for _, txn := range txns {
		b.deliver(t, txn)
	}
	tA := script(t, a, "ZADD z 7 b", "ZINCRBY z 2 a", "MULTI", "ZADD y 0 m", "DEL z", "ZADD z 4 d", "EXEC")
	tB := script(t, b, "ZADD z 8 b", "ZINCRBY z -1 a", "ZREM z c")
	for _, txn := range tB {
		a.deliver(t, txn)
	}
	for _, txn := range tA {
		b.deliver(t, txn)
	}
	return a.ks, append(append(txns, tA...), tB...)
}

// TestIncrementBodySize: the wire budget. An INCRBY 1 of a fresh counter,
// its key written as a 1-byte dictionary id, costs at most 8 bytes beyond
// the key; a SET of a 16-byte key and 32-byte value costs key + value + a
// few bytes.
func TestIncrementBodySize(t *testing.T) {
	ks := NewKeyspace()
	b := ks.Begin(causal.Dot{Node: 1, Counter: 1}, causal.Timestamp{WallMs: 1})
	if _, err := b.Increment([]byte("counter"), 1); err != nil {
		t.Fatal(err)
	}
	txn := b.Finish()
	body := txn.AppendBody(nil, newDictKeys())
	const keyIDBytes = 1
	if beyond := len(body) - keyIDBytes; beyond > 8 {
		t.Fatalf("INCR body %x: %d bytes beyond the key id, budget 8", body, beyond)
	}
	if len(body) != 4 { // key count, key id, tag, sum
		t.Fatalf("INCR body %x is %d bytes, expected 4", body, len(body))
	}
	must(t, ks.Apply(txn))

	// A later increment of the same counter by the same node is no bigger
	// while its cumulative sum fits one varint byte.
	b = ks.Begin(causal.Dot{Node: 1, Counter: 2}, causal.Timestamp{WallMs: 2})
	b.Increment([]byte("counter"), 1)
	if n := len(b.Finish().AppendBody(nil, newDictKeys())); n != 4 {
		t.Fatalf("second INCR body %d bytes", n)
	}

	key, value := bytes.Repeat([]byte("k"), 16), bytes.Repeat([]byte("v"), 32)
	for _, overwrite := range []bool{false, true} {
		b = ks.Begin(causal.Dot{Node: 1, Counter: ks.Context().Vector.Get(1) + 1}, causal.Timestamp{WallMs: 3})
		must(t, b.Set(key, value))
		txn := b.Finish()
		body := txn.AppendBody(nil, PlainKeys{})
		// key count, key length, key, tag, value length, value.
		if extra := len(body) - len(key) - len(value); extra != 4 {
			t.Fatalf("SET body (overwrite %v): %d bytes beyond key and value", overwrite, extra)
		}
		must(t, ks.Apply(txn))
	}
}

// TestDecodeRefusals: decoders refuse non-canonical and hostile input with
// a reason.
func TestDecodeRefusals(t *testing.T) {
	ks, txns := fixture(t)
	good := enc(ks)
	if _, err := DecodeKeyspace(good); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeKeyspace(append([]byte{9}, good[1:]...)); !errors.Is(err, ErrVersion) {
		t.Fatalf("version: %v", err)
	}
	if _, err := DecodeKeyspace(append(bytes.Clone(good), 0)); !errors.Is(err, codec.ErrTrailing) {
		t.Fatalf("trailing: %v", err)
	}
	for i := 1; i < len(good); i++ {
		if _, err := DecodeKeyspace(good[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
	// Two keys out of order: swap the encodings of the first two keys.
	two := NewKeyspace()
	r := newReplicas(1)[0]
	r.ks = two
	script(t, r, "SET a 1", "SET b 2")
	e := enc(two)
	bad := bytes.Replace(bytes.Clone(e), []byte{1, 'a'}, []byte{1, 'c'}, 1)
	if _, err := DecodeKeyspace(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unsorted keys: %v", err)
	}
	// Unknown value tags (0x10 is the expiry component since it exists,
	// 0x20 the extension byte): an unused bit, an extension byte of zero,
	// an extension bit this version does not know.
	for _, in := range [][]byte{{0x40}, {tagExt, 0}, {tagExt, 0x80}} {
		rd := codec.NewReader(in)
		if _, err := DecodeValue(rd); !errors.Is(err, ErrInvalid) {
			t.Fatalf("unknown tag % x: %v", in, err)
		}
	}
	rd := codec.NewReader(nil)
	// A map nested in a map field.
	rd = codec.NewReader([]byte{tagMap, 1, 1, 'f', tagMap})
	if _, err := DecodeValue(rd); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nested map: %v", err)
	}
	// A hostile count cannot drive an allocation.
	rd = codec.NewReader([]byte{tagSet, 0xff, 0xff, 0xff, 0x07})
	if _, err := DecodeValue(rd); err == nil {
		t.Fatal("huge set count decoded")
	}
	// Zero dot in a transaction.
	bin := txns[0].AppendBinary(nil)
	bin[1] = 0
	if _, err := DecodeTxn(bin); err == nil {
		t.Fatal("zero dot decoded")
	}
	// Operation tag 0 and unknown bits.
	// (0x40 is the expiry operation since it exists; a field has none.)
	if err := DecodeBody(codec.NewReader([]byte{1, 1, 'k', opMap, 2, 1, 'f', opExpiry, 5}), PlainKeys{}, &Txn{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("field expiry: %v", err)
	}
	// (0x80 is the extension byte since it exists: zero and unknown
	// extension bits are refused, and a field has no extension.)
	for _, op := range [][]byte{{0}, {opExt, 0}, {opExt, 0x80}} {
		body := append([]byte{1, 1, 'k'}, op...)
		var txn Txn
		if err := DecodeBody(codec.NewReader(body), PlainKeys{}, &txn); !errors.Is(err, ErrInvalid) {
			t.Fatalf("op % x: %v", op, err)
		}
	}
	if err := DecodeBody(codec.NewReader([]byte{1, 1, 'k', opMap, 2, 1, 'f', opExt, 1}), PlainKeys{}, &Txn{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("field extension: %v", err)
	}
}

// seeds returns valid encodings of each kind for the fuzz corpora.
func seeds(t testing.TB) (states, txnBins, bodies, values [][]byte) {
	ks, txns := fixture(t)
	zs, ztxns := zsetFixture(t)
	txns = append(txns, ztxns...)
	bc, btxns := bcFixture(t)
	txns = append(txns, btxns...)
	states = append(states, enc(ks), enc(NewKeyspace()), enc(zs), enc(bc))
	zs.order.Scan(func(e *keyEntry) bool {
		values = append(values, AppendValue(nil, &e.v))
		return true
	})
	for _, txn := range txns {
		txnBins = append(txnBins, txn.AppendBinary(nil))
		bodies = append(bodies, txn.AppendBody(nil, PlainKeys{}))
	}
	ks.order.Scan(func(e *keyEntry) bool {
		values = append(values, AppendValue(nil, &e.v))
		return true
	})
	return
}

func FuzzDecodeKeyspace(f *testing.F) {
	states, _, _, _ := seeds(f)
	for _, s := range states {
		f.Add(s)
	}
	partner, _ := fixture(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := DecodeKeyspace(b)
		if err != nil {
			return
		}
		if again := enc(ks); !bytes.Equal(again, b) {
			t.Fatalf("decoded input re-encodes differently:\n%x\n%x", b, again)
		}
		// Joins with a hostile state must not panic, and keep the hash
		// consistent with the encoding.
		j := copyOfT(t, partner)
		j.Join(ks)
		if d := copyOfT(t, j); d.Hash() != j.Hash() {
			t.Fatal("hash after join differs from scratch")
		}
		ks.Join(partner)
	})
}

func FuzzDecodeTxn(f *testing.F) {
	_, txns, _, _ := seeds(f)
	for _, s := range txns {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		txn, err := DecodeTxn(b)
		if err != nil {
			return
		}
		if again := txn.AppendBinary(nil); !bytes.Equal(again, b) {
			t.Fatalf("decoded input re-encodes differently:\n%x\n%x", b, again)
		}
		// Apply it to a state that satisfies its deps: no panic, and the
		// incremental hash matches a from-scratch one.
		ks, _ := fixture(t)
		ks.ctx.Merge(&txn.Deps)
		ks.ctxHash = ks.h.context(&ks.ctx)
		before := enc(ks)
		if err := ks.Apply(txn); errors.Is(err, ErrInvalid) {
			if !bytes.Equal(before, enc(ks)) {
				t.Fatal("refused transaction changed the state")
			}
			return
		} else if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if d := copyOfT(t, ks); d.Hash() != ks.Hash() {
			t.Fatal("hash after apply differs from scratch")
		}
	})
}

func FuzzDecodeBody(f *testing.F) {
	_, _, bodies, _ := seeds(f)
	for _, s := range bodies {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var txn Txn
		r := codec.NewReader(b)
		if DecodeBody(r, PlainKeys{}, &txn) != nil || r.Finish() != nil {
			return
		}
		if again := txn.AppendBody(nil, PlainKeys{}); !bytes.Equal(again, b) {
			t.Fatalf("decoded input re-encodes differently:\n%x\n%x", b, again)
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	_, _, _, values := seeds(f)
	for _, s := range values {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := codec.NewReader(b)
		v, err := DecodeValue(r)
		if err != nil || r.Finish() != nil {
			return
		}
		if again := AppendValue(nil, v); !bytes.Equal(again, b) {
			t.Fatalf("decoded input re-encodes differently:\n%x\n%x", b, again)
		}
		v.Type()
		v.Register()
		v.Counter()
		v.Len()
		v.Members(func([]byte) bool { return true })
		v.Fields(func([]byte, *Value) bool { return true })
	})
}

func copyOfT(t *testing.T, ks *Keyspace) *Keyspace {
	t.Helper()
	c, err := DecodeKeyspace(enc(ks))
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	return c
}

// TestBodyFormat pins the wire format of a few operations byte for byte
// (the tag bits and field order are append-only; see encoding.go).
func TestBodyFormat(t *testing.T) {
	r := newReplicas(1)[0]
	script(t, r, "SET s old", "SADD set a", "HSET h f v")
	cases := []struct {
		cmd  string
		want string // hex of AppendBody with plain keys
	}{
		// keys=1, key "c", tag 8 (counter increment), sum 1 (zig-zag 2)
		{"INCR c", "0101630802"},
		// keys=1, key "s", tag 3 (clear observed register, write), "new"
		{"SET s new", "01017303036e6577"},
		// keys=1, key "s", tag 1 (clear observed register)
		{"DEL s", "01017301"},
		// keys=1, key "set", tag 16, header 1<<1|0, member "b" op add: len 1<<2|1
		{"SADD set b", "0103736574100205" + "62"},
		// member "a": remove observed (op 2): 1<<2|2
		{"SREM set a", "0103736574100206" + "61"},
		// keys=1, key "h", tag 32, header 1<<1|0, field "f", nested tag 3, "w"
		{"HSET h f w", "010168200201660301" + "77"},
	}
	for _, c := range cases {
		b := r.begin()
		run(b, c.cmd)
		got := hex.EncodeToString(b.Finish().AppendBody(nil, PlainKeys{}))
		if got != c.want {
			t.Errorf("%s: body %s, want %s", c.cmd, got, c.want)
		}
	}
}
