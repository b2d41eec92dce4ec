package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// Leaves of the checkpoint log. Each collapsed transaction is one leaf,
// whose data is 48 bytes (integers big-endian):
//
//	origin u64 | counter u64 | transaction hash (TxnHash, 32)
//
// and whose hash is RFC 6962's leaf hash, tlog.RecordHash(data) =
// SHA-256(0x00 | data). The tree over them is RFC 6962's, as
// golang.org/x/mod/sumdb/tlog computes it, so a stock tlog verifier
// checks inclusion (tlog.CheckRecord) and consistency (tlog.CheckTree).
const LeafBytes = 8 + 8 + HashBytes

// Leaf is one transaction of the checkpoint log.
type Leaf struct {
	Origin, Counter uint64
	Hash            Hash
}

// Data is the leaf's data, the bytes its tree hash covers.
func (l Leaf) Data() []byte {
	b := make([]byte, 0, LeafBytes)
	b = binary.BigEndian.AppendUint64(b, l.Origin)
	b = binary.BigEndian.AppendUint64(b, l.Counter)
	return append(b, l.Hash[:]...)
}

// ParseLeaf decodes a leaf's data.
func ParseLeaf(data []byte) (Leaf, error) {
	if len(data) != LeafBytes {
		return Leaf{}, fmt.Errorf("audit: leaf of %d bytes, want %d", len(data), LeafBytes)
	}
	return Leaf{Origin: binary.BigEndian.Uint64(data), Counter: binary.BigEndian.Uint64(data[8:]),
		Hash: Hash(data[16:])}, nil
}

// Frontier is an append-only RFC 6962 tree that keeps only what
// appending and the root need: the roots of its perfect subtrees, at most
// one per bit of the size (64 hashes). A replica keeps one; proofs need
// every stored hash (HashLog).
type Frontier struct {
	N      int64
	hashes map[int64]tlog.Hash // stored hash index → hash, frontier only
}

// ReadHashes implements tlog.HashReader over the frontier.
func (f *Frontier) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := f.hashes[x]
		if !ok {
			return nil, fmt.Errorf("audit: stored hash %d is not on the frontier of a tree of %d", x, f.N)
		}
		out[i] = h
	}
	return out, nil
}

// frontierIndexes returns the stored hash indexes of the roots of the
// perfect subtrees of a tree of n leaves.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for l := 0; l < 63; l++ {
		if n&(1<<l) != 0 {
			out = append(out, tlog.StoredHashIndex(l, n>>l-1))
		}
	}
	return out
}

// Append adds one leaf.
func (f *Frontier) Append(data []byte) error {
	if f.hashes == nil {
		f.hashes = map[int64]tlog.Hash{}
	}
	hs, err := tlog.StoredHashes(f.N, data, f)
	if err != nil {
		return err
	}
	base := tlog.StoredHashIndex(0, f.N)
	for i, h := range hs {
		f.hashes[base+int64(i)] = h
	}
	f.N++
	keep := map[int64]bool{}
	for _, x := range frontierIndexes(f.N) {
		keep[x] = true
	}
	for x := range f.hashes {
		if !keep[x] {
			delete(f.hashes, x)
		}
	}
	return nil
}

// Root is the tree hash (all zero for an empty tree, as tlog has it).
func (f *Frontier) Root() (tlog.Hash, error) {
	if f.N == 0 {
		return tlog.Hash{}, nil
	}
	return tlog.TreeHash(f.N, f)
}

// Hashes returns the frontier as (index, hash) pairs in index order, for
// persisting; SetHashes restores it.
func (f *Frontier) Hashes() []tlog.Hash {
	idx := frontierIndexes(f.N)
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = f.hashes[x]
	}
	return out
}

