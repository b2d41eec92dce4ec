package replica

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/invariants"
	"github.com/spooksystems/spook/limits"
)

// Token names one transaction: its dot. The zero Token names none.
type Token = causal.Dot

// ErrInternalKey: a client transaction touched a key under InternalPrefix.
var ErrInternalKey = errors.New("replica: internal key is reserved")

// Replica is one node's replication state machine. It is not safe for
// concurrent use: the driver serializes every call.
type Replica struct {
	cfg Config
	// sentApplied is the applied vector the last message sent carried,
	// shared by the messages sent until it changes (send).
	sentApplied causal.VersionVector
	// recScratch is txnRecord's encoding buffer (maxRecordScratch).
	recScratch []byte
	id         causal.NodeID
	state      NodeState
	// removedAtMs is when a member said this node was removed
	// (MarkRemoved), for a removal whose record has not arrived.
	removedAtMs uint64
	ks          *crdt.Keyspace
	clock       causal.Clock
	nowMs       uint64
	tick        uint64
	bcCursor    string // the last bounded-counter key tickBCounters visited
	// bcWants holds this node's unmet bounded-counter wants by key
	// (expiredBCounterWants): one entry per key where it asks for rights.
	bcWants map[string]bcWantSeen
	rng     rng

	// bootstrap is the initial member list (Config.Members, or the one a
	// joining node received in its snapshot); it is persisted in
	// snapshots. Membership records in the keyspace refine it.
	bootstrap []Peer
	// peers holds every known node but this one, by ID; order lists their
	// IDs ascending, so iteration (and thus output) is deterministic.
	peers map[causal.NodeID]*peer
	order []causal.NodeID

	// log retains applied transactions, oldest first, for catch-up, as
	// their records only (see logEntry); logBytes is the memory it holds
	// by logEntryBytes. floor[n] is the highest counter of node n dropped
	// from it (or never in it): a peer that lacks a dot at or below floor
	// cannot be served.
	log      []logEntry
	logBytes int
	floor    causal.VersionVector

	// pending is the causal buffer, in arrival order.
	pending      []txnEntry
	pendingBytes int

	// outbox holds transactions to push, per peer, until Ready; ackDue
	// marks peers owed an acknowledgement.
	outbox map[causal.NodeID][]txnEntry
	ackDue map[causal.NodeID]bool

	probe      probeState
	probeOrder []causal.NodeID
	seq        uint64
	relays     []relay

	digestNext  int
	fetchSentAt map[causal.NodeID]uint64

	join         joinState
	sync         *syncSession
	syncFailures map[causal.NodeID]int // aborts in a row, per peer (sync.go)
	syncStalls   map[causal.NodeID]int // sessions in a row that changed nothing
	tree         *keyTree
	// pins are encoded snapshots kept for receivers pulling them
	// (join.go), at most MaxSnapshotPins.
	pins []snapshotPin

	cut        causal.VersionVector
	cutScratch causal.VersionVector // recomputeCut's work space
	cutDirty   bool
	// cutSelf is this node's own term of the cut as of the last
	// recomputation (applied ∧ durable); selfDirty says it may have
	// risen since. cutHolders counts, per origin, the terms (this node
	// and every current member) whose counter for it equals the cut's
	// (zero for a missing entry): the cut can rise only when one of them
	// rises, and must be recomputed only when the last one has (see
	// noteRise). An origin with no count is new: any rise of it makes the
	// cut dirty.
	cutSelf    causal.VersionVector
	selfDirty  bool
	cutHolders map[causal.NodeID]int
	// suspects bounds the members in StateSuspect (tickSuspects).
	suspects int
	// durable, once a driver reports it (SetDurable), is the applied
	// vector known to survive a crash of this node; the collapsed cut
	// counts this node by it, not by what is applied in memory.
	durable      causal.VersionVector
	durableSet   bool
	membersDirty bool

	ready       Ready
	outstanding bool

	// stage holds a repair's chunk records while Restore replays them.
	stage repairStage

	// chains, auditScratch and auditRefused are audit mode's state
	// (audit.go): each origin's chain head, sealLocal's encoding buffer,
	// and the count of refused transactions.
	chains       audit.Chains
	auditScratch []byte
	auditRefused uint64
	checkpoints  checkpointState // checkpoint.go
	// pol and rightsRefused are write rights' state (policy.go).
	pol           policies
	rightsRefused uint64
	ov            overlay // overlay.go
	// proposeUser is the client user of the write being proposed, set
	// by ProposeAs for the length of the call, "" otherwise
	// (userrights.go).
	proposeUser string
	// refusedPeers maps each peer whose repair the write-rights check
	// refused to the tick it did (repairrights.go); nil until one is.
	refusedPeers map[causal.NodeID]uint64

	// tail, signedTick, held and heldBytes sign chain heads
	// (batchseal.go): this node's unsigned last transaction, the tick of
	// its last signature, and the linked transactions received that wait
	// for a signed one.
	tail       ownTail
	signedTick uint64
	held       []heldEntry
	heldBytes  int

	invariantState // invariants.go
}

// peer is what this node knows of another node.
type peer struct {
	Peer
	region       string    // from its membership record; "" if none
	regionKnown  bool      // its membership record has been read (region may be "")
	status       PeerState // StateAlive while a member; StateLeft, StateRemoved from records
	live         PeerState // StateAlive, StateSuspect, StateUnreachable
	applied      causal.VersionVector
	heardTick    uint64
	suspectSince uint64
	// behindLog: the retained log dropped a transaction this member had
	// not acknowledged (EventPeerBehindLog); cleared once its applied
	// vector reaches the log's floor.
	behindLog bool
}

