package replica

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
)

// HistoryVerifier checks a member's audit history, record by record, as
// `spook audit verify` reads it from a data directory: every transaction
// signed by its origin's key, or linked (unsigned) and chained to a later
// signed transaction or head seal of its origin (Finish reports a run
// nothing signed), and continuing its origin's chain from counter 1; every checkpoint signed by the member, following the one
// before, with the size and root of the RFC 6962 tree over the leaves it
// covers (recomputed from the transactions), and consistent with the
// previous tree head (a tlog consistency proof, checked). It is pure: the
// caller reads the records.
//
// A repair record (state received by reconciliation, without its
// transactions) is not a failure, but after it an origin's chain may
// resume past a gap, and checkpoints can no longer be recomputed: they
// are then checked for their signatures and order only (Report says so).
type HistoryVerifier struct {
	Cluster string
	Keys    audit.Keys
	// Names maps node ids to names: checkpoint notes are signed under
	// the member's name.
	Names map[uint64]string
	// Self is the name of the member whose history this is.
	Self string
	// KeepProofs keeps what proofs need (Leaf, Checkpoints): the leaf
	// index of every transaction and every checkpoint's signed note.
	KeepProofs bool
	// KeepNotes keeps every checkpoint's signed note (AppendBase needs
	// them), without the leaf indexes KeepProofs keeps too.
	KeepNotes bool

	report  HistoryReport
	chains  audit.Chains
	runs    map[uint64]*unsignedRun // linked transactions not yet authenticated, by origin
	tree    audit.HashLog
	pending map[causal.Dot]audit.Hash
	last    audit.Checkpoint
	pubs    map[string]ed25519.PublicKey

	leafIndex map[causal.Dot]int64
	notes     []SignedCheckpoint
	base      historyBase // what LoadBase restored (retention.go)
}

// SignedCheckpoint is a checkpoint and its signed note as logged.
type SignedCheckpoint struct {
	audit.Checkpoint
	Note []byte
	// Record is the log index of the checkpoint's record (0 for one
	// restored from a base that did not record it).
	Record uint64
}

// HistoryReport sums up what a HistoryVerifier checked.
type HistoryReport struct {
	Records      int // records read
	Transactions int // transactions verified (signed, or chained to a signed one)
	Checkpoints  int // checkpoints verified
	Repairs      int // repair records (state without transactions)
	Joins        int // join records: the history starts from a snapshot's chain heads
	Resumed      int // transactions whose origin restarted its chain (audit.Resumed)
	// Unverified counts linked (unsigned) transactions whose run a repair
	// or join cut before a signature covered it: not a failure, as chains
	// resuming after a repair are not.
	Unverified int
	Size       int64  // leaves in the checkpoint log (recomputed)
	LastIndex  uint64 // index of the last checkpoint
	// Unrecomputed is the first checkpoint after a repair: from it on,
	// roots could not be recomputed (0: all were).
	Unrecomputed uint64
	// BaseRecord is the last record a retention base stood for (0: the
	// history was read from record 1). Records 1..BaseRecord were not
	// read: their chain heads, tree hashes and tree heads came from the
	// base (LoadBase), checked as it says.
	BaseRecord uint64
	// BaseCheckpoint is the last checkpoint the base held.
	BaseCheckpoint uint64
	// BaseTransactions is how many of Transactions the base counted.
	BaseTransactions int
	// LastRecord is the index of the last record read.
	LastRecord uint64
}

// HistoryError is the first failure of a history: the record's position
// (its log index), the transaction or checkpoint concerned, and why.
type HistoryError struct {
	Index      uint64
	Dot        causal.Dot // zero for a checkpoint
	Checkpoint uint64     // zero for a transaction
	Err        error
}

func (e *HistoryError) Error() string { return fmt.Sprintf("record %d%s", e.Index, e.Reason()) }

// Reason is the error without the position: what failed and why.
func (e *HistoryError) Reason() string {
	switch {
	case !e.Dot.IsZero():
		return fmt.Sprintf(" (transaction %s): %v", e.Dot, e.Err)
	case e.Checkpoint != 0:
		return fmt.Sprintf(" (checkpoint %d): %v", e.Checkpoint, e.Err)
	}
	return fmt.Sprintf(": %v", e.Err)
}

func (e *HistoryError) Unwrap() error { return e.Err }

// ErrHistory wraps the failures of a history that are not a signature,
// chain or checkpoint failure (an unreadable or unsigned record).
var ErrHistory = errors.New("replica: bad audit history")

// Report returns what was verified so far.
func (v *HistoryVerifier) Report() HistoryReport { return v.report }

