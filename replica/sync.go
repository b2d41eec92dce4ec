package replica

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/cespare/xxhash/v2"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/limits"
)

// Reconciliation ("sync") repairs a divergence, or a peer too far behind
// the retained log, with bytes that grow with the difference, not the
// keyspace.
//
// Every live key has a position, the xxhash of its bytes, and a value
// hash, crdt's KeyHash (which covers key and value) mixed with a salt drawn
// per session. The positions span a 4-ary tree: a node at depth d holds
// the keys whose positions share their top 2d bits; its hash is the sum of
// its keys' salted value hashes. The requester asks for the root; the
// responder answers each node with its children's hashes (see TreeNode for
// the 32-bit encoding below the root), or, for a node of at most
// syncLeafKeys keys, with its (position, value hash) entries. The requester
// descends into children whose hashes differ from its own, and for small
// nodes asks for the values of keys that differ or that it lacks
// (MsgSyncKeysReq). When nothing is pending it joins, in one step, each
// received value with the responder's context (crdt.Keyspace.JoinKey),
// each of its own keys the responder lacks with the bottom value (so a
// delete the responder saw removes it here), and merges that context.
//
// The responder's state is pinned: its first answer gives its context and
// state hash, and an answer with another hash aborts the session, so every
// value and the context come from one state. A key compared equal holds
// every effect of the responder's dots, whatever the requester applied
// since, with one exception: the requester applying, mid-session, a
// transaction the responder already had. A key judged equal before may
// then hold an entry the responder had removed, so that aborts the session
// (applied()). A 32-bit collision is caught by the 64-bit check of
// syncSession.covered; the salt makes it a one-session event.
//
// Repair is a pull: the requester converges towards the responder's state
// joined with its own. At the end it sends the responder a digest, which
// makes the responder pull in turn if it still differs.
const (
	syncBits     = 2               // bits of position per tree level
	syncFanout   = 1 << syncBits   // children per node
	syncMaxDepth = 64/syncBits - 1 // a node at this depth is always answered with entries
	// syncLeafKeys is the most keys a node answered with entries holds:
	// entries cost 16 bytes a key, children hashes 128 bytes a node.
	syncLeafKeys = 4
	// maxSyncNodesPerRequest and maxSyncKeysPerRequest bound one request;
	// larger descents send several.
	maxSyncNodesPerRequest = 4096
	maxSyncKeysPerRequest  = 4096
)

// hashMask is what an answer keeps of a child hash below the root: 32
// bits. A false "equal" from a 32-bit match is caught by the session's
// final check (see syncSession.covered), which is 64-bit.
const hashMask = 1<<32 - 1

// childHash is what an answer carries for a child hash at depth.
func childHash(depth uint8, h uint64) uint64 {
	if depth == 0 {
		return h
	}
	return h & hashMask
}

// hashesFor is how many child hashes an answer for a node at depth
// carries (see TreeNode).
func hashesFor(depth uint8) int {
	if depth == 0 {
		return syncFanout
	}
	return syncFanout - 1
}

// nodeID names a tree node.
type nodeID struct {
	depth  uint8
	prefix uint64
}

// prefixMask keeps the top syncBits×depth (2×depth) bits of a position.
func prefixMask(depth uint8) uint64 {
	if depth == 0 {
		return 0
	}
	return ^uint64(0) << (64 - syncBits*uint(depth))
}

// syncSession is this node's reconciliation session as requester.
type syncSession struct {
	peer       causal.NodeID
	id         uint64 // also the salt
	startTick  uint64
	answerTick uint64 // when the last answer of the session arrived
	reason     string
	pinned     *causal.Context // responder's context at the start
	pinnedHash uint64          // responder's state hash at the start
	// nodes holds the tree nodes asked for and not yet answered, with the
	// hash the responder's previous answer gave each (the root's is
	// unknown: 0); keys holds the key positions asked for. An answer for
	// anything not pending (a duplicate, on a transport that duplicates)
	// is ignored, and the session completes when both are empty: counting
	// answers instead would let a duplicate end it early, and merging the
	// context then would claim dots whose keys were never compared.
	nodes map[nodeID]uint64
	keys  map[uint64]bool
	// requests lists the nodes of each request by number: answers name
	// their nodes by position in it.
	requests [][]nodeID
	// rootSum is the responder's 64-bit tree sum (from the root's answer)
	// and covered the same sum rebuilt from the descent: our full hash
	// for every child judged equal, the responder's entries for every
	// small node. They differ iff some child judged equal on its 32-bit
	// hash was not (or by a 2^-64 chance): then the session must not
	// merge the responder's context, which would claim dots of keys never
	// compared. It aborts instead and a later one retries with a new salt.
	rootSum, covered uint64
	// buffered holds the keys to join at the end, all at once: joining
	// them as answers arrive would show a transaction's keys partly.
	buffered      []KeyValue
	bufferedBytes int
	// fragments assembles values that arrive in fragments, by key
	// position; their bytes count in bufferedBytes as they arrive.
	fragments map[uint64]*fragment
}