// state is the peer's state as Members reports it.
func (p *peer) state() PeerState {
	if p.status != StateAlive {
		return p.status
	}
	return p.live
}

// txnEntry is one transaction with its record encoding (whose length is
// the size estimate used by every byte limit). It lives only while the
// transaction is applied, buffered or queued to peers: a transaction made
// by a Builder points into the Builder (its arena, its inline buffers),
// and one decoded from a message points into the message's payload, so
// keeping it would keep those alive too.
type txnEntry struct {
	txn    *crdt.Txn
	record []byte
}

// logEntry is one transaction of the retained log: its dot and its record,
// nothing that points elsewhere. A catch-up answer decodes the records it
// ships (crdt.DecodeTxn), which costs CPU only when a peer lags.
type logEntry struct {
	dot    causal.Dot
	record []byte
}

// logEntryOverheadBytes is what one retained transaction holds besides
// its record's capacity: the logEntry itself (40 bytes: a dot and a slice
// header), as much again of spare capacity in the log's backing array
// (append doubles it), and up to 16 bytes of allocator rounding of the
// record.
const logEntryOverheadBytes = 2*40 + 16

// logEntryBytes is the memory one retained record holds by the log's own
// count: what MaxRetainedBytes bounds and Status.RetainedBytes reports.
func logEntryBytes(record []byte) int { return cap(record) + logEntryOverheadBytes }

// New creates the replica of a node with no persisted state.
func New(cfg Config) (*Replica, error) { return Restore(cfg, nil, nil) }

// Restore recreates a replica from persisted state: the last Snapshot the
// replica emitted (nil if none) and the Records emitted after it, in order.
// Records are replayed without emitting anything; the returned replica has
// an empty Ready. Restore may retain the record slices (the retained log
// refills from them): the caller must not modify them afterwards.
func Restore(cfg Config, snapshot []byte, records [][]byte) (*Replica, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	r := &Replica{
		cfg:          cfg,
		id:           causal.NodeIDFromName(cfg.Name),
		ks:           crdt.NewKeyspace(),
		nowMs:        cfg.NowMs,
		rng:          rng{state: cfg.Seed},
		peers:        map[causal.NodeID]*peer{},
		outbox:       map[causal.NodeID][]txnEntry{},
		ackDue:       map[causal.NodeID]bool{},
		fetchSentAt:  map[causal.NodeID]uint64{},
		syncFailures: map[causal.NodeID]int{},
		syncStalls:   map[causal.NodeID]int{},
		state:        NodeMember,
	}
	r.bootstrap = cfg.Members
	if len(cfg.Members) == 0 {
		r.state = NodeJoining
	}
	if snapshot != nil {
		if _, err := splitAuditHeads(snapshot, r); err != nil {
			return nil, err
		}
		boot, ks, err := decodeSnapshot(snapshot)
		if err != nil {
			return nil, err
		}
		r.bootstrap, r.ks = boot, ks
		r.state = NodeMember
	}
	// Replay: timestamps in records may be far ahead of NowMs (a clock
	// stepped back since); they were accepted once, so accept them again.
	// Replayed transactions refill the retained log, so a restarted node
	// can still catch up peers that lag; a join record resets it.
	r.clock.MaxAheadMs = ^uint64(0)
	r.floor = r.ks.Context().Vector.Clone()
	for i, rec := range records {
		if err := r.replay(rec); err != nil {
			return nil, fmt.Errorf("%w: record %d: %w", ErrBadRecord, i, err)
		}
	}
	r.stage = repairStage{} // chunks without their commit: the repair never happened
	r.clock.MaxAheadMs = cfg.MaxClockAheadMs
	r.refreshMembers(false)
	r.ready = Ready{}
	r.noteRestartTail()
	if r.state == NodeJoining && snapshot != nil {
		// Crashed after installing a snapshot, before the membership
		// record was logged: propose it now.
		r.state = NodeMember
	}
	if r.state == NodeMember && !r.inBootstrap(r.id) && r.memberRecord(r.id) == nil {
		if _, err := r.proposeSelf(); err != nil {
			return nil, err
		}
	}
	if err := r.announceRegion(); err != nil {
		return nil, err
	}
	r.recomputeCut()
	return r, nil
}

// replay applies one persisted record.
func (r *Replica) replay(rec []byte) error {
	if len(rec) == 0 {
		return errors.New("empty record")
	}
	if rec[0] != recordRepairChunk && rec[0] != recordRepairCommit {
		r.stage = repairStage{} // a torn repair's chunks, then other records
	}
	switch rec[0] {
	case recordTxn, recordSignedTxn, recordLinkedTxn:
		txn, err := decodeTxnRecord(rec)
		if err != nil {
			return err
		}
		if err := r.ks.Apply(txn); err != nil {
			return err
		}
		_ = r.clock.Observe(txn.Time, r.nowMs)
		r.noteAudited(txn, rec)
		r.retain(txn.Dot, rec)
		r.trimLog()
	case recordRepairChunk:
		return r.stage.stageChunk(rec[1:])
	case recordRepairCommit:
		body, err := r.stage.commit(rec[1:])
		if err != nil || body == nil {
			return err
		}
		return r.replayJoin(body)
	case recordJoin:
		return r.replayJoin(rec[1:])
	case recordCheckpoint:
		// This member's signed tree head: replaying the checkpointer's
		// transactions recomputes it (checkpoint.go).
	case recordJoinHeads:
		// For verify: the join snapshot holds the same heads (audit.go).
	case recordHeadSeal:
		return r.replayHeadSeal(rec)
	case recordWitness:
		// For verify: a refused transaction's signature (batchseal.go).
	default:
		return fmt.Errorf("unknown record kind %d", rec[0])
	}
	return nil
}