// Record checks the record at log index index. The first error is the
// history's failure; later calls after an error are meaningless.
func (v *HistoryVerifier) Record(index uint64, rec []byte) error {
	v.report.Records++
	v.report.LastRecord = index
	if len(rec) == 0 {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: empty record", ErrHistory)}
	}
	switch rec[0] {
	case recordTxn:
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: %w (a record from before audit mode)", ErrHistory, audit.ErrUnsigned)}
	case recordSignedTxn, recordLinkedTxn:
		return v.txn(index, rec)
	case recordHeadSeal:
		return v.headSeal(index, rec)
	case recordWitness:
		return v.witness(index, rec)
	case recordJoin, recordRepairCommit:
		v.report.Repairs++
		v.pending = nil
		if v.report.Unrecomputed == 0 {
			v.report.Unrecomputed = v.last.Index + 1
		}
	case recordRepairChunk:
	case recordCheckpoint:
		return v.checkpoint(index, rec[1:])
	case recordJoinHeads:
		return v.joinHeads(index, rec[1:])
	default:
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: unknown record kind %d", ErrHistory, rec[0])}
	}
	return nil
}

func (v *HistoryVerifier) txn(index uint64, rec []byte) error {
	txn, err := decodeTxnRecord(rec)
	if err != nil {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: %v", ErrHistory, err)}
	}
	dot := txn.Dot
	o := uint64(dot.Node)
	fail := func(err error) error { return &HistoryError{Index: index, Dot: dot, Err: err} }
	body, seal, _ := txnBody(rec)
	linked := audit.Linked(seal)
	prev := audit.SealPrev(seal)
	var h audit.Hash
	if linked {
		h, err = v.Keys.LinkHash(v.Cluster, o, dot.Counter, seal, body)
	} else {
		h, err = v.Keys.VerifySeal(v.Cluster, o, dot.Counter, seal, body)
	}
	if err != nil {
		return fail(err)
	}
	head, known := v.chains.Head(o)
	run := v.runs[o]
	follows := known && head.Counter+1 == dot.Counter
	if run != nil && (!follows || audit.Resumed(dot.Counter, prev)) {
		// The run can no longer be signed: its chain stops here.
		if v.report.Repairs == 0 && v.report.Joins == 0 {
			return run.unverified()
		}
		v.report.Unverified += len(run.items)
		delete(v.runs, o)
		run = nil
	}
	switch {
	case follows:
		if audit.Resumed(dot.Counter, prev) {
			// The origin restarted its chain openly (it lost its own
			// predecessor's hash): counted, not a failure. A gap in the
			// counters is still one.
			v.report.Resumed++
		} else if run == nil {
			if err := v.chains.CheckLink(o, dot.Counter, prev); err != nil {
				return fail(err)
			}
		}
		// Inside a run, links are checked from the signed end (closeRun),
		// so that a changed record is named, not the one after it.
	case v.report.Repairs > 0 && (!known || dot.Counter > head.Counter):
		// After a repair the chain may resume past dots received as state.
	case !known && dot.Counter == 1:
	case v.report.Joins > 0 && (!known || dot.Counter > head.Counter+1):
		// The join snapshot held this origin's dots as state without a
		// head (they reached its sender by reconciliation): the chain
		// resumes here, as on the replica (audit.Chains.CheckLink).
	default:
		return fail(fmt.Errorf("%w: %s follows counter %d of its origin (a transaction is missing or repeated)",
			audit.ErrBrokenChain, dot, head.Counter))
	}
	v.chains.Advance(o, dot.Counter, h)
	if v.report.Unrecomputed == 0 && !v.last.Cut.Contains(dot) {
		if v.pending == nil {
			v.pending = map[causal.Dot]audit.Hash{}
		}
		v.pending[dot] = h
	}
	if linked {
		if run == nil {
			if v.runs == nil {
				v.runs = map[uint64]*unsignedRun{}
			}
			run = &unsignedRun{}
			v.runs[o] = run
		}
		run.items = append(run.items, runItem{index: index, dot: dot, hash: h, prev: prev})
		return nil
	}
	if run != nil {
		if err := v.closeRun(o, prev); err != nil {
			return err
		}
	}
	v.report.Transactions++
	return nil
}

// unsignedRun is an origin's linked transactions that no signed one has
// chained back to yet, in counter order.
type unsignedRun struct {
	items []runItem
}

// runItem is one linked transaction of a run: its record, dot, hash and
// the previous hash its link names.
type runItem struct {
	index uint64
	dot   causal.Dot
	hash  audit.Hash
	prev  audit.Hash
}

// unverified is the failure of a run nothing signed.
func (run *unsignedRun) unverified() error {
	first := run.items[0]
	return &HistoryError{Index: first.index, Dot: first.dot, Err: fmt.Errorf(
		"%w: %d unsigned transactions of its origin from here", audit.ErrUnverified, len(run.items))}
}

