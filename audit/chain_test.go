package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
)

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// TestChainDetectsTampering builds a chain of three transactions and
// checks that the seal and link checks accept it and refuse a changed
// body, a changed counter, another origin's key and a skipped link.
func TestChainDetectsTampering(t *testing.T) {
	k := key("a")
	keys := Keys{1: k.Public().(ed25519.PublicKey), 2: key("b").Public().(ed25519.PublicKey)}
	bodies := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	var prev Hash
	var seals [][]byte
	for i, b := range bodies {
		h := TxnHash("c", 1, uint64(i+1), prev, b)
		seals = append(seals, Sign(k, prev, h))
		prev = h
	}
	var chains Chains
	for i, b := range bodies {
		h, err := keys.VerifySeal("c", 1, uint64(i+1), seals[i], b)
		if err != nil {
			t.Fatalf("txn %d: %v", i+1, err)
		}
		if err := chains.CheckLink(1, uint64(i+1), SealPrev(seals[i])); err != nil {
			t.Fatalf("txn %d: %v", i+1, err)
		}
		chains.Advance(1, uint64(i+1), h)
	}
	if _, err := keys.VerifySeal("c", 1, 2, seals[1], []byte("TWO")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed body: %v", err)
	}
	if _, err := keys.VerifySeal("c", 1, 3, seals[1], bodies[1]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed counter: %v", err)
	}
	if _, err := keys.VerifySeal("other", 1, 2, seals[1], bodies[1]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other cluster: %v", err)
	}
	if _, err := keys.VerifySeal("c", 2, 2, seals[1], bodies[1]); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("claimed by another origin: %v", err)
	}
	if _, err := keys.VerifySeal("c", 3, 2, seals[1], bodies[1]); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown origin: %v", err)
	}
	if _, err := keys.VerifySeal("c", 1, 2, nil, bodies[1]); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	// A validly signed fourth transaction that names the first as its
	// predecessor (a fork by the origin) breaks the chain.
	h1, _ := keys.VerifySeal("c", 1, 1, seals[0], bodies[0])
	fork := Sign(k, h1, TxnHash("c", 1, 4, h1, []byte("four")))
	if _, err := keys.VerifySeal("c", 1, 4, fork, []byte("four")); err != nil {
		t.Fatal(err)
	}
	if err := chains.CheckLink(1, 4, SealPrev(fork)); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("fork: %v", err)
	}
}

// BenchmarkSeal is what an origin pays per transaction in audit mode:
// the transaction hash and one ed25519 signature (100-byte body).
func BenchmarkSeal(b *testing.B) {
	k, body := key("a"), make([]byte, 100)
	var prev Hash
	for b.Loop() {
		h := TxnHash("c", 1, 7, prev, body)
		Sign(k, prev, h)
	}
}

// BenchmarkVerifySeal is what each receiver pays per transaction.
func BenchmarkVerifySeal(b *testing.B) {
	k, body := key("a"), make([]byte, 100)
	keys := Keys{1: k.Public().(ed25519.PublicKey)}
	var prev Hash
	seal := Sign(k, prev, TxnHash("c", 1, 7, prev, body))
	for b.Loop() {
		if _, err := keys.VerifySeal("c", 1, 7, seal, body); err != nil {
			b.Fatal(err)
		}
	}
}
