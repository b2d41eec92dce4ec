package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/spooksystems/spook/audit"
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
//	| magic    | version | exporter | since  | count | count × (len, entry)         | crc32c |
//	| 8 bytes  | 1 byte  | node id  | vector |       |                              | 4 B BE |
//	+----------+---------+----------+--------+-------+------------------------------+--------+
//
//	version 1: entry = crdt.Txn.AppendBinary bytes (no seal, no link)
//	version 2: entry = the transaction's log record (audit.go): kind 1 |
//	           txn, kind 6 | seal | txn, or kind 11 | link | txn
//
// The checksum (CRC-32C) covers every byte before it. EncodeBundle writes
// version 2 only when some transaction carries a seal or link (audit
// mode), and version 1 otherwise, byte for byte as before version 2
// existed: a bundle from a node without audit is read by every binary,
// and an audit-mode bundle, which version 1 could not carry, is refused
// by a binary that reads only version 1 ("version 2, this node reads 1").
// A version-2 bundle's transactions are imported like a peer's push in
// audit mode: the seal is verified, the chain link checked, linked runs
// held until the signed transaction that closes them (TxnsSince signs the
// exporter's own unsigned tail first, so a bundle's runs end signed), and
// write rights checked.
const (
	bundleMagic = "SPOOKBDL"
	// bundleV1 carries bare transactions; bundleV2 carries transaction
	// records, with their seals or links.
	bundleV1 = 1
	bundleV2 = 2
	// MaxBundleTxns bounds the transactions of one decoded bundle.
	MaxBundleTxns = 1 << 22
	// MaxBundleTxnBytes bounds one transaction inside a bundle (its
	// crdt.Txn.AppendBinary bytes), in both versions. DecodeBundle
	// refuses a bundle holding a larger one (ErrBadBundle).
	MaxBundleTxnBytes = 64 << 20
	// BundleAuditHeaderBytes is what a version-2 entry adds to its
	// transaction: the record kind byte and the seal (audit.SealBytes;
	// a link is shorter).
	BundleAuditHeaderBytes = 1 + audit.SealBytes
	// MaxBundleEntryBytes bounds one version-2 entry, in bytes: a
	// transaction of MaxBundleTxnBytes and its audit header.
	// DecodeBundle refuses a larger one (ErrBadBundle).
	MaxBundleEntryBytes = MaxBundleTxnBytes + BundleAuditHeaderBytes
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
// logged. In audit mode each goes through the peer path's checks first
// (seal, chain, the hold of linked runs, write rights): one refused raises
// its event and changes nothing (AuditRefused and RightsRefused count
// them). It returns how many were applied now.
func (r *Replica) Import(txns []*crdt.Txn) int {
	before := r.ks.Context().Vector.Sum()
	r.stepTxns(0, txns)
	return int(r.ks.Context().Vector.Sum() - before)
}

// EncodeBundle writes a bundle of txns exported by node exporter for a
// peer whose vector was since: version 2, with each transaction's seal or
// link, if any transaction has one; else version 1.
func EncodeBundle(exporter causal.NodeID, since *causal.VersionVector, txns []*crdt.Txn) []byte {
	version := byte(bundleV1)
	for _, t := range txns {
		if t.Seal != nil {
			version = bundleV2
			break
		}
	}
	b := append([]byte(bundleMagic), version)
	b = codec.AppendUvarint(b, uint64(exporter))
	b = since.AppendBinary(b)
	b = codec.AppendUvarint(b, uint64(len(txns)))
	var scratch []byte
	for _, t := range txns {
		if version == bundleV2 {
			scratch = appendTxnRecord(scratch[:0], t)
		} else {
			scratch = t.AppendBinary(scratch[:0])
		}
		b = codec.AppendBytes(b, scratch)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// DecodeBundle reads a bundle of either version. It refuses a bad magic,
// version or checksum and any malformed transaction, with the reason. The
// transactions of a version-2 bundle carry their seals or links (Seal).
func DecodeBundle(b []byte) (exporter causal.NodeID, since causal.VersionVector, txns []*crdt.Txn, err error) {
	if len(b) < len(bundleMagic)+1+4 || string(b[:len(bundleMagic)]) != bundleMagic {
		return 0, since, nil, fmt.Errorf("%w: no bundle magic", ErrBadBundle)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, since, nil, fmt.Errorf("%w: checksum mismatch (truncated or corrupted file)", ErrBadBundle)
	}
	version := body[len(bundleMagic)]
	if version != bundleV1 && version != bundleV2 {
		return 0, since, nil, fmt.Errorf("%w: version %d, this node reads %d and %d", ErrBadBundle, version, bundleV1, bundleV2)
	}
	r := codec.NewReader(body[len(bundleMagic)+1:])
	exporter = causal.NodeID(r.Uvarint("exporter"))
	since = causal.DecodeVersionVector(r)
	n := r.Count("transactions", MaxBundleTxns, 1)
	txns = make([]*crdt.Txn, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		var t *crdt.Txn
		if version == bundleV1 {
			raw := r.Bytes("transaction", MaxBundleTxnBytes)
			if r.Err() != nil {
				break
			}
			t, err = crdt.DecodeTxn(raw)
		} else {
			rec := r.Bytes("transaction entry", MaxBundleEntryBytes)
			if r.Err() != nil {
				break
			}
			t, err = decodeBundleEntry(rec)
		}
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

// decodeBundleEntry decodes a version-2 entry: a transaction record of
// kind 1, 6 or 11 whose transaction is at most MaxBundleTxnBytes.
func decodeBundleEntry(rec []byte) (*crdt.Txn, error) {
	body, _, err := txnBody(rec)
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBundleTxnBytes {
		return nil, fmt.Errorf("transaction of %d bytes > %d", len(body), MaxBundleTxnBytes)
	}
	return decodeTxnRecord(rec)
}
