package replica

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// sampleMessages returns one message of every type, with realistic
// content, made by a small cluster.
func sampleMessages(t testing.TB) []Message {
	c := newCluster(t, "n1", "n2")
	var txns []*crdt.Txn
	r := c.node("n1").r
	for i := 0; i < 5; i++ {
		c.set("n1", fmt.Sprintf("key%d", i%3), "value")
		c.incr("n1", "counter", int64(i))
	}
	for _, e := range r.log {
		txns = append(txns, decodeRetained(e))
	}
	ctx := r.Keyspace().Context().Clone()
	applied := r.Applied()
	v := crdt.AppendValue(nil, r.Keyspace().Get([]byte("counter")))
	return []Message{
		{Type: MsgTxns, Applied: applied, Txns: txns},
		{Type: MsgAck, Applied: applied},
		{Type: MsgPing, Seq: 7},
		{Type: MsgPingAck, Seq: 7, Target: id("n3")},
		{Type: MsgPingReq, Seq: 9, Target: id("n2")},
		{Type: MsgDigest, Applied: applied, Hash: r.Keyspace().Hash(), Seq: 1},
		{Type: MsgFetch},
		{Type: MsgTooFar, Reason: "behind"},
		{Type: MsgSnapshotReq}, {Type: MsgSnapshotReq, Offset: 1 << 20, Hash: 42},
		{Type: MsgSnapshot, Offset: 0, Total: 3, Hash: 42, Chunk: []byte{1, 2, 3}},
		{Type: MsgSyncReq, Session: 5, Seq: 1, Nodes: []TreeNode{{}, {Depth: 2, Prefix: 0xa << 60}, {Depth: 2, Prefix: 0xc << 60}}},
		{Type: MsgSyncResp, Session: 5, Hash: 1, Seq: 1, Offset: 2, Context: &ctx, Nodes: []TreeNode{
			{Hashes: make([]uint64, syncFanout)},
			{Hashes: []uint64{1, 2, 3}},
			{Entries: []TreeEntry{{1, 2}, {3, 4}}}}},
		{Type: MsgSyncKeysReq, Session: 5, KeyHashes: []uint64{1, 2, 3}},
		{Type: MsgSyncKeys, Session: 5, Hash: 2, Context: &ctx, Keys: []KeyValue{
			{Key: []byte("counter"), Value: v}, {Key: []byte("gone")},
			{Key: []byte("big"), Value: []byte("part"), Offset: 4, Total: 12}}},
		{Type: MsgPublish, Seq: 1 << 40, Channel: []byte("news"), Chunk: []byte("hello")},
		{Type: MsgPublish, Seq: 1, Channel: []byte{}, Chunk: []byte{}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	msgs := sampleMessages(t)
	enc := NewLinkCodec()
	for round := 0; round < 2; round++ { // the second round hits the dictionaries
		for _, m := range msgs {
			b, err := enc.Encode(nil, &m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.Decode(b)
			if err != nil {
				t.Fatalf("%s: %v", m.Type, err)
			}
			// Re-encoding the decoded message on a fresh pair of states
			// must give what a fresh encoding of the original gives.
			a, _ := NewLinkCodec().Encode(nil, &m)
			b2, _ := NewLinkCodec().Encode(nil, &got)
			if string(a) != string(b2) {
				t.Fatalf("%s: round trip changed the message:\n%x\n%x", m.Type, a, b2)
			}
			if got.Type != m.Type || !got.Applied.Equal(&m.Applied) || got.Seq != m.Seq || got.Target != m.Target {
				t.Fatalf("%s: header fields differ: %+v", m.Type, got)
			}
			for i, tx := range m.Txns {
				g := got.Txns[i]
				if g.Dot != tx.Dot || g.Time != tx.Time || !g.Deps.Equal(&tx.Deps) {
					t.Fatalf("txn %d header: %v %v %v vs %v %v %v", i, g.Dot, g.Time, g.Deps.Vector, tx.Dot, tx.Time, tx.Deps.Vector)
				}
				if string(g.AppendBinary(nil)) != string(tx.AppendBinary(nil)) {
					t.Fatalf("txn %d differs after the round trip", i)
				}
			}
		}
	}
}

func TestCodecRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {99}, {byte(MsgTxns), 0, 5}, {byte(MsgPing), 0, 1, 2}, {byte(MsgAck), 0, 0}} {
		if _, err := NewLinkCodec().Decode(b); !errors.Is(err, ErrDecode) {
			t.Fatalf("%x: err = %v", b, err)
		}
	}
	// A key reference to an id never assigned.
	c := NewLinkCodec()
	if _, err := c.Encode(nil, &Message{Type: 0}); !errors.Is(err, ErrEncode) {
		t.Fatalf("encode of type 0: %v", err)
	}
}

func TestStepRefusesBadMessages(t *testing.T) {
	c := newCluster(t, "n1", "n2")
	r := c.node("n1").r
	h := r.Keyspace().Hash()
	for _, m := range []Message{
		{Type: 0},
		{Type: MsgTxns, Txns: []*crdt.Txn{nil}},
		{Type: MsgTxns, Txns: []*crdt.Txn{{}}},
		{Type: MsgSyncReq, Nodes: []TreeNode{{Depth: 1, Prefix: 1}}},
		{Type: MsgSyncResp, Nodes: []TreeNode{{Hashes: make([]uint64, 5)}}},
		{Type: MsgSyncKeys},
		{Type: MsgSnapshot, Total: 1, Chunk: []byte{1, 2}},
		{Type: MsgSnapshot, Total: 1, Hash: 7},          // empty chunk
		{Type: MsgSnapshot, Total: 1, Chunk: []byte{1}}, // no snapshot id
		{Type: MsgSyncKeys, Context: &causal.Context{}, Keys: []KeyValue{ // fragment past its total
			{Key: []byte("k"), Value: []byte{1, 2}, Offset: 3, Total: 4}}},
	} {
		if err := r.Step(id("n2"), m); !errors.Is(err, ErrBadMessage) {
			t.Fatalf("%s: err = %v", m.Type, err)
		}
	}
	if err := r.Step(r.ID(), Message{Type: MsgAck}); !errors.Is(err, ErrBadMessage) {
		t.Fatal("message from self accepted")
	}
	if r.Keyspace().Hash() != h || r.HasReady() {
		t.Fatal("a refused message changed state")
	}
}

// wireFigures runs replicas that all write concurrently, in rounds of
// batch transactions per node, and returns the MsgTxns bytes and the
// header (causal metadata) bytes per transaction per link.
func wireFigures(t testing.TB, replicas, batch, rounds, warm int, op func(c *cluster, node string, i int)) (perTxn, metaPerTxn float64) {
	names := make([]string, replicas)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i+1)
	}
	c := newCluster(t, names...)
	// Warm up: every node writes the first warm operations, so the link
	// dictionaries hold the hot keys and node ids, as in a long-lived link
	// session.
	for _, n := range names {
		for i := 0; i < warm; i++ {
			op(c, n, i)
		}
	}
	c.deliver()
	i := warm
	before := c.bytesBy[MsgTxns]
	hdrBefore := 0
	for _, cd := range c.codecs {
		hdrBefore += cd.encoding().headerBytes
	}
	for r := 0; r < rounds; r++ {
		for _, n := range names {
			for k := 0; k < batch; k++ {
				op(c, n, i)
				i++
			}
		}
		c.deliver()
	}
	hdr := 0
	for _, cd := range c.codecs {
		hdr += cd.encoding().headerBytes
	}
	deliveries := float64(rounds * replicas * batch * (replicas - 1))
	return float64(c.bytesBy[MsgTxns]-before) / deliveries, float64(hdr-hdrBefore) / deliveries
}

