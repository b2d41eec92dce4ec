package crdt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
	"pgregory.net/rapid"
)

// The property tests simulate 2–4 replicas making random transactions over
// a few keys, members and fields (so operations collide often), with
// deliveries in random causal orders, duplicates and premature attempts.

var (
	propKeys    = []string{"a", "b", "c"}
	propMembers = []string{"x", "y", "z"}
	propFields  = []string{"f", "g"}
	propValues  = []string{"1", "-7", "v", `""`, "9223372036854775807"}
	propBy      = []string{"1", "-1", "5", "9223372036854775807", "-9223372036854775808", "0"}
)

// genCommand draws one command line for run.
func genCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys).Draw(t, "key")
	m := func() string { return rapid.SampledFrom(propMembers).Draw(t, "member") }
	f := func() string { return rapid.SampledFrom(propFields).Draw(t, "field") }
	v := func() string { return rapid.SampledFrom(propValues).Draw(t, "value") }
	n := func() string { return rapid.SampledFrom(propBy).Draw(t, "by") }
	switch rapid.IntRange(0, 9).Draw(t, "command") {
	case 0:
		return "SET " + k + " " + v()
	case 1:
		return "DEL " + k
	case 2:
		return "INCRBY " + k + " " + n()
	case 3:
		return "SADD " + k + " " + m() + " " + m()
	case 4:
		return "SREM " + k + " " + m()
	case 5:
		return "HSET " + k + " " + f() + " " + v()
	case 6:
		return "HINCRBY " + k + " " + f() + " " + n()
	case 7:
		return "HDEL " + k + " " + f()
	case 8:
		return "SADD " + k + " " + m()
	}
	return "GET " + k
}

// Per-type generators: one type's commands plus the key-level ones that
// interact with it, so collisions within the type are dense.

func genCounterCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	switch rapid.IntRange(0, 5).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "SET " + k + " " + rapid.SampledFrom([]string{"3", "x"}).Draw(t, "value")
	}
	return "INCRBY " + k + " " + rapid.SampledFrom(propBy).Draw(t, "by")
}

func genSetCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	m := func() string { return rapid.SampledFrom(propMembers).Draw(t, "member") }
	switch rapid.IntRange(0, 6).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "SET " + k + " v"
	case 2, 3:
		return "SREM " + k + " " + m() + " " + m()
	}
	return "SADD " + k + " " + m() + " " + m()
}

func genMapCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	f := func() string { return rapid.SampledFrom(propFields).Draw(t, "field") }
	switch rapid.IntRange(0, 7).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "SET " + k + " v"
	case 2, 3:
		return "HDEL " + k + " " + f() + " " + f()
	case 4, 5:
		return "HINCRBY " + k + " " + f() + " " + rapid.SampledFrom(propBy).Draw(t, "by")
	}
	return "HSET " + k + " " + f() + " " + rapid.SampledFrom(propValues).Draw(t, "value")
}

func genRegisterCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	switch rapid.IntRange(0, 4).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "INCRBY " + k + " 1"
	}
	return "SET " + k + " " + rapid.SampledFrom(propValues).Draw(t, "value")
}

func genListCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	i := func() string { return fmt.Sprint(rapid.IntRange(0, 4).Draw(t, "index")) }
	v := func() string { return rapid.SampledFrom([]string{"p", "q", "r", "s"}).Draw(t, "elem") }
	switch rapid.IntRange(0, 11).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "SET " + k + " v"
	case 2:
		return "LPUSH " + k + " " + v() + " " + v()
	case 3:
		return "LINSERTAT " + k + " " + i() + " " + v()
	case 4:
		return "LDELAT " + k + " " + i()
	case 5:
		return "LDELRANGE " + k + " " + i() + " " + i()
	case 6:
		return "LTRIMTO " + k + " " + i() + " " + i()
	case 7:
		return "LSET " + k + " " + i() + " " + v()
	case 8:
		return "LPOP " + k
	case 9:
		return "RPOP " + k
	case 10:
		return "LRANGE " + k
	}
	return "RPUSH " + k + " " + v()
}

func genTextCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	i := func() string { return fmt.Sprint(rapid.IntRange(0, 6).Draw(t, "pos")) }
	switch rapid.IntRange(0, 9).Draw(t, "command") {
	case 0:
		return "DEL " + k
	case 1:
		return "RPUSH " + k + " e"
	case 2, 3:
		return "TDEL " + k + " " + i() + " " + i()
	case 4:
		return "TGET " + k
	}
	return "TINS " + k + " " + i() + " " + rapid.SampledFrom([]string{"a", "bc", "é", "xyz€"}).Draw(t, "str")
}

var generators = []struct {
	name string
	gen  func(t *rapid.T) string
}{
	{"all", genCommand},
	{"register", genRegisterCommand},
	{"counter", genCounterCommand},
	{"set", genSetCommand},
	{"map", genMapCommand},
	{"list", genListCommand},
	{"text", genTextCommand},
	{"expiry", genExpiryCommand},
	{"zset", genZSetCommand},
	{"stream", genStreamCommand},
}

// genZSetCommand mixes sorted-set writes with the key-level ones; scores
// include fractions, infinities and zero.
func genZSetCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	m := func() string { return rapid.SampledFrom(propMembers).Draw(t, "member") }
	s := func() string {
		return rapid.SampledFrom([]string{"1", "-2.5", "0", "0.1", "inf", "-inf", "1e300"}).Draw(t, "score")
	}
	switch rapid.IntRange(0, 9).Draw(t, "command") {
	case 0, 1:
		return "ZADD " + k + " " + s() + " " + m()
	case 2, 3, 4:
		return "ZINCRBY " + k + " " + s() + " " + m()
	case 5:
		return "ZREM " + k + " " + m()
	case 6:
		return "DEL " + k
	case 7:
		return "SET " + k + " v"
	case 8:
		return "ZSCORE " + k + " " + m()
	}
	return "ZRANGE " + k
}

// genExpiryCommand mixes deadlines (near ones expire within the run: the
// clock advances 1 ms per transaction) with the writes they interact with.
func genExpiryCommand(t *rapid.T) string {
	k := rapid.SampledFrom(propKeys[:2]).Draw(t, "key")
	d := func() string { return rapid.SampledFrom([]string{"3", "8", "15", "30", "1000"}).Draw(t, "deadline") }
	switch rapid.IntRange(0, 9).Draw(t, "command") {
	case 0, 1:
		return "EXPIREAT " + k + " " + d()
	case 2:
		return "PERSIST " + k
	case 3:
		return "SETKEEPTTL " + k + " " + rapid.SampledFrom(propValues).Draw(t, "value")
	case 4:
		return "RECLAIM " + k
	case 5:
		return "DEL " + k
	case 6:
		return "INCRBY " + k + " " + rapid.SampledFrom(propBy[:3]).Draw(t, "by")
	case 7:
		return "SADD " + k + " " + rapid.SampledFrom(propMembers).Draw(t, "member")
	case 8:
		return "DEADLINE " + k
	}
	return "SET " + k + " " + rapid.SampledFrom(propValues).Draw(t, "value")
}

// dictKeys is a test KeyWriter/KeyReader that replaces keys with ids, as a
// link's dictionary does.
type dictKeys struct {
	ids  map[string]uint64
	keys [][]byte
}

func newDictKeys() *dictKeys { return &dictKeys{ids: map[string]uint64{}} }

func (d *dictKeys) AppendKey(dst, key []byte) []byte {
	id, ok := d.ids[string(key)]
	if !ok {
		id = uint64(len(d.keys))
		d.ids[string(key)] = id
		d.keys = append(d.keys, bytes.Clone(key))
	}
	return codec.AppendUvarint(dst, id)
}