// closeRun authenticates origin's open run given top, the hash that the
// signed transaction after it names as its prev (or that a head seal
// signs): walking down, each linked record must hash to the prev of the
// one above it. The first that does not is the changed one.
func (v *HistoryVerifier) closeRun(origin uint64, top audit.Hash) error {
	run := v.runs[origin]
	want := top
	for i := len(run.items) - 1; i >= 0; i-- {
		it := run.items[i]
		if it.hash != want {
			return &HistoryError{Index: it.index, Dot: it.dot, Err: fmt.Errorf(
				"%w: the record hashes to %s, the signed chain names %s (a changed or substituted transaction)",
				audit.ErrBrokenChain, it.hash, want)}
		}
		want = it.prev
	}
	v.report.Transactions += len(run.items)
	delete(v.runs, origin)
	return nil
}

// headSeal checks a kind-12 record: the origin's signature of its chain
// head at counter, logged after a restart; it authenticates the head and
// the run it ends.
func (v *HistoryVerifier) headSeal(index uint64, rec []byte) error {
	origin, counter, sig, err := decodeHeadSeal(rec)
	if err != nil {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: %v", ErrHistory, err)}
	}
	dot := causal.Dot{Node: causal.NodeID(origin), Counter: counter}
	head, ok := v.chains.Head(origin)
	_, open := v.runs[origin]
	if !ok || head.Counter != counter || !open {
		return &HistoryError{Index: index, Dot: dot, Err: fmt.Errorf("%w: a head seal for no unsigned chain head (head %d)",
			audit.ErrBrokenChain, head.Counter)}
	}
	if pub := v.Keys[origin]; len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, head.Hash[:], sig) {
		return &HistoryError{Index: index, Dot: dot, Err: fmt.Errorf("%w: head seal of %s", audit.ErrBadSignature, dot)}
	}
	return v.closeRun(origin, head.Hash)
}

// witness checks a kind-13 record: the signature of a transaction this
// member refused (write rights) after applying the linked run before it.
// If it continues an open run (its prev is the origin's head), its
// signature must verify, and it authenticates the run; otherwise it
// proves nothing and is skipped.
func (v *HistoryVerifier) witness(index uint64, rec []byte) error {
	dot, bodyHash, seal, err := decodeWitness(rec)
	if err != nil {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: %v", ErrHistory, err)}
	}
	origin := uint64(dot.Node)
	head, ok := v.chains.Head(origin)
	_, open := v.runs[origin]
	prev := audit.SealPrev(seal)
	if !ok || !open || head.Counter+1 != dot.Counter {
		return nil
	}
	h := audit.TxnHashOf(v.Cluster, origin, dot.Counter, prev, bodyHash)
	if pub := v.Keys[origin]; len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, h[:], seal[audit.HashBytes:]) {
		return &HistoryError{Index: index, Dot: dot, Err: fmt.Errorf("%w: witness of %s", audit.ErrBadSignature, dot)}
	}
	return v.closeRun(origin, prev)
}

// Finish checks what only the end of the history tells: every linked
// transaction was authenticated by a signed one of its origin after it.
// It returns the first record of an unsigned run left at the end.
func (v *HistoryVerifier) Finish() error {
	var first *unsignedRun
	for _, run := range v.runs {
		if first == nil || run.items[0].index < first.items[0].index {
			first = run
		}
	}
	if first == nil {
		return nil
	}
	return first.unverified()
}

// joinHeads starts the chains (and the checkpoint order) from the heads
// a join snapshot carried: the member's history begins there. Roots of
// later checkpoints cannot be recomputed (the tree before the join is not
// in this log): they are checked for signatures and order only.
func (v *HistoryVerifier) joinHeads(index uint64, body []byte) error {
	if v.report.Records != 1 {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: a join record after the history began", ErrHistory)}
	}
	var tmp Replica
	rest, err := splitAuditHeads(body, &tmp)
	if err == nil && (len(body) == 0 || body[0] != snapshotAudited || len(rest) != 0) {
		err = errors.New("malformed join heads")
	}
	if err != nil {
		return &HistoryError{Index: index, Err: fmt.Errorf("%w: %v", ErrHistory, err)}
	}
	for _, o := range tmp.chains.Origins() {
		h, _ := tmp.chains.Head(o)
		v.chains.Advance(o, h.Counter, h.Hash)
	}
	cp := tmp.checkpoints
	v.last = audit.Checkpoint{Cluster: v.Cluster, Index: cp.index, N: cp.tree.N, Cut: cp.cut}
	v.pending = nil
	v.report.Unrecomputed = cp.index + 1
	v.report.LastIndex = cp.index
	v.report.Joins++
	return nil
}