// fragment is a value being assembled from KeyValue fragments, which a
// datagram transport may reorder or duplicate.
type fragment struct {
	buf    []byte
	got    map[uint64]bool // offsets received
	gotLen uint64
}

// treeKey is one key of the reconciliation tree.
type treeKey struct {
	pos  uint64
	hash uint64 // crdt KeyHash, unsalted
	key  []byte
}

// keyTree is the sorted key list of the state with hash stateHash.
type keyTree struct {
	stateHash uint64
	keys      []treeKey // by pos
}

// keyTree returns the tree of the current state, rebuilding it if the
// state changed. Cost of a rebuild: O(n log n) for n live keys; a session
// against a quiet peer builds it once.
func (r *Replica) keyTree() *keyTree {
	h := r.ks.Hash()
	if r.tree != nil && r.tree.stateHash == h {
		return r.tree
	}
	t := &keyTree{stateHash: h, keys: make([]treeKey, 0, r.ks.Len())}
	r.ks.RangeState(nil, func(key []byte, v *crdt.Value) bool {
		t.keys = append(t.keys, treeKey{pos: xxhash.Sum64(key), hash: r.ks.KeyHash(key), key: key})
		return true
	})
	slices.SortFunc(t.keys, func(a, b treeKey) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return 0
	})
	r.tree = t
	return t
}

// span returns the index range of the keys under node (depth, prefix).
func (t *keyTree) span(depth uint8, prefix uint64) (int, int) {
	if depth == 0 {
		return 0, len(t.keys)
	}
	last := prefix | ^prefixMask(depth)
	lo := sort.Search(len(t.keys), func(i int) bool { return t.keys[i].pos >= prefix })
	hi := sort.Search(len(t.keys), func(i int) bool { return t.keys[i].pos > last })
	return lo, hi
}

func salted(h, salt uint64) uint64 { return mix64(h ^ salt) }

// maxSyncSessionID bounds session ids: 2^21, three varint bytes.
const maxSyncSessionID = 1 << 21

// syncSalt is the hash salt of a session.
func syncSalt(session uint64) uint64 { return mix64(session ^ 0x5bd1e9955bd1e995) }

// children returns the salted hashes of the syncFanout (4) children of a
// node.
func (t *keyTree) children(depth uint8, prefix, salt uint64) []uint64 {
	out := make([]uint64, syncFanout)
	lo, hi := t.span(depth, prefix)
	shift := 64 - syncBits*uint(depth+1)
	for _, k := range t.keys[lo:hi] {
		out[(k.pos>>shift)&(syncFanout-1)] += salted(k.hash, salt)
	}
	return out
}

func childPrefix(depth uint8, prefix uint64, i int) uint64 {
	return prefix | uint64(i)<<(64-syncBits*uint(depth+1))
}

// startSync opens a session with peer.
func (r *Replica) startSync(peer causal.NodeID, reason string) {
	if r.sync != nil || r.state == NodeJoining || r.repairRefusedRecently(peer) {
		return
	}
	// Session ids are small (three varint bytes: every sync message
	// carries one) and random; the salt derives from the id.
	id := r.rng.next()%maxSyncSessionID + 1
	r.sync = &syncSession{peer: peer, id: id, startTick: r.tick, reason: reason,
		nodes: map[nodeID]uint64{{}: 0}, keys: map[uint64]bool{}, requests: [][]nodeID{{{}}}}
	r.event(EventRepairStarted, peer, causal.Dot{}, reason)
	r.send(peer, Message{Type: MsgSyncReq, Session: id, Seq: 0, Nodes: []TreeNode{{}}})
}

