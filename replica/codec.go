package replica

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/limits"
)

// Link dictionary limits. Encoder and decoder apply the same ones, so the
// decoder refuses exactly what an honest encoder never sends. A link that
// fills its dictionary sends further keys in full (a literal), still
// correct, just larger; a new link session starts empty.
const (
	// MaxLinkKeys bounds the keys one direction of a link session names.
	MaxLinkKeys = 1 << 16
	// MaxLinkKeyBytes bounds the bytes of those keys (64 KiB keys × 1 KiB
	// worst case would be 64 MiB; this caps the decoder's memory at 8 MiB).
	MaxLinkKeyBytes = 8 << 20
	// MaxLinkNodes bounds the node ids one direction names.
	MaxLinkNodes = 4096

	// Message decoding limits.
	MaxMessageTxns        = 1 << 16                      // transactions in one MsgTxns
	MaxMessageTreeNodes   = 1 << 16                      // nodes in one MsgSyncReq or MsgSyncResp
	MaxTreeNodeEntries    = 1 << 16                      // entries of one answered tree node
	MaxMessageKeyHashes   = 1 << 16                      // key hashes in one MsgSyncKeysReq
	MaxMessageKeys        = 1 << 16                      // keys in one MsgSyncKeys
	MaxSnapshotChunkBytes = limits.MaxSnapshotChunkBytes // one snapshot chunk (the table's)
	MaxReasonBytes        = 1024
	// MaxPublishBytes bounds a MsgPublish's channel plus message. A
	// larger PUBLISH reaches only the node it was published on.
	MaxPublishBytes = 1 << 20
)

// Dictionary reference codes (uvarint): 0 = new entry follows in full and
// takes the next id; 1 = literal follows, not entered (dictionary full);
// n ≥ 2 = entry n-2.
const (
	refNew     = 0
	refLiteral = 1
	refBase    = 2
)

// Kinds of an answered tree node in MsgSyncResp.
const (
	treeRootHashes = 0 // syncFanout × u64: the root's children
	treeEntries    = 1 // count, count × (position u64, value hash u64)
	treeHashes     = 2 // (syncFanout-1) × u32: a deeper node's children
)

// Transaction header flags (first byte of each transaction in MsgTxns).
// A set flag means the field is omitted because it has its expected value.
const (
	hdrSameNode    = 1 << 0 // dot node = previous transaction's node
	hdrNextCounter = 1 << 1 // dot counter = last counter of that node on this link + 1
	hdrDepsChain   = 1 << 2 // deps = previous deps ∪ {previous dot}
	hdrSameWall    = 1 << 3 // wall ms = previous wall ms
	hdrNextLogical = 1 << 4 // logical = previous + 1 (same wall) or 0 (new wall)
	hdrSeal        = 1 << 5 // audit mode: the seal (audit.SealBytes) follows the header
	hdrLink        = 1 << 6 // audit mode: a link (audit.LinkBytes, unsigned) follows the header
	hdrMask        = 1<<7 - 1
)

// linkState is one direction's state of a link session: what both ends
// have seen so far, in order.
type linkState struct {
	keyIDs   map[string]uint32 // encoder
	keys     [][]byte          // decoder
	keyArena []byte            // the dictionary's key bytes (keepKey)
	keyBytes int
	nodeIDs  map[causal.NodeID]uint32
	nodes    []causal.NodeID
	applied  causal.VersionVector
	prevDot  causal.Dot
	prevTime causal.Timestamp
	prevDeps causal.Context
	// expect is prevDeps ∪ {prevDot}, the deps of a transaction that
	// chains on the previous one (encoder), kept up to date in place so
	// that testing for the chain allocates nothing.
	expect   causal.Context
	changed  []causal.Entry           // appendVectorDelta's scratch
	counters map[causal.NodeID]uint64 // last dot counter per node

	// headerBytes counts the transaction header bytes (dot, time, deps)
	// encoded so far: the causal metadata figure in tests.
	headerBytes int
	// vectorBytes counts the bytes of the applied-vector deltas encoded
	// so far (VectorBytes).
	vectorBytes int
}

// newLinkState returns an empty direction. Its maps and key arena are
// made on first use: a driver with a thousand peers holds two thousand
// link sessions, most of which carry few keys.
func newLinkState() *linkState { return &linkState{} }

