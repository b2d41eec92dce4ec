package replica

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// Signing chain heads (audit mode). An origin signs only some of its
// transactions: its last one at the next Tick after a Ready handed it out
// unsigned (tickSeal, sealTail), or before it answers a catch-up or
// exports a bundle, and any that ends a run of MaxUnsignedRun
// transactions or MaxUnsignedRunBytes of records.
// The others carry a link, their previous transaction hash alone
// (audit.Link). A signature on transaction c authenticates every earlier
// transaction of the origin whose hashes chain to it: c's hash covers its
// prev, the hash of c-1, which covers c-1's prev, and so on.
//
// A receiver holds a linked transaction, unapplied, until a signed one
// of its origin chains back to it (authenticate); then the whole run goes
// through the normal path in counter order. A linked transaction that the
// chain contradicts is refused like a bad signature and never applied.
const (
	// MaxUnsignedRun is the most consecutive transactions an origin
	// leaves unsigned: the next one is signed, whatever the Ready.
	MaxUnsignedRun = 64
	// MaxUnsignedRunBytes bounds, in record bytes, a run an origin
	// leaves unsigned: the transaction that reaches it is signed.
	MaxUnsignedRunBytes = 1 << 20
	// MaxHeldTxns and MaxHeldBytes (record bytes) bound the linked
	// transactions a replica holds while it waits for a signed one that
	// chains back to them. A linked transaction that would pass either
	// is dropped (EventBufferFull), like a causal-buffer overflow, and
	// comes again by catch-up.
	MaxHeldTxns  = 8192
	MaxHeldBytes = 64 << 20
)

// heldEntry is a linked transaction waiting for a signed one, with the
// hash its link and body give it (not yet authenticated).
type heldEntry struct {
	txnEntry
	hash audit.Hash
}

// ownTail is this node's last transaction while it is unsigned: the
// index of its record in the pending Ready (-1 once that Ready was
// handed out, or when it was replayed from the log after a restart) and
// the run it ends.
type ownTail struct {
	txn      *crdt.Txn
	recIndex int
	runTxns  int
	runBytes int
}

// sealLocal gives a local transaction its seal when audit is on: a link
// to this node's previous transaction hash, or, when it ends a run of
// MaxUnsignedRun, a signature too. The chain head advances when the
// transaction is applied (noteAudited); sealTail signs the last one.
func (r *Replica) sealLocal(txn *crdt.Txn) {
	if !r.cfg.Audit.enabled() {
		return
	}
	var prev audit.Hash
	if h, ok := r.chains.Head(uint64(r.id)); ok && h.Counter+1 == txn.Dot.Counter {
		prev = h.Hash
	}
	r.auditScratch = txn.AppendBinary(r.auditScratch[:0])
	if t := &r.tail; t.runTxns >= MaxUnsignedRun || t.runBytes+len(r.auditScratch) >= MaxUnsignedRunBytes {
		h := audit.TxnHash(r.cfg.Cluster, uint64(r.id), txn.Dot.Counter, prev, r.auditScratch)
		txn.Seal = audit.Sign(r.cfg.Audit.SigningKey, prev, h)
		return
	}
	txn.Seal = audit.Link(prev)
}

// noteTail records a local transaction just applied and logged (its
// record rec queued in the pending Ready): if it is linked, it is the
// tail sealTail will sign; if signed, the run it ended is over.
func (r *Replica) noteTail(txn *crdt.Txn, rec []byte) {
	if !r.cfg.Audit.enabled() {
		return
	}
	if !audit.Linked(txn.Seal) {
		r.tail = ownTail{}
		return
	}
	t := &r.tail
	t.txn, t.recIndex = txn, -1
	for i := len(r.ready.Records) - 1; i >= 0; i-- {
		if q := r.ready.Records[i]; len(q) > 0 && &q[0] == &rec[0] {
			t.recIndex = i
			break
		}
	}
	t.runTxns++
	t.runBytes += len(rec)
}

// handTail is Ready's hook. With AuditConfig.SignTicks zero, the tail
// is signed before the Ready's records and pushes leave. Otherwise a
// Ready signs it only if the last signature is SignTicks ticks old;
// else it leaves unsigned and a later Tick signs it (tickSeal), unless a
// later transaction takes its place first. So an origin under load
// makes one signature per SignTicks ticks (and per MaxUnsignedRun), and
// no transaction waits unsigned much longer than that.
func (r *Replica) handTail() {
	if r.tail.txn != nil && r.tail.recIndex >= 0 && r.signDue() {
		r.sealTail()
	}
	r.tail.recIndex = -1
}