// Reasons for aborting a session that count towards the snapshot
// fallback: the responder keeps changing, or the difference is too large
// to buffer.
const (
	syncPeerChanged = "the peer's state changed during the session"
	syncTooLarge    = "the difference exceeds the repair buffer"
	// syncFailuresBeforeSnapshot is how many such aborts in a row with one
	// peer make the next repair a whole-state transfer instead.
	syncFailuresBeforeSnapshot = 2
	// syncStallsBeforeSnapshot is how many sessions in a row with one peer
	// may end without changing anything while the states still differ
	// before the next repair is a whole-state transfer.
	syncStallsBeforeSnapshot = 2
	// maxSyncBufferBytes bounds the keys a session buffers before joining
	// them: the staged repair (limits.MaxRepairStagedBytes) less room for
	// the two contexts and per-key framing it also holds. A larger
	// difference is repaired by a snapshot transfer.
	maxSyncBufferBytes = limits.MaxRepairStagedBytes - 8<<20
)

func (r *Replica) abortSync(reason string) {
	s := r.sync
	if s == nil {
		return
	}
	r.event(EventRepairAborted, s.peer, causal.Dot{}, reason)
	r.sync = nil
	if reason == syncPeerChanged || reason == syncTooLarge {
		r.syncFailures[s.peer]++
		if r.syncFailures[s.peer] >= syncFailuresBeforeSnapshot {
			delete(r.syncFailures, s.peer)
			r.requestRepairSnapshot(s.peer)
		}
	}
}

// stepSyncReq answers tree nodes (responder side; stateless).
func (r *Replica) stepSyncReq(from causal.NodeID, m *Message) {
	t := r.keyTree()
	var out []TreeNode
	size, root, offset := 0, false, 0
	flush := func() {
		msg := Message{Type: MsgSyncResp, Session: m.Session, Hash: r.ks.Hash(), Nodes: out,
			Seq: m.Seq, Offset: uint64(offset)}
		if root {
			c := r.ks.Context().Clone()
			msg.Context, root = &c, false
		}
		r.send(from, msg)
		offset += len(out)
		out, size = nil, 0
	}
	for _, n := range m.Nodes {
		root = root || n.Depth == 0
		a := TreeNode{Depth: n.Depth, Prefix: n.Prefix}
		lo, hi := t.span(n.Depth, n.Prefix)
		if hi-lo <= syncLeafKeys || n.Depth >= syncMaxDepth {
			a.Entries = make([]TreeEntry, 0, hi-lo)
			for _, k := range t.keys[lo:hi] {
				a.Entries = append(a.Entries, TreeEntry{KeyHash: k.pos, ValueHash: salted(k.hash, syncSalt(m.Session))})
			}
			size += 2 + 16*len(a.Entries)
		} else {
			a.Hashes = t.children(n.Depth, n.Prefix, syncSalt(m.Session))[:hashesFor(n.Depth)]
			for i, h := range a.Hashes {
				a.Hashes[i] = childHash(n.Depth, h)
			}
			size += 1 + 4*len(a.Hashes)
		}
		out = append(out, a)
		if size >= r.cfg.MaxBatchBytes || len(out) >= maxSyncNodesPerRequest {
			flush()
		}
	}
	if len(out) > 0 || offset == 0 {
		flush()
	}
}