// LinkCodec encodes and decodes the messages of one link session. It holds
// per-link state in each direction (dictionaries of keys and node ids, the
// previous transaction header and applied vector), so the driver creates
// one per link session, uses Encode for every message sent and Decode for
// every payload received, in order, and drops it when the session ends. A
// LinkCodec is not safe for concurrent use, but its encoding and decoding
// halves are independent: one goroutine may Encode while another Decodes.
//
// The payload format (all integers uvarint unless noted) is in
// docs/protocol.md; in short: type byte, applied-vector delta, then the
// type's fields.
type LinkCodec struct {
	enc, dec *linkState
	reader   codec.Reader // Decode's, reused
}

// NewLinkCodec returns a codec for a new link session. Each half is made
// when first used, so a codec that only encodes (or only decodes) holds
// one.
func NewLinkCodec() *LinkCodec { return &LinkCodec{} }

// encoding and decoding return the codec's halves, making them on first
// use.
func (c *LinkCodec) encoding() *linkState {
	if c.enc == nil {
		c.enc = newLinkState()
	}
	return c.enc
}

func (c *LinkCodec) decoding() *linkState {
	if c.dec == nil {
		c.dec = newLinkState()
	}
	return c.dec
}

// VectorBytes returns how many bytes the applied-vector field of the
// messages encoded so far took: the per-message metadata that could grow
// with the cluster (the simulator's vector_bytes_per_msg).
func (c *LinkCodec) VectorBytes() int {
	if c.enc == nil {
		return 0
	}
	return c.enc.vectorBytes
}

// encoder writes keys through the link dictionary.
type encoder struct{ s *linkState }

func (e encoder) AppendKey(dst, key []byte) []byte {
	s := e.s
	if id, ok := s.keyIDs[string(key)]; ok {
		return codec.AppendUvarint(dst, uint64(id)+refBase)
	}
	if len(s.keyIDs) < MaxLinkKeys && s.keyBytes+len(key) <= MaxLinkKeyBytes {
		if s.keyIDs == nil {
			s.keyIDs = map[string]uint32{}
		}
		k := s.keepKey(key)
		s.keyIDs[unsafe.String(unsafe.SliceData(k), len(k))] = uint32(len(s.keyIDs))
		s.keyBytes += len(key)
		dst = codec.AppendUvarint(dst, refNew)
	} else {
		dst = codec.AppendUvarint(dst, refLiteral)
	}
	return codec.AppendBytes(dst, key)
}

// keyArenaChunk is the largest size, in bytes, of the chunks that hold a
// link dictionary's key bytes: one allocation per chunk rather than per
// key. The first chunk is keyArenaFirstChunk and each next one twice the
// last, up to keyArenaChunk, so a link that names a few keys holds a few
// hundred bytes, not 32 KiB. The dictionary's bytes stay bounded by
// MaxLinkKeyBytes (plus the unused tail of each chunk).
const (
	keyArenaChunk      = 32 << 10
	keyArenaFirstChunk = 256
)

// keepKey returns a copy of k in the dictionary's arena. The copy is
// never written again, so the encoder's map may use it as its key.
func (s *linkState) keepKey(k []byte) []byte {
	if cap(s.keyArena)-len(s.keyArena) < len(k) {
		size := min(keyArenaChunk, max(keyArenaFirstChunk, 2*cap(s.keyArena)))
		s.keyArena = make([]byte, 0, max(size, len(k)))
	}
	n := len(s.keyArena)
	s.keyArena = append(s.keyArena, k...)
	return s.keyArena[n:len(s.keyArena):len(s.keyArena)]
}

// decoder reads keys through the link dictionary.
type decoder struct{ s *linkState }

func (d decoder) ReadKey(r *codec.Reader) []byte {
	s := d.s
	ref := r.Uvarint("key ref")
	switch {
	case r.Err() != nil:
		return nil
	case ref == refNew:
		k := r.Bytes("key", crdt.MaxKeyBytes)
		if r.Err() != nil {
			return nil
		}
		if len(s.keys) >= MaxLinkKeys || s.keyBytes+len(k) > MaxLinkKeyBytes {
			r.Fail("key dictionary", codec.ErrTooLong)
			return nil
		}
		k = s.keepKey(k)
		if k == nil {
			k = []byte{}
		}
		s.keys = append(s.keys, k)
		s.keyBytes += len(k)
		return k
	case ref == refLiteral:
		return r.Bytes("key", crdt.MaxKeyBytes)
	case ref-refBase >= uint64(len(s.keys)):
		r.Fail("key ref", codec.ErrInvalid)
		return nil
	}
	return s.keys[ref-refBase]
}

