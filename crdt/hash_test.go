package crdt

import (
	"bytes"
	"testing"
)

// TestHasherScratchBounded: hashing a register near MaxValueBytes must not
// leave a value-sized scratch buffer in the keyspace (nor in a keyspace
// decoded from it, nor in the builder that wrote it): the buffer kept
// between hashes is at most MaxHashScratchBytes. A keyspace that once held
// a large value otherwise holds a second copy of its digest input for
// ever, one per replica (the 100-replica simulator seed 20 spent a fifth
// of its heap on them).
func TestHasherScratchBounded(t *testing.T) {
	r := newReplicas(1)[0]
	b := r.begin()
	if err := b.Set([]byte("big"), bytes.Repeat([]byte("x"), MaxValueBytes)); err != nil {
		t.Fatal(err)
	}
	txn := b.Finish()
	if got := cap(b.h.buf); got > MaxHashScratchBytes {
		t.Errorf("builder hash scratch holds %d bytes, want at most %d", got, MaxHashScratchBytes)
	}
	r.deliver(t, txn)
	if got := cap(r.ks.h.buf); got > MaxHashScratchBytes {
		t.Errorf("keyspace hash scratch holds %d bytes after applying a %d-byte value, want at most %d",
			got, MaxValueBytes, MaxHashScratchBytes)
	}
	dec, err := DecodeKeyspace(r.ks.AppendBinary(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cap(dec.h.buf); got > MaxHashScratchBytes {
		t.Errorf("decoded keyspace hash scratch holds %d bytes, want at most %d", got, MaxHashScratchBytes)
	}
	if dec.Hash() != r.ks.Hash() {
		t.Errorf("decoded keyspace hash %x, want %x", dec.Hash(), r.ks.Hash())
	}

	// A small value after the large one still hashes with a kept buffer.
	b = r.begin()
	if err := b.Set([]byte("small"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	r.deliver(t, b.Finish())
	if cap(r.ks.h.buf) == 0 || cap(r.ks.h.buf) > MaxHashScratchBytes {
		t.Errorf("keyspace hash scratch after a small value: %d bytes, want 1..%d", cap(r.ks.h.buf), MaxHashScratchBytes)
	}
}