// signDue reports whether the last signature is old enough for another
// (AuditConfig.SignTicks).
func (r *Replica) signDue() bool {
	return r.tick-r.signedTick >= uint64(r.cfg.Audit.SignTicks)
}

// tickSeal is Tick's hook: a tail handed out unsigned is signed once a
// signature is due.
func (r *Replica) tickSeal() {
	if r.tail.txn != nil && r.tail.recIndex < 0 && r.signDue() {
		r.sealTail()
	}
}

// sealTail signs this node's last transaction if it is unsigned, so that
// nothing this node hands out (a catch-up answer, a bundle) ends on a
// transaction no signature covers, and no peer holds it for long. While
// its record is still in the pending Ready, the transaction's seal is
// replaced in place (the pushes queued hold it), and so are its records
// in the Ready and in the retained log. Once that Ready was handed out,
// the record is already logged and the unsigned transaction pushed: a
// head-seal record (kind 12) is logged, the retained record replaced,
// and a signed copy pushed, which releases what the peers hold (they see
// a signed transaction of a dot they have not applied; the held copy is
// purged once it is).
func (r *Replica) sealTail() {
	t := r.tail
	if t.txn == nil {
		return
	}
	r.tail = ownTail{}
	r.signedTick = r.tick
	dot := t.txn.Dot
	head, ok := r.chains.Head(uint64(r.id))
	if !ok || head.Counter != dot.Counter {
		panic(fmt.Sprintf("replica: own chain head %d, unsigned tail %s", head.Counter, dot))
	}
	sig := ed25519.Sign(r.cfg.Audit.SigningKey, head.Hash[:])
	prev := audit.SealPrev(t.txn.Seal)
	seal := append(append(make([]byte, 0, audit.SealBytes), prev[:]...), sig...)
	if i := t.recIndex; i >= 0 {
		t.txn.Seal = seal
		r.ready.Records[i] = signedRecord(r.ready.Records[i], seal)
		r.resealRetained(dot, seal)
		return
	}
	rec := []byte{recordHeadSeal}
	rec = binary.LittleEndian.AppendUint64(rec, uint64(r.id))
	rec = codec.AppendUvarint(rec, dot.Counter)
	r.ready.Records = append(r.ready.Records, append(rec, sig...))
	r.resealRetained(dot, seal)
	signed, err := decodeTxnRecord(append(append([]byte{recordSignedTxn}, seal...), t.txn.AppendBinary(nil)...))
	if err != nil {
		panic(fmt.Sprintf("replica: a signed copy of the own tail does not decode: %v", err))
	}
	r.push(txnEntry{txn: signed, record: r.txnRecord(signed)})
}

// signedRecord returns the kind-6 record of a kind-11 record rec whose
// transaction's seal is now seal; any other record is returned as is.
func signedRecord(rec, seal []byte) []byte {
	if len(rec) <= audit.LinkBytes || rec[0] != recordLinkedTxn {
		return rec
	}
	out := make([]byte, 0, 1+len(seal)+len(rec)-1-audit.LinkBytes)
	out = append(append(out, recordSignedTxn), seal...)
	return append(out, rec[1+audit.LinkBytes:]...)
}

// resealRetained replaces the retained record of dot (searched from the
// newest) by its signed form.
func (r *Replica) resealRetained(dot causal.Dot, seal []byte) {
	for i := len(r.log) - 1; i >= 0; i-- {
		if r.log[i].dot != dot {
			continue
		}
		old := r.log[i].record
		rec := signedRecord(old, seal)
		r.logBytes += logEntryBytes(rec) - logEntryBytes(old)
		r.log[i].record = rec
		if r.logBytes > r.cfg.MaxRetainedBytes {
			r.trimLog() // the signature made the record larger
		}
		return
	}
}

// noteRestartTail, at the end of Restore, finds this node's own last
// transaction unsigned if a crash tore a Ready's records, and signs it:
// the first Ready logs a head-seal record for it, and the retained log
// serves it signed.
func (r *Replica) noteRestartTail() {
	if !r.cfg.Audit.enabled() {
		return
	}
	own := r.ks.Context().Vector.Get(r.id)
	for i := len(r.log) - 1; i >= 0; i-- {
		e := r.log[i]
		if e.dot.Node != r.id {
			continue
		}
		if e.dot.Counter == own && len(e.record) > 0 && e.record[0] == recordLinkedTxn {
			txn, err := decodeTxnRecord(e.record)
			if err == nil {
				r.tail = ownTail{txn: txn, recIndex: -1}
				r.sealTail()
			}
		}
		return
	}
}

