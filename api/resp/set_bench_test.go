package resp

import (
	"strconv"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// BenchmarkWriteSet is the RESP SET path without the network: parse the
// arguments, build the transaction on a keyspace of 100000 existing keys,
// apply it (as redis-benchmark SET over a key space of that size does).
// "read-first" adds the Builder.Get that plain SET used to make, for an
// A/B in one run.
func BenchmarkWriteSet(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchWriteSet(b, false) })
	b.Run("read-first", func(b *testing.B) { benchWriteSet(b, true) })
}

func benchWriteSet(b *testing.B, readFirst bool) {
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
		if readFirst {
			tx.Get(key)
		}
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