func (v *HistoryVerifier) checkpoint(index uint64, signed []byte) error {
	if v.pubs == nil {
		v.pubs = map[string]ed25519.PublicKey{}
		for id, name := range v.Names {
			if k, ok := v.Keys[id]; ok {
				v.pubs[name] = k
			}
		}
	}
	c, signers, err := audit.OpenCheckpoint(signed, v.pubs)
	fail := func(err error) error { return &HistoryError{Index: index, Checkpoint: c.Index, Err: err} }
	if err != nil {
		return &HistoryError{Index: index, Err: err}
	}
	if !slices.Contains(signers, v.Self) {
		return fail(fmt.Errorf("%w: signed by %v, not by %s", audit.ErrCheckpoint, signers, v.Self))
	}
	if c.Cluster != v.Cluster || c.Index != v.last.Index+1 || !c.Cut.Dominates(&v.last.Cut) || c.N < v.last.N {
		return fail(fmt.Errorf("%w: checkpoint %d (cluster %q, size %d) does not follow checkpoint %d (size %d)",
			audit.ErrCheckpoint, c.Index, c.Cluster, c.N, v.last.Index, v.last.N))
	}
	if v.report.Unrecomputed == 0 {
		leaves, err := audit.Leaves(&v.last.Cut, &c.Cut, func(o, k uint64) (audit.Hash, bool) {
			h, ok := v.pending[causal.Dot{Node: causal.NodeID(o), Counter: k}]
			return h, ok
		})
		if err != nil {
			return fail(err)
		}
		for _, l := range leaves {
			if v.KeepProofs {
				if v.leafIndex == nil {
					v.leafIndex = map[causal.Dot]int64{}
				}
				v.leafIndex[causal.Dot{Node: causal.NodeID(l.Origin), Counter: l.Counter}] = v.tree.Size()
			}
			if err := v.tree.Append(l.Data()); err != nil {
				return fail(err)
			}
			delete(v.pending, causal.Dot{Node: causal.NodeID(l.Origin), Counter: l.Counter})
		}
		root, err := v.tree.Root(v.tree.Size())
		if err != nil {
			return fail(err)
		}
		if v.tree.Size() != c.N || root != c.Root {
			return fail(fmt.Errorf("%w: signed tree head (size %d, root %s) is not the tree of its transactions (size %d, root %s)",
				audit.ErrCheckpoint, c.N, c.Root, v.tree.Size(), root))
		}
		if v.last.N > 0 {
			p, err := v.tree.ProveTree(v.last.N, c.N)
			if err == nil {
				err = tlog.CheckTree(p, c.N, c.Root, v.last.N, v.last.Root)
			}
			if err != nil {
				return fail(fmt.Errorf("%w: not consistent with checkpoint %d: %v", audit.ErrCheckpoint, v.last.Index, err))
			}
		}
		v.report.Size = c.N
	}
	if len(v.notes) == 0 {
		v.base.start = v.last // what the first kept note follows (AppendBase)
	}
	v.last = c
	if v.KeepProofs || v.KeepNotes {
		v.notes = append(v.notes, SignedCheckpoint{Checkpoint: c, Note: append([]byte(nil), signed...), Record: index})
	}
	v.report.Checkpoints++
	v.report.LastIndex = c.Index
	return nil
}

// Tree returns the checkpoint log recomputed so far (for proofs).
func (v *HistoryVerifier) Tree() *audit.HashLog { return &v.tree }

// Checkpoint returns checkpoint index (from 1) with its signed note
// (KeepProofs).
func (v *HistoryVerifier) Checkpoint(index uint64) (SignedCheckpoint, bool) {
	if index == 0 || index > uint64(len(v.notes)) {
		return SignedCheckpoint{}, false
	}
	return v.notes[index-1], true
}

// LeafProof proves that the transaction dot is in the first checkpoint
// that covers it (KeepProofs): the leaf's index and data, the checkpoint,
// and the RFC 6962 inclusion proof (tlog.CheckRecord accepts it).
func (v *HistoryVerifier) LeafProof(dot causal.Dot) (int64, []byte, SignedCheckpoint, tlog.RecordProof, error) {
	i, ok := v.leafIndex[dot]
	if !ok {
		if err := v.droppedErr(dot); err != nil {
			return 0, nil, SignedCheckpoint{}, nil, err
		}
		return 0, nil, SignedCheckpoint{}, nil, fmt.Errorf("%w: transaction %s is in no checkpoint yet", audit.ErrCheckpoint, dot)
	}
	for _, c := range v.notes {
		if c.N > i {
			data, err := v.tree.LeafData(i)
			if err != nil {
				return 0, nil, SignedCheckpoint{}, nil, err
			}
			p, err := v.tree.ProveLeaf(i, c.N)
			return i, data, c, p, err
		}
	}
	return 0, nil, SignedCheckpoint{}, nil, fmt.Errorf("%w: leaf %d beyond the last checkpoint", audit.ErrCheckpoint, i)
}
