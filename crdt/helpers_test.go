package crdt

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/spooksystems/spook/causal"
)

// tb is what the helpers need from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// replica is one simulated node: a keyspace, its node id, and a clock.
type replica struct {
	id  causal.NodeID
	ks  *Keyspace
	now *uint64 // shared logical wall clock, so timestamps are comparable
}

func newReplicas(n int) []*replica {
	now := new(uint64)
	out := make([]*replica, n)
	for i := range out {
		out[i] = &replica{id: causal.NodeID(i + 1), ks: NewKeyspace(), now: now}
	}
	return out
}

// begin starts a transaction with the next dot of r's node.
func (r *replica) begin() *Builder {
	*r.now++
	dot := causal.Dot{Node: r.id, Counter: r.ks.Context().Vector.Get(r.id) + 1}
	return r.ks.Begin(dot, causal.Timestamp{WallMs: *r.now})
}

// deliver applies txn at r and fails on anything but success.
func (r *replica) deliver(t tb, txn *Txn) {
	t.Helper()
	if err := r.ks.Apply(txn); err != nil {
		t.Fatalf("deliver %v to %v: %v", txn.Dot, r.id, err)
	}
}

// enc is the canonical encoding of a keyspace.
func enc(ks *Keyspace) []byte { return ks.AppendBinary(nil) }

// sameState fails unless a and b are byte-identical with equal hashes.
func sameState(t tb, what string, a, b *Keyspace) {
	t.Helper()
	ea, eb := enc(a), enc(b)
	if !bytes.Equal(ea, eb) {
		t.Fatalf("%s: states differ:\n%s\n%s", what, dump(a), dump(b))
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("%s: equal states, hashes %x vs %x", what, a.Hash(), b.Hash())
	}
}

// dump renders a keyspace for failure messages.
func dump(ks *Keyspace) string {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "ctx %v %v\n", ks.ctx.Vector, ks.ctx.Outliers())
	ks.order.Scan(func(e *keyEntry) bool {
		fmt.Fprintf(&buf, "  %q: %s\n", e.key, dumpValue(&e.v))
		return true
	})
	return buf.String()
}

func dumpValue(v *Value) string {
	if v == nil {
		return "nil"
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "type=%v", v.Type())
	for _, e := range v.reg.slice() {
		fmt.Fprintf(&buf, " reg(%v@%v=%q)", e.dot, e.time, e.value)
	}
	if v.ctr() != nil {
		for _, n := range v.ctr().nodes {
			fmt.Fprintf(&buf, " cnt(%v k%d s%d kr%d sr%d)", n.node, n.k, n.sum, n.kr, n.sumr)
		}
	}
	if v.oset() != nil {
		for _, m := range v.oset().sortedMembers() {
			fmt.Fprintf(&buf, " mem(%q %v)", m, v.oset().members[m])
		}
	}
	if v.omap() != nil {
		for _, f := range v.omap().sortedFields() {
			fmt.Fprintf(&buf, " field(%q: %s)", f, dumpValue(v.omap().fields[f]))
		}
	}
	return buf.String()
}

// members lists the set at key.
func members(v *Value) []string {
	var out []string
	v.Members(func(m []byte) bool { out = append(out, string(m)); return true })
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
