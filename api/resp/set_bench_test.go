package resp

import (
	"strconv"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// BenchmarkWriteSet is the RESP SET path without the network: parse the
// arguments, build the transaction on a keyspace of 100000 existing keys, apply it
// (as redis-benchmark SET over a key space of that size does).
func BenchmarkWriteSet(b *testing.B) {
	ks := crdt.NewKeyspace()
	const keys = 100000
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte("key:" + strconv.Itoa(i))
	}
	value := []byte("xxx")
	node := causal.NodeID(1)
	out := make([]byte, 0, 64)
	n := uint64(0)
	set := func(key []byte) {
		n++
		tx := ks.Begin(causal.Dot{Node: node, Counter: n}, causal.Timestamp{WallMs: n})
		var err error
		if out, err = writeSet(tx, [][]byte{[]byte("SET"), key, value}, out[:0]); err != nil {
			b.Fatal(err)
		}
		if err := ks.Apply(tx.Finish()); err != nil {
			b.Fatal(err)
		}
	}
	for _, k := range names {
		set(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		set(names[(i*7919)%keys])
	}
}