func (s *linkState) appendNode(dst []byte, n causal.NodeID) []byte {
	if id, ok := s.nodeIDs[n]; ok {
		return codec.AppendUvarint(dst, uint64(id)+refBase)
	}
	if len(s.nodeIDs) < MaxLinkNodes {
		if s.nodeIDs == nil {
			s.nodeIDs = map[causal.NodeID]uint32{}
		}
		s.nodeIDs[n] = uint32(len(s.nodeIDs))
		dst = codec.AppendUvarint(dst, refNew)
	} else {
		dst = codec.AppendUvarint(dst, refLiteral)
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(n))
}

func (s *linkState) readNode(r *codec.Reader) causal.NodeID {
	ref := r.Uvarint("node ref")
	if r.Err() != nil {
		return 0
	}
	if ref >= refBase {
		if ref-refBase >= uint64(len(s.nodes)) {
			r.Fail("node ref", codec.ErrInvalid)
			return 0
		}
		return s.nodes[ref-refBase]
	}
	if ref != refNew && ref != refLiteral {
		r.Fail("node ref", codec.ErrInvalid)
		return 0
	}
	raw := r.Raw("node id", 8)
	if r.Err() != nil {
		return 0
	}
	n := causal.NodeID(binary.LittleEndian.Uint64(raw))
	if n == 0 {
		r.Fail("node id", codec.ErrInvalid)
		return 0
	}
	if ref == refNew {
		if len(s.nodes) >= MaxLinkNodes {
			r.Fail("node dictionary", codec.ErrTooLong)
			return 0
		}
		s.nodes = append(s.nodes, n)
	}
	return n
}

// appendVectorDelta writes the entries of v that differ from prev as
// (node ref, signed counter delta); a resulting zero counter removes the
// entry.
func (s *linkState) appendVectorDelta(dst []byte, prev, v *causal.VersionVector) []byte {
	changed := s.changed[:0]
	defer func() { s.changed = changed[:0] }()
	for _, e := range v.Entries() {
		if prev.Get(e.Node) != e.Counter {
			changed = append(changed, e)
		}
	}
	for _, e := range prev.Entries() {
		if v.Get(e.Node) == 0 {
			changed = append(changed, causal.Entry{Node: e.Node})
		}
	}
	dst = codec.AppendUvarint(dst, uint64(len(changed)))
	for _, e := range changed {
		dst = s.appendNode(dst, e.Node)
		dst = codec.AppendVarint(dst, int64(e.Counter-prev.Get(e.Node)))
	}
	return dst
}

func (s *linkState) readVectorDelta(r *codec.Reader, v *causal.VersionVector) {
	n := r.Count("vector delta", causal.MaxVectorEntries, 2)
	for i := 0; i < n && r.Err() == nil; i++ {
		node := s.readNode(r)
		d := r.Varint("vector delta counter")
		if r.Err() != nil {
			return
		}
		v.Set(node, v.Get(node)+uint64(d))
	}
	if v.Len() > causal.MaxVectorEntries {
		r.Fail("vector delta", codec.ErrTooLong)
	}
}