// replayJoin applies a join body (a join record's, or a committed
// repair's).
func (r *Replica) replayJoin(body []byte) error {
	jr, err := decodeJoinRecord(body)
	if err != nil {
		return err
	}
	if err := r.joinKeys(jr.joinCtx, jr.keys, 0, false); err != nil {
		return err
	}
	if jr.ctx != nil {
		r.ks.MergeContext(jr.ctx)
	}
	r.resetLog()
	return nil
}

// ID is this node's ID.
func (r *Replica) ID() causal.NodeID { return r.id }

// Propose runs fn on a transaction builder and, if fn succeeds and the
// transaction changes something, commits it: the next dot of this node,
// the HLC time from the physical time last passed to Tick, applied at once,
// logged and queued to peers. An empty transaction returns the zero Token.
// If fn fails, nothing changes and its error is returned. ErrReadOnly if
// this node is not a member (a *RemovedError, matching ErrRemoved too, if
// an operator removed it); ErrInternalKey if fn wrote an internal key.
func (r *Replica) Propose(fn func(b *crdt.Builder) error) (Token, error) {
	if r.state != NodeMember {
		return Token{}, r.notWritable()
	}
	if err := r.checkOwnDots(); err != nil {
		return Token{}, err
	}
	return r.propose(fn, false)
}

// checkOwnDots refuses writes while a peer reports having applied more of
// this node's transactions than this node has: records lost in a crash
// (unsynced under fsync policy batch or none) after the transactions had
// been sent. A new write would reuse their dots for different content;
// until anti-entropy brings them back, the node is read-only.
func (r *Replica) checkOwnDots() error {
	own := r.ks.Context().Vector.Get(r.id)
	for _, id := range r.order {
		if c := r.peers[id].applied.Get(r.id); c > own {
			return fmt.Errorf("%w: recovering: %s has applied %s:%d, this node only up to %d",
				ErrReadOnly, r.peers[id].Name, r.id, c, own)
		}
	}
	return nil
}

func (r *Replica) propose(fn func(b *crdt.Builder) error, internal bool) (Token, error) {
	dot := causal.Dot{Node: r.id, Counter: r.ks.Context().Vector.Get(r.id) + 1}
	b := r.ks.Begin(dot, r.clock.Now(r.nowMs))
	if err := fn(b); err != nil {
		return Token{}, err
	}
	if b.Empty() {
		return Token{}, nil
	}
	txn := b.Finish()
	r.sealLocal(txn)
	if !internal {
		var bad []byte
		txn.Keys(func(k []byte) bool {
			if IsInternalKey(k) {
				bad = k
				return false
			}
			return true
		})
		if bad != nil {
			return Token{}, fmt.Errorf("%w: %q", ErrInternalKey, bad)
		}
	}
	if err := r.checkRights(txn); err != nil {
		return Token{}, err
	}
	if err := r.checkUserRights(txn); err != nil { // userrights.go
		return Token{}, err
	}
	// Measure before anything changes: a transaction whose record could
	// not be logged or shipped is refused whole (issue 11, defect 1).
	rec := r.txnRecord(txn)
	if len(rec)-1 > limits.MaxTxnBytes {
		return Token{}, fmt.Errorf("%w: %d bytes", ErrTxnTooLarge, len(rec)-1)
	}
	if err := r.ks.Apply(txn); err != nil {
		// Begin made the transaction on this very state: it is ready.
		panic(fmt.Sprintf("replica: applying a local transaction: %v", err))
	}
	r.applied(txnEntry{txn: txn, record: rec})
	r.noteTail(txn, rec)
	if r.cfg.Audit.enabled() && len(r.pending) > 0 && txn.ChangesBCounter() {
		r.drainPending() // a gift of ours may cover a held transaction (bcounter.go)
	}
	r.afterApply()
	return dot, nil
}

// applied does the bookkeeping for a transaction just applied: record,
// retained log, changes, push, session check.
func (r *Replica) applied(e txnEntry) {
	txn := e.txn
	r.ready.Records = append(r.ready.Records, e.record)
	r.retain(txn.Dot, e.record)
	if txn.Seal != nil {
		r.noteAudited(txn, e.record)
	}
	txn.Keys(func(k []byte) bool {
		if IsInternalKey(k) {
			r.membersDirty = true
			if bytes.HasPrefix(k, []byte(PolicyPrefix)) {
				r.pol.loaded = false
			}
			return true
		}
		ch := Change{Key: k, Origin: txn.Dot.Node, Type: crdt.TypeNone, Deleted: true}
		if v := r.ks.Get(k); v != nil {
			ch.Type, ch.Deleted = v.Type(), false
		} else {
			ch.Expired = r.ks.LastApplyExpired(k)
		}
		r.ready.Changes = append(r.ready.Changes, ch)
		return true
	})
	if txn.Dot.Node == r.id {
		r.push(e)
	}
	r.overlayApplied(e)
	if s := r.sync; s != nil && s.pinned != nil && s.pinned.Contains(txn.Dot) {
		// A dot the peer had when the session began arrived only now: a
		// key compared equal before it may now differ, so merging the
		// pinned context would claim an effect we lack.
		r.abortSync("applied a transaction the peer already had")
	}
	r.selfDirty = true
}

