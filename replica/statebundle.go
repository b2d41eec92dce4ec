package replica

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// A state bundle carries a replica's whole state instead of transactions:
// the fallback when the retained log no longer reaches back to the
// receiver's vector (a fresh node, one far behind, or an export with no
// vector at all). Importing it joins the state into the receiver's, as a
// repair snapshot transfer does, so it is as harmless as a transaction
// bundle: importing it twice, or an older one, changes nothing.
//
// State bundle format (integers uvarint unless noted):
//
//	+----------+---------+---------+----------+-------------------+--------+
//	| magic    | version | cluster | exporter | snapshot          | crc32c |
//	| 8 bytes  | 1 byte  | bytes   | node id  | bytes (Snapshot)  | 4 B BE |
//	+----------+---------+---------+----------+-------------------+--------+
//
// The snapshot is Snapshot()'s encoding; the checksum (CRC-32C) covers
// every byte before it.
const (
	stateBundleMagic   = "SPOOKSTB"
	stateBundleVersion = 1
	// MaxStateBundleBytes bounds the snapshot a decoded state bundle may
	// carry.
	MaxStateBundleBytes = 1 << 30
	// maxClusterNameBytes bounds the cluster name in a state bundle.
	maxClusterNameBytes = 1 << 10
)

// IsStateBundle reports whether b starts like a state bundle (as opposed
// to a transaction bundle, see EncodeBundle).
func IsStateBundle(b []byte) bool {
	return len(b) >= len(stateBundleMagic) && string(b[:len(stateBundleMagic)]) == stateBundleMagic
}

// StateBundle returns this replica's whole state as a state bundle, and
// how many keys it holds. It costs O(keyspace) time and bytes.
func (r *Replica) StateBundle() ([]byte, int) {
	b := append([]byte(stateBundleMagic), stateBundleVersion)
	b = codec.AppendBytes(b, []byte(r.cfg.Cluster))
	b = codec.AppendUvarint(b, uint64(r.id))
	b = codec.AppendBytes(b, r.Snapshot())
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), r.ks.Len()
}

// ImportState joins a state bundle into this replica's state, as a repair
// snapshot transfer would: keys whose state changed are reported in
// Ready.Changes, and the joined state is the next Ready's Snapshot. It
// returns the bundle's exporter, its keys and how many keys changed here.
// A bundle of another cluster, or one that does not decode, is refused
// with ErrBadBundle and changes nothing; with write rights on, one whose
// state fails the write-rights check of repairs (repairrights.go) is
// refused with ErrNoRights, raises EventRightsRefused naming its
// exporter, and changes nothing.
func (r *Replica) ImportState(b []byte) (exporter causal.NodeID, keys, changed int, err error) {
	if !IsStateBundle(b) || len(b) < len(stateBundleMagic)+1+4 {
		return 0, 0, 0, fmt.Errorf("%w: no state bundle magic", ErrBadBundle)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, 0, 0, fmt.Errorf("%w: checksum mismatch (truncated or corrupted file)", ErrBadBundle)
	}
	if v := body[len(stateBundleMagic)]; v != stateBundleVersion {
		return 0, 0, 0, fmt.Errorf("%w: state bundle version %d, this node reads %d", ErrBadBundle, v, stateBundleVersion)
	}
	rd := codec.NewReader(body[len(stateBundleMagic)+1:])
	cluster := string(rd.Bytes("cluster", maxClusterNameBytes))
	exporter = causal.NodeID(rd.Uvarint("exporter"))
	snap := rd.Bytes("snapshot", MaxStateBundleBytes)
	if err := rd.Finish(); err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	if cluster != r.cfg.Cluster {
		return 0, 0, 0, fmt.Errorf("%w: the bundle is of cluster %q, this node's is %q", ErrBadBundle, cluster, r.cfg.Cluster)
	}
	_, ks, err := decodeSnapshot(snap)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	if r.state != NodeMember {
		return 0, 0, 0, fmt.Errorf("%w: node is %s", ErrReadOnly, r.state)
	}
	if dot, err := r.checkRepairState(ks, r.bootstrap); err != nil {
		r.reportRefusedState(exporter, "state bundle", dot, err)
		return 0, 0, 0, fmt.Errorf("state bundle exported by %s: %w", exporter, err)
	}
	before := len(r.ready.Changes)
	r.joinSnapshot(0, ks)
	return exporter, ks.Len(), len(r.ready.Changes) - before, nil
}