// stepSyncResp compares answered nodes with the local tree and asks for
// what differs (requester side).
func (r *Replica) stepSyncResp(from causal.NodeID, m *Message) {
	s := r.sync
	if s == nil || s.peer != from || s.id != m.Session {
		return
	}
	s.answerTick = r.tick
	if m.Context != nil && s.pinned == nil {
		c := m.Context.Clone()
		s.pinned, s.pinnedHash = &c, m.Hash
	}
	if s.pinned == nil {
		r.abortSync("answer without the responder's context")
		return
	}
	if m.Hash != s.pinnedHash {
		r.abortSync(syncPeerChanged)
		return
	}
	t := r.keyTree()
	var nextNodes []TreeNode
	var want []uint64
	var absent [][]byte // our keys the responder lacks
	if m.Seq >= uint64(len(s.requests)) || m.Offset > uint64(len(s.requests[m.Seq])) ||
		uint64(len(m.Nodes)) > uint64(len(s.requests[m.Seq]))-m.Offset {
		r.abortSync("answer to a request never made")
		return
	}
	asked := s.requests[m.Seq][m.Offset:]
	for j := range m.Nodes {
		n := &m.Nodes[j]
		key := asked[j] // answers carry no node name: their position says it
		depth, prefix := key.depth, key.prefix
		parent, pending := s.nodes[key]
		if !pending {
			continue // a duplicate, or never asked
		}
		if len(n.Hashes) > 0 && (len(n.Hashes) != hashesFor(depth) || depth >= syncMaxDepth) {
			r.abortSync("malformed answer")
			return
		}
		delete(s.nodes, key)
		if len(n.Hashes) > 0 {
			theirs := n.Hashes
			if depth == 0 {
				for _, h := range theirs {
					s.rootSum += h
				}
			} else {
				// Derive the last child's hash from the node's (sums of
				// truncated hashes agree mod 2^32).
				last := parent
				for _, h := range theirs {
					last -= h
				}
				theirs = append(slices.Clip(theirs), last&hashMask)
			}
			ours := t.children(depth, prefix, syncSalt(s.id))
			for i := range syncFanout {
				if childHash(depth, ours[i]) == theirs[i] {
					s.covered += ours[i]
					continue
				}
				child := TreeNode{Depth: depth + 1, Prefix: childPrefix(depth, prefix, i)}
				s.nodes[nodeID{child.Depth, child.Prefix}] = theirs[i]
				nextNodes = append(nextNodes, child)
			}
			continue
		}
		for _, e := range n.Entries {
			s.covered += e.ValueHash
			if depth == 0 {
				s.rootSum += e.ValueHash
			}
		}
		theirs := make(map[uint64]uint64, len(n.Entries))
		for _, e := range n.Entries {
			theirs[e.KeyHash] = e.ValueHash
		}
		lo, hi := t.span(depth, prefix)
		ourPos := make(map[uint64]bool, hi-lo)
		for _, k := range t.keys[lo:hi] {
			ourPos[k.pos] = true
			vh, ok := theirs[k.pos]
			switch {
			case !ok:
				absent = append(absent, k.key)
			case vh != salted(k.hash, syncSalt(s.id)) && !s.keys[k.pos]:
				s.keys[k.pos] = true
				want = append(want, k.pos)
			}
		}
		for _, e := range n.Entries {
			if !ourPos[e.KeyHash] && !s.keys[e.KeyHash] {
				s.keys[e.KeyHash] = true
				want = append(want, e.KeyHash)
			}
		}
	}
	for _, k := range absent {
		s.buffered = append(s.buffered, KeyValue{Key: k})
		s.bufferedBytes += len(k)
	}
	for len(nextNodes) > 0 {
		n := min(len(nextNodes), maxSyncNodesPerRequest)
		ids := make([]nodeID, n)
		for i, tn := range nextNodes[:n] {
			ids[i] = nodeID{tn.Depth, tn.Prefix}
		}
		r.send(from, Message{Type: MsgSyncReq, Session: s.id, Seq: uint64(len(s.requests)), Nodes: nextNodes[:n]})
		s.requests = append(s.requests, ids)
		nextNodes = nextNodes[n:]
	}
	for len(want) > 0 {
		n := min(len(want), maxSyncKeysPerRequest)
		r.send(from, Message{Type: MsgSyncKeysReq, Session: s.id, KeyHashes: want[:n]})
		want = want[n:]
	}
	r.syncProgress()
}