func (d *dictKeys) ReadKey(r *codec.Reader) []byte {
	id := r.Uvarint("key id")
	if r.Err() != nil {
		return nil
	}
	if id >= uint64(len(d.keys)) {
		r.Fail("key id", codec.ErrInvalid)
		return nil
	}
	return d.keys[id]
}

// views renders every property key as the builder sees it (hidden parts
// included), to compare before and after an operation.
func views(b *Builder) string {
	var s strings.Builder
	for _, k := range propKeys {
		s.Write(AppendValue(nil, builderValue(b, []byte(k))))
	}
	fmt.Fprint(&s, b.Empty())
	return s.String()
}

// visibleAt is what a read at nowMs sees at key: nil if expired.
func visibleAt(ks *Keyspace, key []byte, nowMs uint64) *Value {
	if v := ks.Get(key); v != nil && !v.Expired(nowMs) {
		return v
	}
	return nil
}

// builderValue is the key's full value (hidden parts included) as the
// builder sees it.
func builderValue(b *Builder, key []byte) *Value {
	kb := b.find(key)
	if kb == nil {
		return b.ks.lookup(key)
	}
	b.Get(key) // materializes kb.view
	if kb.view.empty() {
		return nil
	}
	return kb.view
}

// checkRoundTrips checks every encoding of txn.
func checkRoundTrips(t *rapid.T, txn *Txn, dict *dictKeys) *Txn {
	bin := txn.AppendBinary(nil)
	got, err := DecodeTxn(bin)
	if err != nil {
		t.Fatalf("DecodeTxn: %v", err)
	}
	if again := got.AppendBinary(nil); !bytes.Equal(bin, again) {
		t.Fatalf("txn round trip differs:\n%x\n%x", bin, again)
	}
	body := txn.AppendBody(nil, dict)
	fromBody := Txn{Dot: txn.Dot, Time: txn.Time, Deps: txn.Deps} // DecodeBody needs the header (sequence references are relative to the dot)
	r := codec.NewReader(body)
	if err := DecodeBody(r, dict, &fromBody); err != nil || r.Finish() != nil {
		t.Fatalf("DecodeBody: %v %v", err, r.Finish())
	}
	if again := fromBody.AppendBody(nil, dict); !bytes.Equal(body, again) {
		t.Fatalf("body round trip differs")
	}
	return got
}

// checkKeyspace checks a keyspace's derived state: the incremental hash
// equals a from-scratch one, the encoding round-trips, Len matches Range,
// every value round-trips.
func checkKeyspace(t *rapid.T, ks *Keyspace) {
	b := enc(ks)
	dec, err := DecodeKeyspace(b)
	if err != nil {
		t.Fatalf("DecodeKeyspace: %v\n%s", err, dump(ks))
	}
	if again := enc(dec); !bytes.Equal(b, again) {
		t.Fatalf("keyspace round trip differs")
	}
	if dec.Hash() != ks.Hash() {
		t.Fatalf("incremental hash %x, from scratch %x\n%s", ks.Hash(), dec.Hash(), dump(ks))
	}
	n := 0
	ks.Range(nil, func(key []byte, v *Value) bool {
		n++
		if ks.KeyHash(key) != dec.KeyHash(key) {
			t.Fatalf("key hash of %q differs from scratch", key)
		}
		vb := AppendValue(nil, v)
		r := codec.NewReader(vb)
		got, err := DecodeValue(r)
		if err != nil || r.Finish() != nil {
			t.Fatalf("DecodeValue: %v", err)
		}
		if again := AppendValue(nil, got); !bytes.Equal(vb, again) {
			t.Fatalf("value round trip differs")
		}
		return true
	})
	if n != ks.Len() {
		t.Fatalf("Len %d, Range saw %d", ks.Len(), n)
	}
}

// world is one simulated run: replicas and every transaction committed,
// in creation order (a linear extension of causality).
type world struct {
	gen   func(t *rapid.T) string // draws one command
	reps  []*replica
	txns  []*Txn
	coded []*Txn // the same transactions after an encode/decode round trip
	dict  *dictKeys
}