// retain appends a record to the retained log.
func (r *Replica) retain(dot causal.Dot, record []byte) {
	r.log = append(r.log, logEntry{dot: dot, record: record})
	r.logBytes += logEntryBytes(record)
}

// afterApply runs once after a batch of applications.
func (r *Replica) afterApply() {
	if r.membersDirty {
		r.refreshMembers(true)
		r.ov.stale = true
	}
	r.trimLog()
}

// push queues a local transaction to every member believed reachable,
// or, with the overlay on, to this node's children in its tree
// (overlay.go).
func (r *Replica) push(e txnEntry) {
	if r.overlayOn() {
		r.relay(e, r.id)
		return
	}
	for _, id := range r.order {
		p := r.peers[id]
		if p.status != StateAlive || p.live == StateUnreachable {
			continue
		}
		r.outbox[id] = append(r.outbox[id], e)
	}
}

// Step processes one message from node from. A message that is malformed
// or invalid returns an error wrapping ErrBadMessage and changes nothing.
func (r *Replica) Step(from causal.NodeID, m Message) error {
	if err := r.validate(from, &m); err != nil {
		return err
	}
	_, known := r.peers[from]
	r.heard(from, &m.Applied)
	if !known {
		// The message may make its sender a member (its membership
		// record): then what it has applied counts at once.
		defer func() {
			if _, ok := r.peers[from]; ok {
				r.heard(from, &m.Applied)
			}
		}()
	}
	switch m.Type {
	case MsgTxns:
		r.stepTxns(from, m.Txns)
		r.ackDue[from] = true
	case MsgAck:
	case MsgCut:
		r.stepCut(from, &m)
	case MsgPing, MsgPingAck, MsgPingReq:
		r.stepProbe(from, &m)
	case MsgDigest:
		r.stepDigest(from, &m)
	case MsgFetch:
		r.stepFetch(from, &m)
	case MsgTooFar:
		if r.sync == nil {
			r.startSync(from, "too far behind the retained log")
		}
	case MsgSnapshotReq:
		r.stepSnapshotReq(from, &m)
	case MsgSnapshot:
		return r.stepSnapshot(from, &m)
	case MsgSyncReq:
		r.stepSyncReq(from, &m)
	case MsgSyncResp:
		r.stepSyncResp(from, &m)
	case MsgSyncKeysReq:
		r.stepSyncKeysReq(from, &m)
	case MsgSyncKeys:
		r.stepSyncKeys(from, &m)
	}
	return nil
}

// validate checks what the codec cannot: semantic rules of a message.
func (r *Replica) validate(from causal.NodeID, m *Message) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s from %s: %s", ErrBadMessage, m.Type, from, fmt.Sprintf(format, args...))
	}
	if from == 0 || from == r.id {
		return bad("invalid sender")
	}
	if m.Type == 0 || m.Type > maxMessageType {
		return bad("unknown type")
	}
	for i, t := range m.Txns {
		if t == nil || t.Dot.Node == 0 || t.Dot.Counter == 0 {
			return bad("transaction %d has no dot", i)
		}
		if t.Deps.Contains(t.Dot) {
			return bad("transaction %s depends on itself", t.Dot)
		}
	}
	for _, n := range m.Nodes {
		if m.Type == MsgSyncReq && (n.Depth > syncMaxDepth || n.Prefix&^prefixMask(n.Depth) != 0) {
			return bad("tree node depth %d prefix %#x", n.Depth, n.Prefix)
		}
		// An answer's node is named by its position in the request; the
		// session checks its shape against that node's depth.
		if len(n.Hashes) != 0 && len(n.Hashes) != syncFanout && len(n.Hashes) != syncFanout-1 {
			return bad("tree node with %d hashes", len(n.Hashes))
		}
	}
	if m.Type == MsgSyncKeys {
		if m.Context == nil {
			return bad("no context")
		}
		for _, kv := range m.Keys {
			if kv.Total > 0 {
				// A fragment: checked once assembled (stepSyncKeys).
				if kv.Total > maxValueEncodingBytes || kv.Offset+uint64(len(kv.Value)) > kv.Total || len(kv.Value) == 0 {
					return bad("key %q: fragment %d+%d of %d", kv.Key, kv.Offset, len(kv.Value), kv.Total)
				}
				continue
			}
			if kv.Value == nil {
				continue
			}
			if _, err := decodeValue(kv.Value); err != nil {
				return bad("key %q: %v", kv.Key, err)
			}
		}
	}
	if m.Type == MsgSnapshot && (m.Total > uint64(r.cfg.MaxSnapshotBytes) || len(m.Chunk) == 0 || m.Hash == 0 ||
		m.Offset+uint64(len(m.Chunk)) > m.Total || m.Offset+uint64(len(m.Chunk)) < m.Offset) {
		return bad("chunk %d+%d of %d (limit %d)", m.Offset, len(m.Chunk), m.Total, r.cfg.MaxSnapshotBytes)
	}
	return nil
}