// SetFrontier restores a frontier of a tree of n leaves from Hashes.
func SetFrontier(n int64, hashes []tlog.Hash) (Frontier, error) {
	idx := frontierIndexes(n)
	if len(idx) != len(hashes) {
		return Frontier{}, fmt.Errorf("audit: frontier of a tree of %d has %d hashes, not %d", n, len(idx), len(hashes))
	}
	f := Frontier{N: n, hashes: map[int64]tlog.Hash{}}
	for i, x := range idx {
		f.hashes[x] = hashes[i]
	}
	return f, nil
}

// HashLog is an RFC 6962 tree that keeps every stored hash (about two per
// leaf), so it can prove inclusion and consistency. The offline tools
// build one from a data directory's history.
type HashLog struct {
	stored []tlog.Hash
	leaves [][]byte // leaf data, by index from dropped
	n      int64
	// dropped is how many leading leaves have no data: a log restored by
	// RestoreHashLog keeps their hashes (proofs of consistency and of the
	// later leaves still work) but not the leaves themselves.
	dropped int64
}

// ErrDropped: a leaf whose data retention dropped (docs/audit.md,
// "Retention"); the tree's hashes are kept, the leaf is not.
var ErrDropped = errors.New("audit: dropped by retention")

// RestoreHashLog returns a tree of n leaves from its stored hashes (as
// StoredHashes gives them), without the leaves' data: LeafData of those
// leaves fails with ErrDropped; appends, roots and proofs work.
func RestoreHashLog(n int64, stored []tlog.Hash) (HashLog, error) {
	if n < 0 || tlog.StoredHashCount(n) != int64(len(stored)) {
		return HashLog{}, fmt.Errorf("audit: %d stored hashes for a tree of %d leaves, want %d", len(stored), n, tlog.StoredHashCount(max(n, 0)))
	}
	return HashLog{stored: slices.Clone(stored), n: n, dropped: n}, nil
}

// StoredHashes returns every stored hash of the tree, in tlog's stored
// hash order (tlog.StoredHashIndex).
func (l *HashLog) StoredHashes() []tlog.Hash { return l.stored }

// Dropped is how many leading leaves have hashes but no data.
func (l *HashLog) Dropped() int64 { return l.dropped }

// ReadHashes implements tlog.HashReader.
func (l *HashLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l.stored)) {
			return nil, fmt.Errorf("audit: stored hash %d of %d", x, len(l.stored))
		}
		out[i] = l.stored[x]
	}
	return out, nil
}

// Append adds one leaf.
func (l *HashLog) Append(data []byte) error {
	hs, err := tlog.StoredHashes(l.n, data, l)
	if err != nil {
		return err
	}
	l.stored = append(l.stored, hs...)
	l.leaves = append(l.leaves, data)
	l.n++
	return nil
}

// LeafData returns leaf i's data.
func (l *HashLog) LeafData(i int64) ([]byte, error) {
	if i < 0 || i >= l.n {
		return nil, fmt.Errorf("audit: leaf %d of %d", i, l.n)
	}
	if i < l.dropped {
		return nil, fmt.Errorf("%w: leaf %d (this log keeps the data of leaves %d.. only)", ErrDropped, i, l.dropped)
	}
	return l.leaves[i-l.dropped], nil
}

// Size is the number of leaves.
func (l *HashLog) Size() int64 { return l.n }

// Root is the tree hash of the first n leaves.
func (l *HashLog) Root(n int64) (tlog.Hash, error) {
	if n == 0 {
		return tlog.Hash{}, nil
	}
	return tlog.TreeHash(n, l)
}

// ProveLeaf proves that leaf i is in the tree of the first n leaves
// (tlog.CheckRecord checks it).
func (l *HashLog) ProveLeaf(i, n int64) (tlog.RecordProof, error) { return tlog.ProveRecord(n, i, l) }

// ProveTree proves that the tree of the first m leaves is a prefix of
// the tree of the first n (tlog.CheckTree checks it).
func (l *HashLog) ProveTree(m, n int64) (tlog.TreeProof, error) { return tlog.ProveTree(n, m, l) }