// Encode appends the payload of m to dst. After an error the session must
// be closed.
func (c *LinkCodec) Encode(dst []byte, m *Message) ([]byte, error) {
	s := c.encoding()
	if m.Type == 0 || m.Type > maxMessageType {
		return dst, fmt.Errorf("%w: unknown type %d", ErrEncode, m.Type)
	}
	dst = append(dst, byte(m.Type))
	if m.Type == MsgPublish {
		// A publish is made outside the replica and carries no applied
		// vector: an empty delta, the link's vector unchanged.
		dst = codec.AppendUvarint(dst, 0)
	} else {
		start := len(dst)
		dst = s.appendVectorDelta(dst, &s.applied, &m.Applied)
		s.vectorBytes += len(dst) - start
		copyVector(&s.applied, &m.Applied)
	}
	switch m.Type {
	case MsgTxns:
		if len(m.Txns) > MaxMessageTxns {
			return dst, fmt.Errorf("%w: %d transactions", ErrEncode, len(m.Txns))
		}
		dst = codec.AppendUvarint(dst, uint64(len(m.Txns)))
		for _, t := range m.Txns {
			dst = s.appendTxnHeader(dst, t)
			dst = t.AppendBody(dst, encoder{s})
		}
	case MsgAck, MsgFetch:
	case MsgSnapshotReq:
		dst = codec.AppendUvarint(dst, m.Offset)
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
	case MsgPing, MsgPingAck, MsgPingReq:
		dst = codec.AppendUvarint(dst, m.Seq)
		if m.Target == 0 {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			dst = s.appendNode(dst, m.Target)
		}
	case MsgDigest:
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
		dst = codec.AppendUvarint(dst, m.Seq)
	case MsgCut:
		dst = codec.AppendUvarint(dst, m.Seq)
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
		dst = codec.AppendUvarint(dst, uint64(m.Cut.Len()))
		for _, e := range m.Cut.Entries() {
			dst = s.appendNode(dst, e.Node)
			dst = codec.AppendUvarint(dst, e.Counter)
		}
	case MsgPublish:
		if len(m.Channel)+len(m.Chunk) > MaxPublishBytes {
			return dst, fmt.Errorf("%w: publish of %d bytes", ErrEncode, len(m.Channel)+len(m.Chunk))
		}
		dst = codec.AppendUvarint(dst, m.Seq)
		dst = codec.AppendBytes(dst, m.Channel)
		dst = codec.AppendBytes(dst, m.Chunk)
	case MsgTooFar:
		reason := m.Reason
		if len(reason) > MaxReasonBytes {
			reason = reason[:MaxReasonBytes]
		}
		dst = codec.AppendString(dst, reason)
	case MsgSnapshot:
		if len(m.Chunk) > MaxSnapshotChunkBytes {
			return dst, fmt.Errorf("%w: snapshot chunk of %d bytes", ErrEncode, len(m.Chunk))
		}
		dst = codec.AppendUvarint(dst, m.Offset)
		dst = codec.AppendUvarint(dst, m.Total)
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
		dst = codec.AppendBytes(dst, m.Chunk)
	case MsgSyncReq:
		if len(m.Nodes) > MaxMessageTreeNodes {
			return dst, fmt.Errorf("%w: %d tree nodes", ErrEncode, len(m.Nodes))
		}
		dst = codec.AppendUvarint(dst, m.Session)
		dst = codec.AppendUvarint(dst, m.Seq)
		dst = codec.AppendUvarint(dst, uint64(len(m.Nodes)))
		// Each node: depth×2 + delta flag, then its prefix bits, as the
		// difference from the previous node's when the flag is set (same
		// depth, ascending: the usual case, children of one answer).
		var prev TreeNode
		for i, n := range m.Nodes {
			bits := prefixBits(n.Depth, n.Prefix)
			if i > 0 && n.Depth == prev.Depth && bits >= prefixBits(prev.Depth, prev.Prefix) {
				dst = codec.AppendUvarint(dst, uint64(n.Depth)<<1|1)
				dst = codec.AppendUvarint(dst, bits-prefixBits(prev.Depth, prev.Prefix))
			} else {
				dst = codec.AppendUvarint(dst, uint64(n.Depth)<<1)
				dst = codec.AppendUvarint(dst, bits)
			}
			prev = n
		}
	case MsgSyncResp:
		if len(m.Nodes) > MaxMessageTreeNodes {
			return dst, fmt.Errorf("%w: %d tree nodes", ErrEncode, len(m.Nodes))
		}
		dst = codec.AppendUvarint(dst, m.Session)
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
		dst = codec.AppendUvarint(dst, m.Seq)
		dst = codec.AppendUvarint(dst, m.Offset)
		dst = appendOptContext(dst, m.Context)
		dst = codec.AppendUvarint(dst, uint64(len(m.Nodes)))
		// Answers name no node: the i-th answers node Offset+i of request
		// Seq. The kind byte says the shape.
		for _, n := range m.Nodes {
			switch {
			case len(n.Hashes) == syncFanout:
				dst = append(dst, treeRootHashes)
				for _, h := range n.Hashes {
					dst = binary.LittleEndian.AppendUint64(dst, h)
				}
			case len(n.Hashes) == syncFanout-1:
				dst = append(dst, treeHashes)
				for _, h := range n.Hashes {
					dst = binary.LittleEndian.AppendUint32(dst, uint32(h))
				}
			case len(n.Hashes) != 0:
				return dst, fmt.Errorf("%w: tree node with %d hashes", ErrEncode, len(n.Hashes))
			default:
				if len(n.Entries) > MaxTreeNodeEntries {
					return dst, fmt.Errorf("%w: %d tree entries", ErrEncode, len(n.Entries))
				}
				dst = append(dst, treeEntries)
				dst = codec.AppendUvarint(dst, uint64(len(n.Entries)))
				for _, e := range n.Entries {
					dst = binary.LittleEndian.AppendUint64(dst, e.KeyHash)
					dst = binary.LittleEndian.AppendUint64(dst, e.ValueHash)
				}
			}
		}
	case MsgSyncKeysReq:
		if len(m.KeyHashes) > MaxMessageKeyHashes {
			return dst, fmt.Errorf("%w: %d key hashes", ErrEncode, len(m.KeyHashes))
		}
		dst = codec.AppendUvarint(dst, m.Session)
		dst = codec.AppendUvarint(dst, uint64(len(m.KeyHashes)))
		for _, h := range m.KeyHashes {
			dst = binary.LittleEndian.AppendUint64(dst, h)
		}
	case MsgSyncKeys:
		if len(m.Keys) > MaxMessageKeys {
			return dst, fmt.Errorf("%w: %d keys", ErrEncode, len(m.Keys))
		}
		dst = codec.AppendUvarint(dst, m.Session)
		dst = binary.LittleEndian.AppendUint64(dst, m.Hash)
		dst = codec.AppendUvarint(dst, m.Seq)
		dst = appendOptContext(dst, m.Context)
		dst = codec.AppendUvarint(dst, uint64(len(m.Keys)))
		for _, kv := range m.Keys {
			dst = codec.AppendBytes(dst, kv.Key)
			switch {
			case kv.Total > 0:
				dst = append(dst, 2)
				dst = codec.AppendUvarint(dst, kv.Offset)
				dst = codec.AppendUvarint(dst, kv.Total)
				dst = codec.AppendBytes(dst, kv.Value)
			case kv.Value == nil:
				dst = append(dst, 0)
			default:
				dst = append(dst, 1)
				dst = codec.AppendBytes(dst, kv.Value)
			}
		}
	}
	return dst, nil
}