// heard notes a message from a node: it is alive, and it has applied
// at least applied.
func (r *Replica) heard(from causal.NodeID, applied *causal.VersionVector) {
	p := r.peers[from]
	if p == nil {
		return
	}
	p.heardTick = r.tick
	if p.status == StateAlive && p.live != StateAlive {
		p.live = StateAlive
		r.event(EventPeerAlive, from, causal.Dot{}, "")
	}
	if !p.applied.Dominates(applied) {
		if p.status == StateAlive {
			r.noteRise(&p.applied, applied)
		}
		p.applied.Merge(applied)
		if p.behindLog && p.applied.Dominates(&r.floor) {
			p.behindLog = false
		}
	}
}

// stepTxns handles a batch of remote transactions in order.
func (r *Replica) stepTxns(from causal.NodeID, txns []*crdt.Txn) {
	var drop dropCount
	for _, txn := range txns {
		ctx := r.ks.Context()
		if ctx.Contains(txn.Dot) {
			continue // duplicate
		}
		e := txnEntry{txn: txn, record: r.txnRecord(txn)}
		if len(e.record) > limits.MaxRecordBytes {
			// Only a peer that ignores the limits makes one: its record
			// could not be logged. Refused like a bad message.
			r.event(EventMessageRefused, from, txn.Dot,
				fmt.Sprintf("transaction record of %d bytes > %d", len(e.record), limits.MaxRecordBytes))
			continue
		}
		if !r.cfg.Audit.enabled() {
			r.stepTxn(from, e, &drop)
			continue
		}
		// Authenticated before anything (the clock included) observes
		// it: a refused or held transaction changes nothing (audit.go,
		// batchseal.go).
		run, err := r.authenticate(from, e)
		if err != nil {
			r.refuseAudit(from, txn.Dot, err)
			continue
		}
		for _, e := range run {
			if r.ks.Context().Contains(e.txn.Dot) {
				continue
			}
			if err := r.checkLink(e.txn); err != nil {
				r.refuseAudit(from, e.txn.Dot, err)
				continue
			}
			// Rights are checked against the causal past, so only once
			// it is applied: now, or when the buffer drains.
			if r.ks.Ready(e.txn) {
				if err := r.checkRights(e.txn); err != nil {
					r.refuseRights(from, e.txn.Dot, err)
					r.witnessRefused(e)
					continue
				}
				if r.holdOverdrawn(from, e, &drop) { // bcounter.go
					continue
				}
			}
			r.stepTxn(from, e, &drop)
		}
	}
	if drop.n > 0 {
		r.event(EventBufferFull, from, drop.first,
			fmt.Sprintf("causal buffer full (%d txns, %d bytes): dropped %d out-of-order txns",
				len(r.pending), r.pendingBytes, drop.n))
	}
	// Batches are in causal order, so one pass over the buffer at the end
	// suffices: what the batch made ready is applied now.
	r.drainPending()
	r.purgeHeld()
	r.afterApply()
}

// dropCount counts the transactions a batch could not buffer.
type dropCount struct {
	n     int
	first causal.Dot
}

// stepTxn applies one remote transaction that passed the checks, or
// buffers it until its causal past is applied.
func (r *Replica) stepTxn(from causal.NodeID, e txnEntry, drop *dropCount) {
	txn := e.txn
	if err := r.clock.Observe(txn.Time, r.nowMs); err != nil {
		r.event(EventClockRefused, txn.Dot.Node, txn.Dot, err.Error())
		return
	}
	err := r.ks.Apply(txn)
	switch {
	case err == nil:
		r.applied(e)
	case errors.Is(err, crdt.ErrNotReady):
		if r.buffer(e, drop) {
			r.deferFetch(from, &txn.Deps.Vector, uint64(r.cfg.DigestTicks))
		}
	default:
		// The transaction decoded but the keyspace refuses it: treat
		// it like a refused message for this one transaction.
		r.event(EventMessageRefused, from, txn.Dot, err.Error())
	}
}

// buffer puts a remote transaction in the causal buffer, unless it is
// there already (false) or the buffer is full (false, counted in drop).
func (r *Replica) buffer(e txnEntry, drop *dropCount) bool {
	txn := e.txn
	if r.isPending(txn.Dot) {
		return false
	}
	if len(r.pending) >= r.cfg.MaxPendingTxns || r.pendingBytes+len(e.record) > r.cfg.MaxPendingBytes {
		if drop.n == 0 {
			drop.first = txn.Dot
		}
		drop.n++
		return false
	}
	// Buffer a copy decoded from its record: the transaction as decoded
	// from the message points into the whole payload, which
	// MaxPendingBytes does not count.
	own, derr := decodeTxnRecord(e.record)
	if derr != nil {
		panic(fmt.Sprintf("replica: a transaction's own record does not decode: %v", derr))
	}
	r.pending = append(r.pending, txnEntry{txn: own, record: e.record})
	r.pendingBytes += len(e.record)
	return true
}

func (r *Replica) isPending(d causal.Dot) bool {
	for _, e := range r.pending {
		if e.txn.Dot == d {
			return true
		}
	}
	return false
}