// stepSyncKeysReq ships the values of the requested keys (responder side).
func (r *Replica) stepSyncKeysReq(from causal.NodeID, m *Message) {
	t := r.keyTree()
	ctx := r.ks.Context().Clone()
	var out []KeyValue
	size := 0
	flush := func(last bool) {
		msg := Message{Type: MsgSyncKeys, Session: m.Session, Hash: r.ks.Hash(), Keys: out, Context: &ctx}
		if !last {
			msg.Seq = 1
		}
		r.send(from, msg)
		out, size = nil, 0
	}
	// add appends kv, first flushing what would take the message past
	// MaxBatchBytes: a message holds at most MaxBatchBytes, or one value
	// or fragment (at most limits.MaxRepairChunkBytes) beyond it.
	add := func(kv KeyValue) {
		n := len(kv.Key) + len(kv.Value) + 16
		if len(out) > 0 && (size+n > r.cfg.MaxBatchBytes || len(out) >= MaxMessageKeys) {
			flush(false)
		}
		out = append(out, kv)
		size += n
	}
	for _, pos := range m.KeyHashes {
		i := sort.Search(len(t.keys), func(i int) bool { return t.keys[i].pos >= pos })
		for ; i < len(t.keys) && t.keys[i].pos == pos; i++ {
			k := t.keys[i]
			v := r.ks.State(k.key)
			if v == nil {
				add(KeyValue{Key: k.key})
				continue
			}
			enc := crdt.AppendValue(nil, v)
			if len(enc) <= limits.MaxRepairChunkBytes {
				add(KeyValue{Key: k.key, Value: enc})
				continue
			}
			// A value larger than a chunk (a register with large
			// concurrent values, a large set) goes in fragments, so no
			// message exceeds a frame.
			for off := 0; off < len(enc); off += limits.MaxRepairChunkBytes {
				end := min(off+limits.MaxRepairChunkBytes, len(enc))
				add(KeyValue{Key: k.key, Value: enc[off:end], Offset: uint64(off), Total: uint64(len(enc))})
			}
		}
	}
	flush(true)
}

// stepSyncKeys joins shipped keys (requester side).
func (r *Replica) stepSyncKeys(from causal.NodeID, m *Message) {
	s := r.sync
	if s == nil || s.peer != from || s.id != m.Session {
		return
	}
	if s.pinned == nil || m.Hash != s.pinnedHash {
		// Values from a later state than the pinned one could carry part
		// of a transaction the requester has not applied.
		r.abortSync(syncPeerChanged)
		return
	}
	s.answerTick = r.tick
	var answered []uint64
	for _, kv := range m.Keys {
		pos := xxhash.Sum64(kv.Key)
		if !s.keys[pos] {
			continue // a duplicate, or never asked
		}
		if kv.Total > 0 {
			whole, ok := r.assemble(s, pos, kv)
			if !ok {
				if r.sync == nil {
					return // aborted
				}
				continue // more fragments to come
			}
			kv = KeyValue{Key: kv.Key, Value: whole}
		}
		answered = append(answered, pos)
		s.buffered = append(s.buffered, kv)
		s.bufferedBytes += len(kv.Key) + len(kv.Value)
	}
	for _, pos := range answered {
		delete(s.keys, pos)
	}
	if s.bufferedBytes > maxSyncBufferBytes {
		r.abortSync(syncTooLarge)
		return
	}
	r.syncProgress()
}

// assemble adds a fragment of the value of the key at pos. It returns the
// whole value once every fragment has arrived. A value that does not fit
// the repair buffer, or that does not decode once whole, aborts the
// session (then r.sync is nil).
func (r *Replica) assemble(s *syncSession, pos uint64, kv KeyValue) ([]byte, bool) {
	if s.fragments == nil {
		s.fragments = map[uint64]*fragment{}
	}
	f := s.fragments[pos]
	if f == nil {
		if s.bufferedBytes+int(kv.Total) > maxSyncBufferBytes {
			r.abortSync(syncTooLarge)
			return nil, false
		}
		f = &fragment{buf: make([]byte, kv.Total), got: map[uint64]bool{}}
		s.fragments[pos] = f
		s.bufferedBytes += int(kv.Total) // reserved now; the whole value replaces it below
	}
	if uint64(len(f.buf)) != kv.Total {
		r.abortSync("fragments of one value disagree on its length")
		return nil, false
	}
	if !f.got[kv.Offset] {
		f.got[kv.Offset] = true
		f.gotLen += uint64(copy(f.buf[kv.Offset:], kv.Value))
	}
	if f.gotLen < kv.Total {
		return nil, false
	}
	delete(s.fragments, pos)
	s.bufferedBytes -= int(kv.Total)
	if _, err := decodeValue(f.buf); err != nil {
		r.abortSync(fmt.Sprintf("assembled value of %q does not decode: %v", kv.Key, err))
		return nil, false
	}
	return f.buf, true
}