// prefixBits is the top 2×depth bits of prefix (syncBits per level),
// right-aligned.
func prefixBits(depth uint8, prefix uint64) uint64 {
	if depth == 0 {
		return 0
	}
	return prefix >> (64 - syncBits*uint(depth))
}

func appendOptContext(dst []byte, c *causal.Context) []byte {
	if c == nil {
		return append(dst, 0)
	}
	return c.AppendBinary(append(dst, 1))
}

func readOptContext(r *codec.Reader) *causal.Context {
	switch r.Byte("context flag") {
	case 0:
		return nil
	case 1:
		c := causal.DecodeContext(r)
		return &c
	}
	r.Fail("context flag", codec.ErrInvalid)
	return nil
}

// chainDeps is the expected deps of a transaction following one with
// deps prev and dot d from the same writer: prev ∪ {d}.
func chainDeps(prev *causal.Context, d causal.Dot) causal.Context {
	c := prev.Clone()
	if !d.IsZero() {
		c.Add(d)
	}
	return c
}

// appendTxnHeader writes dot, time and deps as a difference from the
// previous transaction on the link. In a run of transactions from one
// writer, each made after the previous, it is the single flags byte.
func (s *linkState) appendTxnHeader(dst []byte, t *crdt.Txn) []byte {
	start := len(dst)
	defer func() { s.headerBytes += len(dst) - start }()
	var flags byte
	if !s.prevDot.IsZero() && t.Dot.Node == s.prevDot.Node {
		flags |= hdrSameNode
	}
	if t.Dot.Counter == s.counters[t.Dot.Node]+1 {
		flags |= hdrNextCounter
	}
	if t.Deps.Equal(&s.expect) {
		flags |= hdrDepsChain
	}
	if t.Time.WallMs == s.prevTime.WallMs {
		flags |= hdrSameWall
		if t.Time.Logical == s.prevTime.Logical+1 {
			flags |= hdrNextLogical
		}
	} else if t.Time.Logical == 0 {
		flags |= hdrNextLogical
	}
	switch {
	case audit.Linked(t.Seal):
		flags |= hdrLink
	case t.Seal != nil:
		flags |= hdrSeal
	}
	dst = append(dst, flags)
	if flags&hdrSameNode == 0 {
		dst = s.appendNode(dst, t.Dot.Node)
	}
	if flags&hdrNextCounter == 0 {
		dst = codec.AppendUvarint(dst, t.Dot.Counter)
	}
	if flags&hdrSameWall == 0 {
		dst = codec.AppendVarint(dst, int64(t.Time.WallMs-s.prevTime.WallMs))
	}
	if flags&hdrNextLogical == 0 {
		dst = codec.AppendUvarint(dst, uint64(t.Time.Logical))
	}
	if flags&hdrDepsChain == 0 {
		dst = s.appendVectorDelta(dst, &s.prevDeps.Vector, &t.Deps.Vector)
		out := t.Deps.Outliers()
		dst = codec.AppendUvarint(dst, uint64(len(out)))
		for _, d := range out {
			dst = s.appendNode(dst, d.Node)
			dst = codec.AppendUvarint(dst, d.Counter)
		}
	}
	if flags&(hdrSeal|hdrLink) != 0 {
		dst = append(dst, t.Seal...)
	}
	s.prevDot, s.prevTime = t.Dot, t.Time
	copyContext(&s.prevDeps, &t.Deps)
	copyContext(&s.expect, &t.Deps)
	s.expect.Add(t.Dot)
	s.rememberCounter(t.Dot)
	return dst
}

