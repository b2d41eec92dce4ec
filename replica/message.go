package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// MessageType is the kind of a Message. Values are part of the wire format:
// append only, never renumber.
type MessageType uint8

const (
	// MsgTxns carries a batch of transactions in causal order (push, or an
	// answer to MsgFetch).
	MsgTxns MessageType = 1
	// MsgAck carries only the sender's applied vector (after a batch).
	MsgAck MessageType = 2
	// MsgPing is a failure-detector probe; Seq names it. Target is zero
	// for a direct probe, or the node being probed on behalf of a
	// MsgPingReq sender.
	MsgPing MessageType = 3
	// MsgPingAck answers a MsgPing (Seq echoed). Target, when non-zero,
	// names the node whose liveness the ack reports (indirect probe).
	MsgPingAck MessageType = 4
	// MsgPingReq asks the receiver to probe Target and forward the ack.
	MsgPingReq MessageType = 5
	// MsgDigest carries the sender's applied vector and state Hash.
	MsgDigest MessageType = 6
	// MsgFetch asks for the transactions the sender lacks: those above
	// its Applied vector.
	MsgFetch MessageType = 7
	// MsgTooFar answers a MsgFetch the retained log cannot serve.
	MsgTooFar MessageType = 8
	// MsgSnapshotReq asks for the chunk at Offset of the snapshot named
	// Hash (zero: a new transfer, of the sender's current state): a pull
	// by a joining node, or a member repairing its state.
	MsgSnapshotReq MessageType = 9
	// MsgSnapshot answers MsgSnapshotReq with one chunk of a snapshot:
	// Offset, Total, Chunk, and Hash, the id of the pinned snapshot the
	// chunk belongs to (if it differs from the one asked for, the
	// receiver starts over from offset 0).
	MsgSnapshot MessageType = 10
	// MsgSyncReq asks for the hash-tree nodes in Nodes (reconciliation
	// session Session, request number Seq).
	MsgSyncReq MessageType = 11
	// MsgSyncResp answers MsgSyncReq: for each node, its children's hashes
	// or, for a small node, its (key hash, value hash) entries. Its nodes
	// answer, in order, the nodes of request Seq from index Offset on (an
	// answer larger than MaxBatchBytes is split). The first answer of a
	// session carries the responder's Context.
	MsgSyncResp MessageType = 12
	// MsgSyncKeysReq asks for the keys whose key hashes are in KeyHashes.
	MsgSyncKeysReq MessageType = 13
	// MsgSyncKeys answers MsgSyncKeysReq: the keys' values and the
	// responder's Context.
	MsgSyncKeys MessageType = 14
	// MsgPublish carries a client message (Redis PUBLISH) from the node it
	// was published on: Seq numbers it among that node's messages, Channel
	// and Chunk are the channel and the message. It is not replicated
	// state: the replica never sees it (the driver hands it to the node's
	// subscribers; see node.Node.Publish).
	MsgPublish MessageType = 15
	// MsgCut carries overlay collapse counters (overlay.go), per origin,
	// in Cut: Seq 0, a report up the origin's tree (the least counter
	// every member of the sender's subtree holds); Seq 1, claims (the
	// counter every member holds). Hash is the fingerprint of the member
	// list they were computed over. Sent only by clusters larger than
	// Config.OverlayThreshold.
	MsgCut MessageType = 16

	maxMessageType = MsgCut
)

var messageNames = [...]string{"", "txns", "ack", "ping", "ping-ack", "ping-req", "digest", "fetch",
	"too-far", "snapshot-req", "snapshot", "sync-req", "sync-resp", "sync-keys-req", "sync-keys", "publish", "cut"}

func (t MessageType) String() string {
	if t != 0 && t <= maxMessageType {
		return messageNames[t]
	}
	return fmt.Sprintf("message(%d)", uint8(t))
}

// Message is one protocol message. Which fields are meaningful depends on
// Type (see the MessageType constants); the codec writes only those.
// Every message carries Applied, the sender's applied version vector: that
// is how acknowledgements piggyback on all traffic.
//
// A Message handed out in Ready shares pointers (transactions, contexts,
// key bytes) with the replica's state, all of which are immutable once
// made: the driver may encode it on another goroutine while the replica
// goes on, but nobody may modify it. A
// simulator passing Messages between replicas without encoding them is
// correct as long as no one modifies them; encoding through a LinkCodec
// also exercises the wire format.
type Message struct {
	Type    MessageType
	Applied causal.VersionVector

	Txns []*crdt.Txn // MsgTxns

	// Seq: MsgPing, MsgPingAck, MsgPingReq: the probe; MsgDigest: 1 for a
	// reply; MsgSyncReq: the request's number in its session; MsgSyncResp:
	// the number of the request it answers; MsgSyncKeys: 1 if more follow;
	// MsgCut: 0 up, 1 down.
	Seq    uint64
	Target causal.NodeID // MsgPing, MsgPingAck, MsgPingReq

	Hash uint64 // MsgCut: the member list's fingerprint; MsgDigest; MsgSnapshotReq, MsgSnapshot: the snapshot id; MsgSyncResp, MsgSyncKeys: the responder's state hash

	Offset, Total uint64 // MsgSnapshot; Offset also MsgSnapshotReq, and MsgSyncResp: index of its first node in the request
	Chunk         []byte // MsgSnapshot; MsgPublish: the message
	Channel       []byte // MsgPublish

	Session   uint64          // MsgSync*
	Nodes     []TreeNode      // MsgSyncReq (Depth, Prefix), MsgSyncResp (Hashes or Entries; Depth, Prefix not on the wire)
	KeyHashes []uint64        // MsgSyncKeysReq
	Keys      []KeyValue      // MsgSyncKeys
	Context   *causal.Context // MsgSyncResp (first answer), MsgSyncKeys

	Cut causal.VersionVector // MsgCut

	Reason string // MsgTooFar
}

// TreeNode is one node of the reconciliation hash tree: the keys whose
// 64-bit key hash starts with the top 2×Depth bits of Prefix (the tree is
// 4-ary: syncBits = 2 bits per level). In an answer
// exactly one of Hashes (its children's hashes, for a node with more than
// syncLeafKeys keys) or Entries (its keys, for a small node) is set. The
// root carries every child's 64-bit hash; a deeper node carries the low 32
// bits of each child's hash but the last, which the requester derives from
// the node's own (known from the parent's answer): hash(last) =
// hash(node) − Σ hash(others) mod 2^32.
type TreeNode struct {
	Depth   uint8
	Prefix  uint64
	Hashes  []uint64    // len 0, or syncFanout (root) or syncFanout-1
	Entries []TreeEntry // sorted by KeyHash
}

// TreeEntry is one key of a small tree node: its key hash and its salted
// value hash.
type TreeEntry struct {
	KeyHash   uint64
	ValueHash uint64
}

// KeyValue is one key shipped by reconciliation. Value is the encoding of
// crdt.AppendValue, or nil if the sender holds nothing for the key. An
// encoding larger than limits.MaxRepairChunkBytes travels as fragments:
// KeyValues with Total set to its length and Value holding the bytes at
// Offset; the receiver assembles them before using the value.
type KeyValue struct {
	Key   []byte
	Value []byte
	// Offset and Total place a fragment (Total > 0); zero for a whole
	// value.
	Offset, Total uint64
}