// replayHeadSeal applies a kind-12 record: the retained record of the
// transaction it signs becomes the signed one.
func (r *Replica) replayHeadSeal(rec []byte) error {
	origin, counter, sig, err := decodeHeadSeal(rec)
	if err != nil {
		return err
	}
	if origin != uint64(r.id) {
		return nil
	}
	dot := causal.Dot{Node: r.id, Counter: counter}
	for i := len(r.log) - 1; i >= 0; i-- {
		if r.log[i].dot == dot && r.log[i].record[0] == recordLinkedTxn {
			link := r.log[i].record[1 : 1+audit.LinkBytes]
			r.resealRetained(dot, append(append([]byte(nil), link...), sig...))
			break
		}
	}
	return nil
}

// decodeHeadSeal reads a kind-12 record.
func decodeHeadSeal(rec []byte) (origin, counter uint64, sig []byte, err error) {
	rd := codec.NewReader(rec[1:])
	o := rd.Raw("head seal origin", 8)
	counter = rd.Uvarint("head seal counter")
	sig = rd.Raw("head seal signature", ed25519.SignatureSize)
	if err := rd.Finish(); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: head seal: %w", ErrBadRecord, err)
	}
	return binary.LittleEndian.Uint64(o), counter, sig, nil
}

// authenticate decides what a remote transaction in audit mode leads to:
// the transactions to admit now, in counter order (a signed one, or a
// linked one a verified successor chains to, preceded by the held run it
// authenticates), nothing (a linked one is held, or dropped when the
// hold is full), or an error: the transaction is refused.
func (r *Replica) authenticate(from causal.NodeID, e txnEntry) ([]txnEntry, error) {
	body, seal, err := txnBody(e.record)
	if err != nil {
		return nil, err
	}
	dot := e.txn.Dot
	origin := uint64(dot.Node)
	if !audit.Linked(seal) {
		if _, err := r.cfg.Audit.Keys.VerifySeal(r.cfg.Cluster, origin, dot.Counter, seal, body); err != nil {
			return nil, err
		}
		return append(r.releaseHeld(from, dot, audit.SealPrev(seal)), e), nil
	}
	h, err := r.cfg.Audit.Keys.LinkHash(r.cfg.Cluster, origin, dot.Counter, seal, body)
	if err != nil {
		return nil, err
	}
	// A verified successor already waiting in the causal buffer says
	// what this transaction's hash must be.
	next := causal.Dot{Node: dot.Node, Counter: dot.Counter + 1}
	for _, p := range r.pending {
		if p.txn.Dot != next || audit.Resumed(next.Counter, audit.SealPrev(p.txn.Seal)) {
			continue
		}
		if want := audit.SealPrev(p.txn.Seal); want != h {
			return nil, fmt.Errorf("%w: %s hashes to %s, %s names %s", audit.ErrBrokenChain, dot, h, next, want)
		}
		return append(r.releaseHeld(from, dot, audit.SealPrev(seal)), e), nil
	}
	for _, x := range r.held {
		if x.txn.Dot == dot && x.hash == h {
			return nil, nil // already held
		}
	}
	if len(r.held) >= MaxHeldTxns || r.heldBytes+len(e.record) > MaxHeldBytes {
		r.event(EventBufferFull, from, dot, fmt.Sprintf(
			"unsigned-transaction hold full (%d txns, %d bytes): dropped one waiting for its signed head",
			len(r.held), r.heldBytes))
		return nil, nil
	}
	own, derr := decodeTxnRecord(e.record)
	if derr != nil {
		panic(fmt.Sprintf("replica: a transaction's own record does not decode: %v", derr))
	}
	r.held = append(r.held, heldEntry{txnEntry: txnEntry{txn: own, record: e.record}, hash: h})
	r.heldBytes += len(e.record)
	return nil, nil
}