// copyVector makes dst equal to src in dst's own storage (no allocation
// once dst has room). dst must not share storage with any other vector.
func copyVector(dst, src *causal.VersionVector) {
	for i := 0; i < dst.Len(); {
		e := dst.Entries()[i]
		if src.Get(e.Node) == 0 {
			dst.Set(e.Node, 0) // removes entry i
			continue
		}
		i++
	}
	for _, e := range src.Entries() {
		if dst.Get(e.Node) != e.Counter {
			dst.Set(e.Node, e.Counter)
		}
	}
}

// copyContext makes dst equal to src; in dst's own storage when neither
// has outliers (always, under causal delivery), else as a fresh clone.
// dst must not share storage with any other context.
func copyContext(dst, src *causal.Context) {
	if len(src.Outliers()) > 0 || len(dst.Outliers()) > 0 {
		*dst = src.Clone()
		return
	}
	copyVector(&dst.Vector, &src.Vector)
}

// rememberCounter records d as its node's last counter on the link. Only
// MaxLinkNodes nodes are remembered (the first ones seen, identically on
// both ends): a peer sending transactions from ever new node ids makes
// the decoder hold no more than that.
func (s *linkState) rememberCounter(d causal.Dot) {
	if _, ok := s.counters[d.Node]; ok || len(s.counters) < MaxLinkNodes {
		if s.counters == nil {
			s.counters = map[causal.NodeID]uint64{}
		}
		s.counters[d.Node] = d.Counter
	}
}

func (s *linkState) readTxnHeader(r *codec.Reader, t *crdt.Txn) {
	flags := r.Byte("txn flags")
	if r.Err() != nil {
		return
	}
	if flags&^hdrMask != 0 {
		r.Fail("txn flags", codec.ErrInvalid)
		return
	}
	node := s.prevDot.Node
	if flags&hdrSameNode == 0 {
		node = s.readNode(r)
	}
	if node == 0 {
		r.Fail("txn node", codec.ErrInvalid)
		return
	}
	counter := s.counters[node] + 1
	if flags&hdrNextCounter == 0 {
		counter = r.Uvarint("txn counter")
	}
	wall := s.prevTime.WallMs
	if flags&hdrSameWall == 0 {
		wall += uint64(r.Varint("txn wall"))
	}
	var logical uint64
	switch {
	case flags&hdrNextLogical == 0:
		logical = r.Uvarint("txn logical")
	case flags&hdrSameWall != 0:
		logical = uint64(s.prevTime.Logical) + 1
	}
	if logical > uint64(^uint32(0)) || counter == 0 {
		r.Fail("txn header", codec.ErrInvalid)
		return
	}
	var deps causal.Context
	if flags&hdrDepsChain != 0 {
		deps = chainDeps(&s.prevDeps, s.prevDot)
	} else {
		deps.Vector = s.prevDeps.Vector.Clone()
		s.readVectorDelta(r, &deps.Vector)
		n := r.Count("deps outliers", causal.MaxContextOutliers, 2)
		for i := 0; i < n && r.Err() == nil; i++ {
			d := causal.Dot{Node: s.readNode(r), Counter: r.Uvarint("outlier counter")}
			if r.Err() == nil && d.Counter == 0 {
				r.Fail("outlier counter", codec.ErrInvalid)
			}
			deps.Add(d)
		}
	}
	switch flags & (hdrSeal | hdrLink) {
	case hdrSeal:
		t.Seal = r.Raw("txn seal", audit.SealBytes)
	case hdrLink:
		t.Seal = r.Raw("txn link", audit.LinkBytes)
	case hdrSeal | hdrLink:
		r.Fail("txn header", codec.ErrInvalid)
	}
	if r.Err() != nil {
		return
	}
	t.Dot = causal.Dot{Node: node, Counter: counter}
	t.Time = causal.Timestamp{WallMs: wall, Logical: uint32(logical)}
	t.Deps = deps
	s.prevDot, s.prevTime = t.Dot, t.Time
	copyContext(&s.prevDeps, &deps)
	s.rememberCounter(t.Dot)
}