// drainPending applies every buffered transaction that became ready, until
// none is left that is.
func (r *Replica) drainPending() {
	for progress := true; progress && len(r.pending) > 0; {
		progress = false
		kept := r.pending[:0]
		for _, e := range r.pending {
			if r.ks.Context().Contains(e.txn.Dot) {
				r.pendingBytes -= len(e.record)
				continue
			}
			if r.cfg.Audit.enabled() {
				if err := r.checkLink(e.txn); err != nil {
					r.pendingBytes -= len(e.record)
					r.refuseAudit(e.txn.Dot.Node, e.txn.Dot, err)
					continue
				}
				if r.ks.Ready(e.txn) {
					if err := r.checkRights(e.txn); err != nil {
						r.pendingBytes -= len(e.record)
						r.refuseRights(e.txn.Dot.Node, e.txn.Dot, err)
						r.witnessRefused(e)
						continue
					}
					if _, _, _, over := e.txn.BCounterOverdrawn(r.ks); over {
						kept = append(kept, e) // until gifts cover it (bcounter.go)
						continue
					}
				}
			}
			if err := r.ks.Apply(e.txn); err == nil {
				r.pendingBytes -= len(e.record)
				r.applied(e)
				progress = true
				continue
			}
			kept = append(kept, e)
		}
		clear(r.pending[len(kept):])
		r.pending = kept
	}
}

// trimLog drops retained transactions below the collapsed cut and enforces
// MaxRetainedTxns and MaxRetainedBytes, oldest first.
func (r *Replica) trimLog() {
	cut := r.collapsedCut()
	i := 0
	for i < len(r.log) {
		e := r.log[i]
		over := len(r.log)-i > r.cfg.MaxRetainedTxns || r.logBytes > r.cfg.MaxRetainedBytes
		if !over && !cut.Contains(e.dot) {
			break
		}
		if !cut.Contains(e.dot) {
			r.noteBehindLog(e.dot)
		}
		if e.dot.Counter > r.floor.Get(e.dot.Node) {
			r.floor.Set(e.dot.Node, e.dot.Counter)
		}
		r.logBytes -= logEntryBytes(e.record)
		i++
	}
	if i > 0 {
		clear(r.log[:i])
		r.log = r.log[i:]
	}
}

// noteBehindLog marks every current member that lacks dot, which the
// retained log is dropping, as behind the log.
func (r *Replica) noteBehindLog(dot causal.Dot) {
	for _, id := range r.order {
		p := r.peers[id]
		if p.status != StateAlive || p.behindLog || p.applied.Contains(dot) {
			continue
		}
		p.behindLog = true
		r.event(EventPeerBehindLog, id, dot, fmt.Sprintf(
			"the retained log (%d txns, %d bytes) dropped a transaction it lacks: repair by reconciliation",
			len(r.log), r.logBytes))
	}
}

// resetLog forgets the retained log after a state join (snapshot or
// reconciliation), which adds dots without transactions.
func (r *Replica) resetLog() {
	r.log, r.logBytes = nil, 0
	r.floor = r.ks.Context().Vector.Clone()
}

// Tick advances logical time by one tick; nowMs is the physical time in
// milliseconds (possibly skewed or simulated) used by the HLC.
func (r *Replica) Tick(nowMs uint64) {
	r.tick++
	r.nowMs = nowMs
	r.expirePins()
	switch r.state {
	case NodeJoining:
		r.tickJoin()
		return
	case NodeRemoved:
		return
	}
	r.tickProbe()
	r.tickRepairTransfer()
	if r.tick%uint64(r.cfg.DigestTicks) == 0 {
		r.sendDigest()
		r.tickOverlay()
	}
	r.tickFetch()
	r.tickCheckpoint()
	r.tickSeal()
	r.tickBCounters()
	if s := r.sync; s != nil && r.tick-max(s.startTick, s.answerTick) >= uint64(r.cfg.SyncTimeoutTicks) {
		r.abortSync("timed out")
	}
	r.settleCut()
}

// selfTerm is this node's term of the cut: its applied vector, lowered
// to the durable one once a driver reports it (a transaction applied
// here but not yet durable is not on this member "for good": a crash
// could take it back).
func (r *Replica) selfTerm() causal.VersionVector {
	self := r.ks.Context().Vector.Clone()
	if r.durableSet {
		self.Meet(&r.durable)
	}
	return self
}

// settleCut brings the collapsed cut up to date: it notes how this
// node's own term rose, and recomputes the cut if some term that held it
// down rose (noteRise).
func (r *Replica) settleCut() {
	if r.selfDirty && !r.cutDirty {
		self := r.selfTerm()
		r.noteRise(&r.cutSelf, &self)
		r.cutSelf = self
	}
	r.selfDirty = false
	if r.cutDirty {
		r.recomputeCut()
	}
	if invariants.Enabled {
		r.checkCut()
	}
}

// noteRise notes that a term of the cut rose from old to v (before old
// is updated): for each origin whose counter rose from the cut's own
// value, one fewer term holds the cut there, and once none does, or for
// an origin the counts do not know, the cut is dirty. This is what makes
// the cut incremental: a message that raises a term already above the
// cut costs O(entries of v), not a recomputation over every member.
func (r *Replica) noteRise(old, v *causal.VersionVector) {
	if r.cutDirty {
		return
	}
	for _, e := range v.Entries() {
		was := old.Get(e.Node)
		if e.Counter <= was || was != r.cut.Get(e.Node) {
			continue
		}
		h, ok := r.cutHolders[e.Node]
		if !ok || h <= 1 {
			r.cutDirty = true
			return
		}
		r.cutHolders[e.Node] = h - 1
	}
}

