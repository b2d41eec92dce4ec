package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// Bundles carry transactions between nodes as files, for links that come
// and go (a laptop, a ship, an edge site): export the transactions a peer
// lacks given its applied vector, carry the file, import it there.
// Importing is the same as receiving the transactions from a peer, so a
// bundle imported twice, or out of order with others, changes nothing the
// second time and waits in the causal buffer for what it depends on.
//
// Bundle format (all integers uvarint unless noted):
//
//	+----------+---------+----------+--------+-------+------------------------------+--------+
//	| magic    | version | exporter | since  | count | count × (len, txn)           | crc32c |
//	| 8 bytes  | 1 byte  | node id  | vector |       | crdt.Txn.AppendBinary bytes  | 4 B BE |
//	+----------+---------+----------+--------+-------+------------------------------+--------+
//
// The checksum (CRC-32C) covers every byte before it.
const (
	bundleMagic   = "SPOOKBDL"
	bundleVersion = 1
	// MaxBundleTxns bounds the transactions of one decoded bundle.
	MaxBundleTxns = 1 << 22
	// MaxBundleTxnBytes bounds one transaction inside a bundle.
	MaxBundleTxnBytes = 64 << 20
)

// ErrBundleTooFar is returned by TxnsSince when the retained log no longer
// holds every transaction the peer lacks: the peer must be repaired over a
// live link (reconciliation) instead.
var ErrBundleTooFar = errors.New("replica: the retained log does not reach back to the peer's vector")

// ErrBadBundle is returned by DecodeBundle for a file that is not a whole,
// valid bundle.
var ErrBadBundle = errors.New("replica: not a valid bundle")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TxnsSince returns the retained transactions that since does not cover,
// in the order they were applied here (which respects causality). It
// returns ErrBundleTooFar if some of them are no longer retained.
func (r *Replica) TxnsSince(since *causal.VersionVector) ([]*crdt.Txn, error) {
	for _, e := range r.ks.Context().Vector.Entries() {
		if c := since.Get(e.Node); c < e.Counter && c < r.floor.Get(e.Node) {
			return nil, fmt.Errorf("%w: it lacks %s:%d, the log starts after %s:%d",
				ErrBundleTooFar, e.Node, c+1, e.Node, r.floor.Get(e.Node))
		}
	}
	r.sealTail()
	var out []*crdt.Txn
	for _, e := range r.log {
		if !since.Contains(e.dot) {
			out = append(out, decodeRetained(e))
		}
	}
	return out, nil
}

// Import applies transactions carried out of band (a bundle) exactly as if
// they had arrived from a peer: duplicates are ignored, those whose causal
// past is missing wait in the causal buffer, and each applied one is
// logged. It returns how many were applied now.
func (r *Replica) Import(txns []*crdt.Txn) int {
	before := r.ks.Context().Vector.Sum()
	r.stepTxns(0, txns)
	return int(r.ks.Context().Vector.Sum() - before)
}

// EncodeBundle writes a bundle of txns exported by node exporter for a
// peer whose vector was since.
func EncodeBundle(exporter causal.NodeID, since *causal.VersionVector, txns []*crdt.Txn) []byte {
	b := append([]byte(bundleMagic), bundleVersion)
	b = codec.AppendUvarint(b, uint64(exporter))
	b = since.AppendBinary(b)
	b = codec.AppendUvarint(b, uint64(len(txns)))
	var scratch []byte
	for _, t := range txns {
		scratch = t.AppendBinary(scratch[:0])
		b = codec.AppendBytes(b, scratch)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// DecodeBundle reads a bundle. It refuses a bad magic, version or checksum
// and any malformed transaction, with the reason.
func DecodeBundle(b []byte) (exporter causal.NodeID, since causal.VersionVector, txns []*crdt.Txn, err error) {
	if len(b) < len(bundleMagic)+1+4 || string(b[:len(bundleMagic)]) != bundleMagic {
		return 0, since, nil, fmt.Errorf("%w: no bundle magic", ErrBadBundle)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, since, nil, fmt.Errorf("%w: checksum mismatch (truncated or corrupted file)", ErrBadBundle)
	}
	if v := body[len(bundleMagic)]; v != bundleVersion {
		return 0, since, nil, fmt.Errorf("%w: version %d, this node reads %d", ErrBadBundle, v, bundleVersion)
	}
	r := codec.NewReader(body[len(bundleMagic)+1:])
	exporter = causal.NodeID(r.Uvarint("exporter"))
	since = causal.DecodeVersionVector(r)
	n := r.Count("transactions", MaxBundleTxns, 1)
	txns = make([]*crdt.Txn, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		raw := r.Bytes("transaction", MaxBundleTxnBytes)
		if r.Err() != nil {
			break
		}
		t, err := crdt.DecodeTxn(raw)
		if err != nil {
			return 0, since, nil, fmt.Errorf("%w: transaction %d: %v", ErrBadBundle, i, err)
		}
		txns = append(txns, t)
	}
	if err := r.Finish(); err != nil {
		return 0, since, nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	return exporter, since, txns, nil
}