var (
	opIncr = func(c *cluster, n string, i int) { c.incr(n, fmt.Sprintf("counter:%03d", i%100), 1) }
	opSet  = func(c *cluster, n string, i int) {
		c.set(n, fmt.Sprintf("key:%012d", i%1000), fmt.Sprintf("value-%026d", i))
	}
	opSetFresh = func(c *cluster, n string, i int) {
		c.set(n, fmt.Sprintf("key:%012d", i), fmt.Sprintf("value-%026d", i))
	}
)

// TestWireBytesPerTxn reports (with -v) and bounds the wire cost of a
// transaction on a link, amortized in batches of 64 per node per round.
func TestWireBytesPerTxn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		op       func(*cluster, string, int)
		warm     int
		maxBytes float64
	}{
		// DESIGN.md §7: a counter increment ≤ 8 bytes beyond its key's
		// dictionary id (1 byte here), amortized in a batch.
		{"INCR, 100 hot keys", opIncr, 100, 9},
		{"SET 16B key/32B value, 1000 hot keys", opSet, 1000, 40},
		{"SET 16B key/32B value, every key new", opSetFresh, 0, 56},
	} {
		for _, n := range []int{3, 10} {
			per, meta := wireFigures(t, n, 64, 4, tc.warm, tc.op)
			t.Logf("%-40s replicas=%2d  %.2f bytes/txn  (causal metadata %.2f bytes/txn)", tc.name, n, per, meta)
			if per > tc.maxBytes {
				t.Errorf("%s, %d replicas: %.2f bytes/txn > %.0f", tc.name, n, per, tc.maxBytes)
			}
			if meta > 3 {
				t.Errorf("%s, %d replicas: causal metadata %.2f bytes/txn is not O(1)", tc.name, n, meta)
			}
		}
	}
}