// recomputeCut recomputes the collapsed cut and its holder counts, and
// trims the retained log below it. (The keyspace keeps its causal
// metadata: crdt's values carry no per-dot history that the cut would
// let it drop.)
func (r *Replica) recomputeCut() {
	r.cutDirty, r.selfDirty = false, false
	r.cutSelf = r.selfTerm()
	// Computed in a scratch vector that swaps with the cut when they
	// differ: no allocation for the cut. The cut is never handed out
	// (CollapsedVector returns a copy), so reusing its storage is safe.
	cut := &r.cutScratch
	cut.CopyFrom(&r.cutSelf)
	terms := 1
	for _, id := range r.order {
		if p := r.peers[id]; p.status == StateAlive {
			cut.Meet(&p.applied)
			terms++
		}
	}
	// Count the holders: per origin in the cut, the terms at its value;
	// per origin some term has but the cut lacks, the terms lacking it.
	if r.cutHolders == nil {
		r.cutHolders = map[causal.NodeID]int{}
	}
	clear(r.cutHolders)
	count := func(term *causal.VersionVector) {
		for _, e := range cut.Entries() {
			if term.Get(e.Node) == e.Counter {
				r.cutHolders[e.Node]++
			}
		}
		for _, e := range term.Entries() {
			if cut.Get(e.Node) == 0 {
				r.cutHolders[e.Node]-- // counted negative: one more term has it
			}
		}
	}
	count(&r.cutSelf)
	for _, id := range r.order {
		if p := r.peers[id]; p.status == StateAlive {
			count(&p.applied)
		}
	}
	for o, h := range r.cutHolders {
		if h < 0 {
			// -h terms have o; the others lack it, at the cut's zero.
			r.cutHolders[o] = terms + h
		}
	}
	if cut.Equal(&r.cut) {
		return
	}
	r.cut, r.cutScratch = r.cutScratch, r.cut
	r.ov.effDirty = true
	r.trimLog()
}

func (r *Replica) event(t EventType, node causal.NodeID, dot causal.Dot, reason string) {
	r.ready.Events = append(r.ready.Events, Event{Type: t, Tick: r.tick, Node: node, Dot: dot, Reason: reason})
}

// send queues a message with the current applied vector.
func (r *Replica) send(to causal.NodeID, m Message) {
	// Messages sent while the applied vector stays the same share one
	// copy of it: nothing modifies a message's Applied once made (the
	// codec and the receiving replica only read it), and sentApplied is
	// replaced, never changed in place.
	if v := &r.ks.Context().Vector; !r.sentApplied.Equal(v) {
		r.sentApplied = v.Clone()
	}
	m.Applied = r.sentApplied
	r.ready.Messages = append(r.ready.Messages, Envelope{To: to, Message: m})
	delete(r.ackDue, to)
}

// sameTxns reports whether txns holds exactly the transactions of q.
func sameTxns(txns []*crdt.Txn, q []txnEntry) bool {
	if len(txns) != len(q) {
		return false
	}
	for i := range q {
		if txns[i] != q[i].txn {
			return false
		}
	}
	return true
}

// HasReady reports whether Ready would return anything.
func (r *Replica) HasReady() bool {
	rd := &r.ready
	return rd.Snapshot != nil || len(rd.Records) > 0 || len(rd.Messages) > 0 ||
		len(rd.Changes) > 0 || len(rd.Events) > 0 || len(r.outbox) > 0 || len(r.ackDue) > 0 ||
		len(r.ov.dirty) > 0 || len(r.ov.up) > 0 || len(r.ov.down) > 0
}

// Ready returns the output accumulated since the last Advance. See Ready
// for the order in which the driver must handle it. Calling Ready twice
// without Advance in between panics.
func (r *Replica) Ready() Ready {
	if r.outstanding {
		panic("replica: Ready called again before Advance")
	}
	r.handTail()
	// Flush the outboxes in peer order, batching under MaxBatchBytes.
	// Peers usually get the same batches: a batch equal to the previous
	// one made shares its slice (nothing modifies a message's Txns).
	var prev []*crdt.Txn
	for _, id := range r.order {
		q := r.outbox[id]
		for len(q) > 0 {
			n, size := 0, 0
			for n < len(q) && (n == 0 || size+len(q[n].record) <= r.cfg.MaxBatchBytes) {
				size += len(q[n].record)
				n++
			}
			txns := prev
			if !sameTxns(prev, q[:n]) {
				txns = make([]*crdt.Txn, n)
				for i := range txns {
					txns[i] = q[i].txn
				}
				prev = txns
			}
			r.send(id, Message{Type: MsgTxns, Txns: txns})
			env := &r.ready.Messages[len(r.ready.Messages)-1]
			env.Bytes, env.Push = size, true
			q = q[n:]
		}
	}
	clear(r.outbox)
	r.flushOverlay()
	for _, id := range r.order {
		if r.ackDue[id] {
			r.send(id, Message{Type: MsgAck})
		}
	}
	// Acks owed to non-members (a joining node fetching): answer too.
	if len(r.ackDue) > 0 {
		ids := make([]causal.NodeID, 0, len(r.ackDue))
		for id := range r.ackDue {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r.send(id, Message{Type: MsgAck})
		}
	}
	rd := r.ready
	r.ready = Ready{}
	r.outstanding = true
	r.checkReady(&rd)
	return rd
}