// syncProgress completes the session once nothing asked for is pending.
func (r *Replica) syncProgress() {
	s := r.sync
	if s == nil || len(s.nodes) > 0 || len(s.keys) > 0 {
		return
	}
	r.sync = nil
	if s.covered != s.rootSum {
		r.sync = s // abortSync reports and clears it
		r.abortSync("a 32-bit tree hash collided; retrying with a new salt")
		return
	}
	if dot, err := r.checkRepairKeys(s.pinned, s.buffered); err != nil {
		r.refuseRepair(s.peer, "reconciliation", dot, err) // write rights (repairrights.go): nothing joined
		return
	}
	// One step: every differing key and the context together, logged as
	// one join record or, if larger than a record, as chunk records
	// applied at their commit record (so replay is all or nothing too).
	recs := encodeRepair(s.id, s.pinned, s.buffered, s.pinned)
	staged := 0
	for _, rec := range recs {
		staged += len(rec)
	}
	if staged > limits.MaxRepairStagedBytes+len(recs)*limits.ChunkHeaderBytes {
		r.sync = s
		r.abortSync(syncTooLarge)
		return
	}
	delete(r.syncFailures, s.peer)
	hashBefore := r.ks.Hash()
	if err := r.joinKeys(s.pinned, s.buffered, s.peer, true); err != nil {
		panic(fmt.Sprintf("replica: joining validated keys: %v", err)) // validate checked them
	}
	r.ks.MergeContext(s.pinned)
	r.ready.Records = append(r.ready.Records, recs...)
	r.resetLog()
	r.drainPending()
	r.trimLog() // drainPending retained what it applied
	r.refreshMembers(true)
	r.ov.stale = true
	r.cutDirty = true
	r.event(EventRepaired, s.peer, causal.Dot{}, fmt.Sprintf("%s: %d keys joined", s.reason, len(s.buffered)))
	if r.ks.Hash() == hashBefore && r.ks.Context().Vector.Equal(&s.pinned.Vector) && r.ks.Hash() != s.pinnedHash {
		// Same transactions, different states, and joining every key the
		// tree showed changed nothing here. Either the responder lacks
		// what we have (the digest below makes it pull), or the difference
		// lies where the tree does not look: values with nothing live,
		// such as a deleted counter's resets, which crdt.Keyspace.Range
		// skips (the responder reports the key absent, and the bottom
		// value carries no resets). The second time in a row, only a
		// whole-state join reaches it.
		r.syncStalls[s.peer]++
		if r.syncStalls[s.peer] >= syncStallsBeforeSnapshot {
			delete(r.syncStalls, s.peer)
			r.requestRepairSnapshot(s.peer)
			return
		}
	} else {
		delete(r.syncStalls, s.peer)
	}
	r.send(s.peer, Message{Type: MsgDigest, Hash: r.ks.Hash(), Seq: 1})
}

// joinKeys joins keys shipped with context ctx. A nil Value is the bottom:
// the key is absent there. With emit, changes are reported.
func (r *Replica) joinKeys(ctx *causal.Context, kvs []KeyValue, origin causal.NodeID, emit bool) error {
	vals := make([]*crdt.Value, len(kvs))
	for i, kv := range kvs {
		if kv.Value == nil {
			continue
		}
		v, err := decodeValue(kv.Value)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	for i, kv := range kvs {
		r.ks.JoinKey(kv.Key, vals[i], ctx)
		if IsInternalKey(kv.Key) {
			r.membersDirty = true
			if bytes.HasPrefix(kv.Key, []byte(PolicyPrefix)) {
				r.pol.loaded = false // rebuilt at the next check (policy.go)
			}
			continue
		}
		if emit {
			ch := Change{Key: kv.Key, Origin: origin, Type: crdt.TypeNone, Deleted: true}
			if v := r.ks.Get(kv.Key); v != nil {
				ch.Type, ch.Deleted = v.Type(), false
			}
			r.ready.Changes = append(r.ready.Changes, ch)
		}
	}
	return nil
}

func decodeValue(b []byte) (*crdt.Value, error) {
	rd := codec.NewReader(b)
	v, err := crdt.DecodeValue(rd)
	if err == nil {
		err = rd.Finish()
	}
	return v, err
}