// step draws and performs one step: a transaction at some replica, or a
// delivery attempt (ready, premature or duplicate).
func (w *world) step(t *rapid.T) {
	r := w.reps[rapid.IntRange(0, len(w.reps)-1).Draw(t, "replica")]
	if len(w.txns) == 0 || rapid.Bool().Draw(t, "write") {
		w.write(t, r)
		return
	}
	i := rapid.IntRange(0, len(w.txns)-1).Draw(t, "txn")
	w.attempt(t, r, i)
}

func (w *world) write(t *rapid.T, r *replica) {
	b := r.begin()
	n := rapid.IntRange(1, 3).Draw(t, "ops")
	for j := 0; j < n; j++ {
		cmd := w.gen(t)
		before := views(b)
		reply := run(b, cmd)
		if strings.HasPrefix(reply, "ERR") || reply == "WRONGTYPE" {
			if after := views(b); after != before {
				t.Fatalf("%s failed (%s) but changed the builder", cmd, reply)
			}
		}
	}
	want := make([][]byte, len(propKeys))
	full := make([][]byte, len(propKeys))
	for i, k := range propKeys {
		want[i] = AppendValue(nil, b.Get([]byte(k)))
		full[i] = AppendValue(nil, builderValue(b, []byte(k)))
	}
	if b.Empty() {
		return
	}
	now := b.Now()
	txn := b.Finish()
	r.deliver(t, txn)
	for i, k := range propKeys {
		if got := AppendValue(nil, visibleAt(r.ks, []byte(k), now)); !bytes.Equal(got, want[i]) {
			t.Fatalf("key %s: builder showed %x, apply gave %x", k, want[i], got)
		}
		if got := AppendValue(nil, r.ks.lookup([]byte(k))); !bytes.Equal(got, full[i]) {
			t.Fatalf("key %s (hidden parts): builder showed %x, apply gave %x", k, full[i], got)
		}
	}
	w.txns = append(w.txns, txn)
	w.coded = append(w.coded, checkRoundTrips(t, txn, w.dict))
}

// attempt delivers transaction i to r, or checks that a premature or
// duplicate delivery changes nothing.
func (w *world) attempt(t *rapid.T, r *replica, i int) {
	txn := w.txns[i]
	if rapid.Bool().Draw(t, "decoded") {
		txn = w.coded[i]
	}
	before := enc(r.ks)
	hash := r.ks.Hash()
	err := r.ks.Apply(txn)
	seen := r.ks.Context().Contains(txn.Dot)
	switch {
	case errors.Is(err, ErrNotReady):
		if !bytes.Equal(before, enc(r.ks)) || hash != r.ks.Hash() {
			t.Fatalf("refused txn changed the state")
		}
	case err != nil:
		t.Fatalf("apply: %v", err)
	case !seen:
		t.Fatalf("applied txn not in context")
	}
}

// deliverAll brings every replica up to date, in a random order.
func (w *world) deliverAll(t *rapid.T) {
	for _, r := range w.reps {
		order := rapid.Permutation(indexes(len(w.txns))).Draw(t, "order")
		for pending := true; pending; {
			pending = false
			for _, i := range order {
				if r.ks.Context().Contains(w.txns[i].Dot) {
					continue
				}
				if err := r.ks.Apply(w.txns[i]); errors.Is(err, ErrNotReady) {
					pending = true
				} else if err != nil {
					t.Fatalf("apply: %v", err)
				}
			}
		}
	}
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// replay builds a fresh keyspace from the transactions whose dots ctx
// holds, in creation order.
func (w *world) replay(t *rapid.T, ctx *causal.Context) *Keyspace {
	ks := NewKeyspace()
	for _, txn := range w.txns {
		if ctx.Contains(txn.Dot) {
			if err := ks.Apply(txn); err != nil {
				t.Fatalf("replay: %v", err)
			}
		}
	}
	return ks
}

func copyOf(t *rapid.T, ks *Keyspace) *Keyspace {
	c, err := DecodeKeyspace(enc(ks))
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	return c
}

func join(t *rapid.T, a, b *Keyspace) *Keyspace {
	c := copyOf(t, a)
	c.Join(b)
	return c
}

// TestPropConvergence: replicas that applied the same transactions, in
// any causal order with duplicates and refused early attempts, are
// byte-identical with equal hashes; what the builder showed is what Apply
// made; every encoding round-trips.
func TestPropConvergence(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) { rapid.Check(t, propConvergence(g.gen)) })
	}
}