// Advance tells the replica the last Ready has been handled.
func (r *Replica) Advance() {
	r.outstanding = false
}

// Keyspace returns the state for reading. The driver must not modify it
// and must not call other methods while using it.
func (r *Replica) Keyspace() *crdt.Keyspace { return r.ks }

// Applied returns the applied version vector (a copy).
func (r *Replica) Applied() causal.VersionVector { return r.ks.Context().Vector.Clone() }

// AppliedInto copies the applied version vector into dst, reusing dst's
// storage (Applied without an allocation per call).
func (r *Replica) AppliedInto(dst *causal.VersionVector) { dst.CopyFrom(&r.ks.Context().Vector) }

// CollapsedVector returns the collapsed cut: the meet of every current
// member's applied vector (a copy). It is recomputed at every Tick.
func (r *Replica) CollapsedVector() causal.VersionVector {
	r.settleCut()
	return r.collapsedCut().Clone()
}

// Collapsed reports whether t is applied by every current member.
func (r *Replica) Collapsed(t Token) bool {
	r.settleCut()
	return !t.IsZero() && r.collapsedCut().Contains(t)
}

// AppliedBy returns how many current members (this node included, if it
// is one) are known to have applied t.
func (r *Replica) AppliedBy(t Token) int {
	if t.IsZero() {
		return 0
	}
	if r.overlayOn() && r.Collapsed(t) {
		// The overlay's claims: every member has it, though this node
		// has not heard from most of them.
		return len(r.ov.list)
	}
	n := 0
	if r.state == NodeMember && r.ks.Context().Contains(t) {
		n++
	}
	for _, id := range r.order {
		if p := r.peers[id]; p.status == StateAlive && p.applied.Contains(t) {
			n++
		}
	}
	return n
}

// Members returns every known member, this node included, sorted by ID.
func (r *Replica) Members() []Member {
	out := make([]Member, 0, len(r.order)+1)
	self := Member{ID: r.id, Name: r.cfg.Name, Addr: r.cfg.Addr, Region: r.cfg.Region, Self: true,
		State: StateAlive, Applied: r.Applied()}
	switch r.state {
	case NodeLeft:
		self.State = StateLeft
	case NodeRemoved:
		self.State = StateRemoved
	}
	for _, id := range r.order {
		p := r.peers[id]
		out = append(out, Member{ID: id, Name: p.Name, Addr: p.Addr, Region: p.region, State: p.state(),
			Applied: p.applied.Clone(), BehindLog: p.behindLog})
	}
	i, _ := slices.BinarySearchFunc(out, r.id, func(m Member, id causal.NodeID) int {
		return cmpID(m.ID, id)
	})
	return slices.Insert(out, i, self)
}

// CurrentMembers appends to dst the IDs of the current members (alive,
// suspect or unreachable; this node included if it is one), ascending:
// what Members reports as Current, without copying anyone's applied
// vector, so it costs O(members) however large the vectors grow.
func (r *Replica) CurrentMembers(dst []causal.NodeID) []causal.NodeID {
	self := r.state != NodeLeft && r.state != NodeRemoved
	for _, id := range r.order {
		if self && r.id < id {
			dst, self = append(dst, r.id), false
		}
		if r.peers[id].state().Current() {
			dst = append(dst, id)
		}
	}
	if self {
		dst = append(dst, r.id)
	}
	return dst
}

func cmpID(a, b causal.NodeID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Status is a summary of the replica for operators.
type Status struct {
	ID        causal.NodeID
	Name      string
	Cluster   string
	State     NodeState
	Keys      int
	Hash      uint64
	Applied   causal.VersionVector
	Collapsed causal.VersionVector
	// Region is Config.Region; RegionCollapsed the region collapsed cut
	// (region.go): applied by every current member of this region.
	Region          string
	RegionCollapsed causal.VersionVector
	Pending         int // transactions in the causal buffer
	Retained        int // transactions in the retained log
	// RetainedBytes is the memory the retained log holds by its own
	// count (see logEntryBytes), bounded by Config.MaxRetainedBytes.
	RetainedBytes int
	Tick          uint64
	Repairing     bool // a reconciliation session is active
	Members       []Member
}

// Status returns a summary of the replica.
func (r *Replica) Status() Status {
	return Status{
		ID: r.id, Name: r.cfg.Name, Cluster: r.cfg.Cluster, State: r.state,
		Keys: r.ks.Len() - r.internalKeys(), Hash: r.ks.Hash(), Applied: r.Applied(), Collapsed: r.CollapsedVector(),
		Region: r.cfg.Region, RegionCollapsed: r.RegionCollapsedVector(),
		Pending: len(r.pending), Retained: len(r.log), RetainedBytes: r.logBytes, Tick: r.tick, Repairing: r.sync != nil,
		Members: r.Members(),
	}
}

// internalKeys counts the live internal keys (membership records).
func (r *Replica) internalKeys() int {
	n := 0
	prefix := []byte(InternalPrefix)
	r.ks.Range(prefix, func(key []byte, _ *crdt.Value) bool {
		if !bytes.HasPrefix(key, prefix) {
			return false
		}
		n++
		return true
	})
	return n
}
