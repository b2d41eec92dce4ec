package replica

import (
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// TestLinkDecoderCountersBounded is defect 8 of the driver issue: the
// decoder remembered the last counter of every node id a peer named, so a
// stream of transactions from ever new ids grew it without bound.
func TestLinkDecoderCountersBounded(t *testing.T) {
	enc, dec := NewLinkCodec(), NewLinkCodec()
	const nodes = MaxLinkNodes + 500
	var payload []byte
	for i := 1; i <= nodes; i++ {
		ks := crdt.NewKeyspace()
		b := ks.Begin(causal.Dot{Node: causal.NodeID(i), Counter: 1}, causal.Timestamp{WallMs: 1})
		if err := b.Set([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		m := Message{Type: MsgTxns, Txns: []*crdt.Txn{b.Finish()}}
		var err error
		if payload, err = enc.Encode(payload[:0], &m); err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(payload)
		if err != nil {
			t.Fatalf("txn %d: %v", i, err)
		}
		if got.Txns[0].Dot != m.Txns[0].Dot {
			t.Fatalf("txn %d: decoded dot %v, sent %v", i, got.Txns[0].Dot, m.Txns[0].Dot)
		}
	}
	if n := len(dec.decoding().counters); n > MaxLinkNodes {
		t.Fatalf("decoder remembers %d node counters, limit %d", n, MaxLinkNodes)
	}
}