func propConvergence(gen func(*rapid.T) string) func(*rapid.T) {
	return func(t *rapid.T) {
		w := &world{gen: gen, reps: newReplicas(rapid.IntRange(2, 4).Draw(t, "replicas")), dict: newDictKeys()}
		steps := rapid.IntRange(8, 48).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			w.step(t)
		}
		w.deliverAll(t)
		for _, r := range w.reps[1:] {
			sameState(t, "converged", w.reps[0].ks, r.ks)
		}
		checkKeyspace(t, w.reps[0].ks)
	}
}

// TestPropJoin: Join is commutative, associative and idempotent on
// states, equals delivering the union of the transactions, and JoinKey
// over every key followed by MergeContext equals Join.
func TestPropJoin(t *testing.T) {
	for _, g := range generators {
		t.Run(g.name, func(t *testing.T) { rapid.Check(t, propJoin(g.gen)) })
	}
}

func propJoin(gen func(*rapid.T) string) func(*rapid.T) {
	return func(t *rapid.T) {
		w := &world{gen: gen, reps: newReplicas(rapid.IntRange(2, 4).Draw(t, "replicas")), dict: newDictKeys()}
		var snaps []*Keyspace
		steps := rapid.IntRange(8, 48).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			w.step(t)
			if rapid.IntRange(0, 3).Draw(t, "snapshot") == 0 {
				snaps = append(snaps, copyOf(t, w.reps[rapid.IntRange(0, len(w.reps)-1).Draw(t, "of")].ks))
			}
		}
		for _, r := range w.reps {
			snaps = append(snaps, r.ks)
		}
		pick := func(label string) *Keyspace { return snaps[rapid.IntRange(0, len(snaps)-1).Draw(t, label)] }
		a, b, c := pick("a"), pick("b"), pick("c")

		// Hashes tell states apart: equal iff the encodings are.
		if bytes.Equal(enc(a), enc(b)) != (a.Hash() == b.Hash()) {
			t.Fatalf("hash equality disagrees with encoding equality")
		}

		ab, ba := join(t, a, b), join(t, b, a)
		sameState(t, "commutative", ab, ba)
		sameState(t, "associative", join(t, ab, c), join(t, a, join(t, b, c)))
		sameState(t, "idempotent", join(t, a, a), a)

		union := a.Context().Clone()
		union.Merge(b.Context())
		sameState(t, "join equals delivery", ab, w.replay(t, &union))
		checkKeyspace(t, ab)

		// Reconciliation by keys: every key either side holds.
		byKey := copyOf(t, a)
		seen := map[string]bool{}
		for _, ks := range []*Keyspace{a, b} {
			ks.order.Scan(func(e *keyEntry) bool {
				if !seen[e.key] {
					seen[e.key] = true
					byKey.JoinKey([]byte(e.key), b.lookup([]byte(e.key)), b.Context())
				}
				return true
			})
		}
		byKey.MergeContext(b.Context())
		sameState(t, "JoinKey equals Join", byKey, ab)

		// All replicas' states joined equal full delivery.
		all := NewKeyspace()
		for _, r := range w.reps {
			all.Join(r.ks)
		}
		w.deliverAll(t)
		sameState(t, "join of all equals delivery of all", all, w.reps[0].ks)
	}
}