// Decode decodes one payload. It copies the payload, so the caller may
// reuse it. An error wraps ErrDecode and gives the reason; the session
// must then be closed.
func (c *LinkCodec) Decode(payload []byte) (Message, error) {
	s := c.decoding()
	buf := bytes.Clone(payload)
	r := &c.reader // kept: a link's messages are decoded one at a time
	r.Reset(buf)
	var m Message
	m.Type = MessageType(r.Byte("type"))
	if r.Err() == nil && (m.Type == 0 || m.Type > maxMessageType) {
		r.Fail("type", codec.ErrInvalid)
	}
	s.readVectorDelta(r, &s.applied)
	m.Applied = s.applied.Clone()
	switch m.Type {
	case MsgTxns:
		n := r.Count("txns", MaxMessageTxns, 2)
		m.Txns = make([]*crdt.Txn, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			t := new(crdt.Txn)
			s.readTxnHeader(r, t)
			if r.Err() != nil {
				break
			}
			if err := crdt.DecodeBody(r, decoder{s}, t); err != nil {
				r.Fail("txn body", err)
				break
			}
			m.Txns = append(m.Txns, t)
		}
	case MsgPing, MsgPingAck, MsgPingReq:
		m.Seq = r.Uvarint("seq")
		switch r.Byte("target flag") {
		case 0:
		case 1:
			m.Target = s.readNode(r)
		default:
			r.Fail("target flag", codec.ErrInvalid)
		}
	case MsgDigest:
		m.Hash = readUint64(r, "hash")
		m.Seq = r.Uvarint("seq")
	case MsgCut:
		m.Seq = r.Uvarint("seq")
		m.Hash = readUint64(r, "hash")
		// Entries come in ascending node order, as encoded, so each Set
		// appends: any other order is refused, which also refuses a node
		// listed twice.
		n := r.Count("cut", causal.MaxVectorEntries, 2)
		var last causal.NodeID
		for i := 0; i < n && r.Err() == nil; i++ {
			node := s.readNode(r)
			c := r.Uvarint("cut counter")
			if r.Err() == nil && (c == 0 || node <= last) {
				r.Fail("cut entry", codec.ErrInvalid)
			}
			last = node
			m.Cut.Set(node, c)
		}
		if r.Err() == nil && m.Seq > cutDown {
			r.Fail("cut direction", codec.ErrInvalid)
		}
	case MsgSnapshotReq:
		m.Offset = r.Uvarint("offset")
		m.Hash = readUint64(r, "hash")
	case MsgTooFar:
		m.Reason = string(r.Bytes("reason", MaxReasonBytes))
	case MsgPublish:
		m.Seq = r.Uvarint("seq")
		m.Channel = r.Bytes("channel", MaxPublishBytes)
		m.Chunk = r.Bytes("message", MaxPublishBytes-len(m.Channel))
		if m.Channel == nil {
			m.Channel = []byte{}
		}
		if m.Chunk == nil {
			m.Chunk = []byte{}
		}
	case MsgSnapshot:
		m.Offset = r.Uvarint("offset")
		m.Total = r.Uvarint("total")
		m.Hash = readUint64(r, "hash")
		m.Chunk = r.Bytes("chunk", MaxSnapshotChunkBytes)
	case MsgSyncReq:
		m.Session = r.Uvarint("session")
		m.Seq = r.Uvarint("seq")
		n := r.Count("tree nodes", MaxMessageTreeNodes, 2)
		m.Nodes = make([]TreeNode, 0, n)
		var prevBits uint64
		var prevDepth uint8
		for i := 0; i < n && r.Err() == nil; i++ {
			head := r.Uvarint("tree node depth")
			bits := r.Uvarint("tree node prefix")
			if r.Err() != nil {
				break
			}
			depth := head >> 1
			if head&1 == 1 {
				if i == 0 || depth != uint64(prevDepth) || bits+prevBits < bits {
					r.Fail("tree node delta", codec.ErrInvalid)
					break
				}
				bits += prevBits
			}
			if depth > syncMaxDepth || (depth > 0 && bits>>(syncBits*uint(depth)) != 0) ||
				(depth == 0 && bits != 0) {
				r.Fail("tree node", codec.ErrInvalid)
				break
			}
			tn := TreeNode{Depth: uint8(depth)}
			if depth > 0 {
				tn.Prefix = bits << (64 - syncBits*uint(depth))
			}
			prevBits, prevDepth = bits, tn.Depth
			m.Nodes = append(m.Nodes, tn)
		}
	case MsgSyncResp:
		m.Session = r.Uvarint("session")
		m.Hash = readUint64(r, "hash")
		m.Seq = r.Uvarint("seq")
		m.Offset = r.Uvarint("offset")
		m.Context = readOptContext(r)
		n := r.Count("tree nodes", MaxMessageTreeNodes, 2)
		m.Nodes = make([]TreeNode, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			var tn TreeNode
			switch r.Byte("tree node kind") {
			case treeRootHashes:
				tn.Hashes = make([]uint64, syncFanout)
				for j := range tn.Hashes {
					tn.Hashes[j] = readUint64(r, "tree hash")
				}
			case treeHashes:
				tn.Hashes = make([]uint64, syncFanout-1)
				for j := range tn.Hashes {
					if b := r.Raw("tree hash", 4); b != nil {
						tn.Hashes[j] = uint64(binary.LittleEndian.Uint32(b))
					}
				}
			case treeEntries:
				k := r.Count("tree entries", MaxTreeNodeEntries, 16)
				tn.Entries = make([]TreeEntry, k)
				for j := range tn.Entries {
					tn.Entries[j] = TreeEntry{KeyHash: readUint64(r, "entry key"), ValueHash: readUint64(r, "entry value")}
				}
			default:
				r.Fail("tree node kind", codec.ErrInvalid)
			}
			m.Nodes = append(m.Nodes, tn)
		}
	case MsgSyncKeysReq:
		m.Session = r.Uvarint("session")
		n := r.Count("key hashes", MaxMessageKeyHashes, 8)
		m.KeyHashes = make([]uint64, n)
		for i := range m.KeyHashes {
			m.KeyHashes[i] = readUint64(r, "key hash")
		}
	case MsgSyncKeys:
		m.Session = r.Uvarint("session")
		m.Hash = readUint64(r, "hash")
		m.Seq = r.Uvarint("seq")
		m.Context = readOptContext(r)
		n := r.Count("keys", MaxMessageKeys, 2)
		m.Keys = make([]KeyValue, 0, n)
		for i := 0; i < n && r.Err() == nil; i++ {
			kv := KeyValue{Key: r.Bytes("key", crdt.MaxKeyBytes)}
			switch r.Byte("value flag") {
			case 0:
			case 1:
				kv.Value = r.Bytes("value", maxValueEncodingBytes)
				if kv.Value == nil {
					kv.Value = []byte{}
				}
			case 2:
				kv.Offset = r.Uvarint("fragment offset")
				kv.Total = r.Uvarint("fragment total")
				kv.Value = r.Bytes("fragment", limits.MaxRepairChunkBytes)
				if r.Err() == nil && (kv.Total == 0 || kv.Total > maxValueEncodingBytes ||
					kv.Offset+uint64(len(kv.Value)) > kv.Total || len(kv.Value) == 0) {
					r.Fail("fragment bounds", codec.ErrInvalid)
				}
			default:
				r.Fail("value flag", codec.ErrInvalid)
			}
			m.Keys = append(m.Keys, kv)
		}
	}
	if err := r.Finish(); err != nil {
		return Message{}, fmt.Errorf("%w: %s: %w", ErrDecode, m.Type, err)
	}
	return m, nil
}

func readUint64(r *codec.Reader, what string) uint64 {
	b := r.Raw(what, 8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