func BenchmarkWireBytes(b *testing.B) {
	for _, tc := range []struct {
		name string
		op   func(*cluster, string, int)
		warm int
	}{{"incr", opIncr, 100}, {"set16x32", opSet, 1000}, {"set16x32-newkeys", opSetFresh, 0}} {
		for _, n := range []int{3, 10} {
			b.Run(fmt.Sprintf("%s/replicas=%d", tc.name, n), func(b *testing.B) {
				var per, meta float64
				for i := 0; i < b.N; i++ {
					per, meta = wireFigures(b, n, 64, 2, tc.warm, tc.op)
				}
				b.ReportMetric(per, "bytes/txn")
				b.ReportMetric(meta, "meta-bytes/txn")
			})
		}
	}
}

// FuzzDecodeMessage feeds arbitrary payloads, in sequence on one link
// session, to the decoder and then to a replica: neither may panic, and a
// decoded message must re-encode.
func FuzzDecodeMessage(f *testing.F) {
	enc := NewLinkCodec()
	for _, m := range sampleMessages(f) {
		b, err := enc.Encode(nil, &m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(nil))
		f.Add(b, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		c := NewLinkCodec()
		r, err := New(Config{Name: "n1", Members: []Peer{{Name: "n1"}, {Name: "n2"}}, NowMs: testStartMs})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range [][]byte{a, b} {
			m, err := c.Decode(p)
			if err != nil {
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("error not wrapping ErrDecode: %v", err)
				}
				return
			}
			if _, err := NewLinkCodec().Encode(nil, &m); err != nil {
				t.Fatalf("decoded message does not encode: %v", err)
			}
			_ = r.Step(causal.NodeIDFromName("n2"), m)
			if r.HasReady() {
				r.Ready()
				r.Advance()
			}
		}
	})
}

// TestWriteFuzzCorpus keeps the seed corpus under testdata/fuzz in step
// with sampleMessages when run with -rewrite.
func TestWriteFuzzCorpus(t *testing.T) {
	if !*rewrite {
		t.Skip("run with -rewrite to regenerate")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeMessage")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	enc := NewLinkCodec()
	for i, m := range sampleMessages(t) {
		b, _ := enc.Encode(nil, &m)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(\"\")\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d-%s", i, m.Type)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLinkCodecHoldsWhatItUses: a codec that only encodes holds no
// decoding state, and a direction that named a few short keys holds a
// small key arena, not a 32 KiB chunk. A node with a thousand peers has
// two thousand link sessions (the simulator at 1,000 replicas a million):
// at 32 KiB each that was gigabytes.
func TestLinkCodecHoldsWhatItUses(t *testing.T) {
	msgs := sampleMessages(t)
	c := NewLinkCodec()
	if _, err := c.Encode(nil, &msgs[0]); err != nil {
		t.Fatal(err)
	}
	if c.dec != nil {
		t.Error("encoding made the decoding half")
	}
	if got := cap(c.enc.keyArena); got > keyArenaFirstChunk {
		t.Errorf("a few short keys hold a %d-byte arena (first chunk %d)", got, keyArenaFirstChunk)
	}
	// The arena still grows to what many keys need, bounded per chunk.
	for i := 0; i < 5000; i++ {
		c.encoding().keepKey([]byte(fmt.Sprintf("key-%06d", i)))
	}
	if got := cap(c.enc.keyArena); got != keyArenaChunk {
		t.Errorf("after 50 KB of keys the arena chunk holds %d bytes, want %d", got, keyArenaChunk)
	}
}

// TestCodecRefusesCutOutOfOrder: a MsgCut lists its entries in node order,
// as the encoder writes them; a decoder taking them in any order would
// insert each into the middle of the vector, so a peer sending
// MaxVectorEntries of them in descending order would cost quadratic time.
func TestCodecRefusesCutOutOfOrder(t *testing.T) {
	a, b := causal.NodeID(0x1111), causal.NodeID(0x2222)
	var cut causal.VersionVector
	cut.Set(a, 5)
	cut.Set(b, 6)
	enc, err := NewLinkCodec().Encode(nil, &Message{Type: MsgCut, Seq: cutDown, Hash: 7, Cut: cut})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewLinkCodec().Decode(enc); err != nil {
		t.Fatalf("in order: %v", err)
	}
	// Each entry is a new-node marker, the 8-byte id and a one-byte
	// counter: the last 20 bytes, a's then b's. Swap them.
	n := len(enc)
	swapped := append(append(append([]byte{}, enc[:n-20]...), enc[n-10:]...), enc[n-20:n-10]...)
	if _, err := NewLinkCodec().Decode(swapped); !errors.Is(err, ErrDecode) {
		t.Fatalf("entries in descending order: got %v, want ErrDecode", err)
	}
}
