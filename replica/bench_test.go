package replica

import (
	"fmt"
	"testing"

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
