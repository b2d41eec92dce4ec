package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Sizes of the seal a signed transaction carries.
const (
	// HashBytes is the size of a transaction hash and of a chain link.
	HashBytes = sha256.Size
	// SealBytes is the size of a seal: the origin's previous transaction
	// hash followed by the ed25519 signature of this transaction's hash.
	SealBytes = HashBytes + ed25519.SignatureSize
	// LinkBytes is the size of a link: the seal of a transaction its
	// origin did not sign, the previous transaction hash alone. A signed
	// transaction of the same origin that chains back to it
	// authenticates it (see Link).
	LinkBytes = HashBytes
)

// Hash is a SHA-256 digest: a transaction hash (the link of its origin's
// chain) or a Merkle tree hash.
type Hash [HashBytes]byte

// String is the hash in hex, as the CLI prints it.
func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// Sentinel errors, returned (wrapped, with the reason) by Chains.Check
// and by the offline verifier.
var (
	// ErrBadSignature: the seal's signature does not verify against the
	// origin's public key, or the seal is malformed.
	ErrBadSignature = errors.New("audit: bad signature")
	// ErrBrokenChain: the seal names a previous transaction hash other
	// than the hash of the origin's transaction before it.
	ErrBrokenChain = errors.New("audit: broken chain")
	// ErrUnknownKey: no public key is configured for the origin.
	ErrUnknownKey = errors.New("audit: no public key for origin")
	// ErrUnsigned: a transaction without a seal where seals are required.
	ErrUnsigned = errors.New("audit: unsigned transaction")
	// ErrUnverified: unsigned (linked) transactions that no signed
	// transaction of their origin chains back to, so nothing
	// authenticates them.
	ErrUnverified = errors.New("audit: no signed transaction chains back to it")
)

// txnDomain separates transaction hashes from every other SHA-256 use.
const txnDomain = "spook/audit/txn/v1\x00"

// TxnHash is the hash of one transaction: it binds the cluster, the dot
// (origin, counter), the hash of the origin's previous transaction (prev;
// all zero for counter 1) and the transaction's canonical encoding
// (crdt.Txn.AppendBinary). Because prev is inside it, the hash of an
// origin's latest transaction commits to the origin's whole history.
//
//	sha256("spook/audit/txn/v1\x00" | len(cluster) u32 | cluster |
//	       origin u64 | counter u64 | prev (32) | sha256(body) (32))
//
// Integers are big-endian.
func TxnHash(cluster string, origin, counter uint64, prev Hash, body []byte) Hash {
	return TxnHashOf(cluster, origin, counter, prev, sha256.Sum256(body))
}

// TxnHashOf is TxnHash given SHA-256(body) instead of the body: what a
// witness record (which keeps a refused transaction's body hash, not its
// body) is checked with.
func TxnHashOf(cluster string, origin, counter uint64, prev Hash, bodyHash [sha256.Size]byte) Hash {
	var buf [len(txnDomain) + 4 + 64 + 8 + 8 + 2*HashBytes]byte
	b := append(buf[:0], txnDomain...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(cluster)))
	h := sha256.New()
	h.Write(b)
	h.Write([]byte(cluster))
	b = binary.BigEndian.AppendUint64(buf[:0], origin)
	b = binary.BigEndian.AppendUint64(b, counter)
	b = append(b, prev[:]...)
	b = append(b, bodyHash[:]...)
	h.Write(b)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Sign returns the seal of a transaction whose hash is h and whose
// origin's previous transaction hash is prev: prev followed by the
// ed25519 signature of h. ed25519 signing is deterministic (RFC 8032):
// no randomness is drawn.
func Sign(key ed25519.PrivateKey, prev, h Hash) []byte {
	seal := make([]byte, 0, SealBytes)
	seal = append(seal, prev[:]...)
	return append(seal, ed25519.Sign(key, h[:])...)
}

// Link returns the seal of a transaction its origin does not sign: the
// previous transaction hash alone. Its hash is computed as a signed
// transaction's is, so the signature of a later transaction of the same
// origin covers it through the chain: that transaction's hash commits to
// its prev, which is this transaction's hash, and so on down.
func Link(prev Hash) []byte { return append(make([]byte, 0, LinkBytes), prev[:]...) }

// Linked reports whether seal is a link (unsigned, chained).
func Linked(seal []byte) bool { return len(seal) == LinkBytes }

// SealPrev returns the previous transaction hash a seal names. The seal
// must be SealBytes or LinkBytes long.
func SealPrev(seal []byte) Hash { return Hash(seal[:HashBytes]) }

// Keys maps origin node ids to their ed25519 public keys. It must be the
// same on every member: whether a transaction is accepted depends on it.
type Keys map[uint64]ed25519.PublicKey