// releaseHeld takes out of the hold the run of linked transactions that
// the authenticated transaction at dot chains back to (its prev is the
// hash of the one before, and so on), in counter order. A held
// transaction at a link of the run whose hash is not the one the chain
// names is refused and dropped. A run stops at a transaction whose
// prev is all zero (audit.Resumed): its origin restarted its chain
// there, naming no predecessor.
func (r *Replica) releaseHeld(from causal.NodeID, dot causal.Dot, prev audit.Hash) []txnEntry {
	if len(r.held) == 0 || audit.Resumed(dot.Counter, prev) {
		// A zero prev names no predecessor (the chain resuming): it
		// authenticates nothing before it, and contradicts nothing.
		return nil
	}
	var run []txnEntry
	for c := dot.Counter - 1; c > 0; c-- {
		want := causal.Dot{Node: dot.Node, Counter: c}
		found := false
		kept := r.held[:0]
		var next audit.Hash
		for _, x := range r.held {
			switch {
			case x.txn.Dot != want:
				kept = append(kept, x)
				continue
			case x.hash == prev && !found:
				found = true
				run = append(run, x.txnEntry)
				next = audit.SealPrev(x.txn.Seal)
			default:
				r.refuseAudit(from, want, fmt.Errorf("%w: %s hashes to %s, its successor names %s",
					audit.ErrBrokenChain, want, x.hash, prev))
			}
			r.heldBytes -= len(x.record)
		}
		clear(r.held[len(kept):])
		r.held = kept
		if !found {
			break
		}
		prev = next
	}
	for i, j := 0, len(run)-1; i < j; i, j = i+1, j-1 {
		run[i], run[j] = run[j], run[i]
	}
	return run
}

// purgeHeld drops held transactions already applied (they came by
// another path, such as a repair).
func (r *Replica) purgeHeld() {
	if len(r.held) == 0 {
		return
	}
	ctx := r.ks.Context()
	kept := r.held[:0]
	for _, x := range r.held {
		if ctx.Contains(x.txn.Dot) {
			r.heldBytes -= len(x.record)
			continue
		}
		kept = append(kept, x)
	}
	clear(r.held[len(kept):])
	r.held = kept
}

// runEnds tracks, while a catch-up answer is cut at its byte limit, the
// origins whose last transaction in it is linked: the answer goes on
// with their transactions (and only theirs) until each reaches a signed
// one, so that no answer ends on a run its receiver must hold with
// nothing to release it. A run is at most MaxUnsignedRun transactions
// and MaxUnsignedRunBytes, so the answer exceeds its limit by at most
// that much per origin.
type runEnds struct {
	linked map[causal.NodeID]bool
	open   int
}

// note records that e is in the answer.
func (u *runEnds) note(e logEntry) {
	linked := len(e.record) > 0 && e.record[0] == recordLinkedTxn
	if linked == u.linked[e.dot.Node] {
		return
	}
	if u.linked == nil {
		u.linked = map[causal.NodeID]bool{}
	}
	u.linked[e.dot.Node] = linked
	if linked {
		u.open++
	} else {
		u.open--
	}
}

// extend reports whether e, past the answer's limit, continues a run
// the answer must not end on.
func (u *runEnds) extend(e logEntry) bool { return u.linked[e.dot.Node] }

// witnessRefused is the rights check's hook for a remote transaction it
// refuses. If that transaction is signed and its origin's previous one is
// applied here, that one may end a linked run the refused signature
// authenticated: without a record of the signature, this member's log
// would end the run unsigned, and `spook audit verify` would fail it.
// So a witness record (kind 13) keeps what checks it: the refused
// transaction's dot, body hash and seal.
func (r *Replica) witnessRefused(e txnEntry) {
	seal := e.txn.Seal
	dot := e.txn.Dot
	if !r.cfg.Audit.enabled() || len(seal) != audit.SealBytes || dot.Counter < 2 ||
		!r.ks.Context().Contains(causal.Dot{Node: dot.Node, Counter: dot.Counter - 1}) {
		return
	}
	body, _, err := txnBody(e.record)
	if err != nil {
		return
	}
	bodyHash := sha256.Sum256(body)
	rec := []byte{recordWitness}
	rec = binary.LittleEndian.AppendUint64(rec, uint64(dot.Node))
	rec = codec.AppendUvarint(rec, dot.Counter)
	rec = append(rec, bodyHash[:]...)
	r.ready.Records = append(r.ready.Records, append(rec, seal...))
}

// decodeWitness reads a kind-13 record.
func decodeWitness(rec []byte) (dot causal.Dot, bodyHash [sha256.Size]byte, seal []byte, err error) {
	rd := codec.NewReader(rec[1:])
	o := rd.Raw("witness origin", 8)
	counter := rd.Uvarint("witness counter")
	h := rd.Raw("witness body hash", sha256.Size)
	seal = rd.Raw("witness seal", audit.SealBytes)
	if err := rd.Finish(); err != nil {
		return dot, bodyHash, nil, fmt.Errorf("%w: witness: %w", ErrBadRecord, err)
	}
	copy(bodyHash[:], h)
	return causal.Dot{Node: causal.NodeID(binary.LittleEndian.Uint64(o)), Counter: counter}, bodyHash, seal, nil
}
