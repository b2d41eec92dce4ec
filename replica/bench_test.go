package replica

import (
	"fmt"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// BenchmarkPropose measures the local write path of a 3-member replica:
// build, apply, record, queue to two peers, and the Ready that batches it
// (one Ready per 64 proposals, as a driver under load would see).
func BenchmarkPropose(b *testing.B) {
	for _, op := range []string{"incr", "set16x32"} {
		b.Run(op, func(b *testing.B) {
			r, err := New(Config{Name: "n1", Members: []Peer{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}, NowMs: testStartMs})
			if err != nil {
				b.Fatal(err)
			}
			keys := make([][]byte, 1000)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("key:%012d", i))
			}
			value := []byte("value-0123456789012345678901234")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := keys[i%len(keys)]
				_, err := r.Propose(func(bd *crdt.Builder) error {
					if op == "incr" {
						_, err := bd.Increment(k, 1)
						return err
					}
					return bd.Set(k, value)
				})
				if err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					r.Ready()
					r.Advance()
				}
			}
		})
	}
}

// BenchmarkApplyBatch measures the receive path: decode a 64-transaction
// batch from a link and Step it into a replica.
func BenchmarkApplyBatch(b *testing.B) {
	c := newCluster(b, "n1", "n2")
	var payloads [][]byte
	enc := NewLinkCodec()
	n1 := c.node("n1").r
	for batch := 0; batch < 64; batch++ {
		for i := 0; i < 64; i++ {
			c.incr("n1", fmt.Sprintf("key:%012d", (batch*64+i)%1000), 1)
		}
		rd := n1.Ready()
		n1.Advance()
		for _, env := range rd.Messages {
			if env.Message.Type == MsgTxns && env.To == id("n2") {
				p, err := enc.Encode(nil, &env.Message)
				if err != nil {
					b.Fatal(err)
				}
				payloads = append(payloads, p)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	txns := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, _ := New(c.node("n2").cfg)
		dec := NewLinkCodec()
		b.StartTimer()
		for _, p := range payloads {
			m, err := dec.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Step(id("n1"), m); err != nil {
				b.Fatal(err)
			}
			txns += len(m.Txns)
			r.Ready()
			r.Advance()
		}
	}
	b.ReportMetric(float64(txns)/b.Elapsed().Seconds(), "txns/s")
}

// BenchmarkLinkEncodeSet measures encoding one single-SET transaction for
// a link whose key dictionary already holds the key (the steady state of
// redis-benchmark -r 100000: 100,000 keys, each seen before).
func BenchmarkLinkEncodeSet(b *testing.B) {
	const keys = 100_000
	ks := crdt.NewKeyspace()
	node := causal.NodeIDFromName("n1")
	value := []byte("value-0123456789012345678901234")
	msgs := make([]Message, keys)
	for i := range msgs {
		tx := ks.Begin(causal.Dot{Node: node, Counter: uint64(i + 1)}, causal.Timestamp{WallMs: uint64(i + 1)})
		if err := tx.Set([]byte(fmt.Sprintf("key:%012d", (i*7919)%keys)), value); err != nil {
			b.Fatal(err)
		}
		t := tx.Finish()
		if err := ks.Apply(t); err != nil {
			b.Fatal(err)
		}
		msgs[i] = Message{Type: MsgTxns, Txns: []*crdt.Txn{t}}
	}
	enc := NewLinkCodec()
	var buf []byte
	for i := range msgs { // every key enters the dictionary
		buf, _ = enc.Encode(buf[:0], &msgs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = enc.Encode(buf[:0], &msgs[(i*31)%keys]); err != nil {
			b.Fatal(err)
		}
	}
}