// VerifySeal checks a seal alone (not the chain): its length, and its
// signature over the transaction hash recomputed from the seal's prev and
// body. It returns that hash. The result depends only on its arguments,
// so every replica decides the same.
func (k Keys) VerifySeal(cluster string, origin, counter uint64, seal, body []byte) (Hash, error) {
	if len(seal) == 0 {
		return Hash{}, ErrUnsigned
	}
	if len(seal) != SealBytes {
		return Hash{}, fmt.Errorf("%w: seal of %d bytes, want %d", ErrBadSignature, len(seal), SealBytes)
	}
	pub, ok := k[origin]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Hash{}, fmt.Errorf("%w: %016x", ErrUnknownKey, origin)
	}
	prev := SealPrev(seal)
	if counter == 1 && prev != (Hash{}) {
		return Hash{}, fmt.Errorf("%w: first transaction names a previous one", ErrBrokenChain)
	}
	h := TxnHash(cluster, origin, counter, prev, body)
	if !ed25519.Verify(pub, h[:], seal[HashBytes:]) {
		return Hash{}, fmt.Errorf("%w: %016x:%d", ErrBadSignature, origin, counter)
	}
	return h, nil
}

// LinkHash checks a link (an unsigned transaction's seal) alone: its
// length, the origin's key being known, and counter 1 naming no
// predecessor. It returns the transaction's hash, which is not yet
// authenticated: it is once a signed transaction of the origin chains
// back to it (its prev, or its successor's prev, and so on, equals it).
func (k Keys) LinkHash(cluster string, origin, counter uint64, seal, body []byte) (Hash, error) {
	if !Linked(seal) {
		return Hash{}, fmt.Errorf("%w: link of %d bytes, want %d", ErrBadSignature, len(seal), LinkBytes)
	}
	pub, ok := k[origin]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return Hash{}, fmt.Errorf("%w: %016x", ErrUnknownKey, origin)
	}
	prev := SealPrev(seal)
	if counter == 1 && prev != (Hash{}) {
		return Hash{}, fmt.Errorf("%w: first transaction names a previous one", ErrBrokenChain)
	}
	return TxnHash(cluster, origin, counter, prev, body), nil
}

// Head is the latest link of one origin's chain a verifier knows.
type Head struct {
	Counter uint64
	Hash    Hash
}

// Chains tracks the head of every origin's chain, as transactions are
// applied in each origin's counter order (causal delivery guarantees it).
// The zero value is ready to use.
type Chains struct {
	heads map[uint64]Head
}

// Head returns origin's known head.
func (c *Chains) Head(origin uint64) (Head, bool) {
	h, ok := c.heads[origin]
	return h, ok
}

// CheckLink checks that a transaction (origin, counter) whose seal names
// prev continues origin's chain: if the head at counter-1 is known, prev
// must be its hash. An unknown head (a fresh replica restored from a
// snapshot, or dots received by reconciliation, which carries state, not
// transactions) is a gap, accepted: the chain resumes from this seal.
//
// A prev of all zeros past counter 1 is the origin saying it does not
// know its own predecessor (its own transactions came back to it as
// state, by reconciliation, after a crash lost their records): it is
// accepted too, as the chain resuming (Resumed reports it). So an origin
// can restart its chain, openly; what it cannot do is name a different
// predecessor than the one a replica holds (a fork), nor anyone forge its
// signature.
func (c *Chains) CheckLink(origin, counter uint64, prev Hash) error {
	h, ok := c.heads[origin]
	if !ok || h.Counter+1 != counter || Resumed(counter, prev) {
		return nil
	}
	if h.Hash != prev {
		return fmt.Errorf("%w: %016x:%d names %s, the chain holds %s at %d",
			ErrBrokenChain, origin, counter, prev, h.Hash, h.Counter)
	}
	return nil
}

// Resumed reports whether a seal naming prev at counter restarts its
// origin's chain (see CheckLink).
func Resumed(counter uint64, prev Hash) bool { return counter > 1 && prev == Hash{} }

// Origins returns the origins with a known head, ascending.
func (c *Chains) Origins() []uint64 {
	out := make([]uint64, 0, len(c.heads))
	for o := range c.heads {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

// Advance records the transaction (origin, counter) with hash h as the
// head of origin's chain.
func (c *Chains) Advance(origin, counter uint64, h Hash) {
	if c.heads == nil {
		c.heads = map[uint64]Head{}
	}
	if cur, ok := c.heads[origin]; ok && cur.Counter >= counter {
		return
	}
	c.heads[origin] = Head{Counter: counter, Hash: h}
}
