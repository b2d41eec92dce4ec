package replica

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/internal/codec"
)

// AuditConfig turns on signed, chained history (package audit). With
// Keys nil (the zero value) audit is off: transactions carry no seal and
// nothing here runs. With Keys set, every transaction this replica makes
// is sealed with SigningKey, and every remote transaction is applied only
// if its seal verifies against Keys and continues its origin's chain; one
// that does not is refused (EventAuditRefused) and never applied.
type AuditConfig struct {
	// Keys holds the ed25519 public key of every node whose writes this
	// replica accepts, by node id. It must be the same on every member,
	// as Members is: acceptance is a function of it.
	Keys audit.Keys
	// SigningKey is this node's private key; Keys must hold its public
	// half under this node's id.
	SigningKey ed25519.PrivateKey
	// CheckpointTicks is the least number of ticks between two
	// checkpoints the checkpointer proposes (checkpoint.go). Zero:
	// DefaultCheckpointTicks.
	CheckpointTicks int
	// Operator is the operator's ed25519 public key, which signs
	// write-rights policies (policy.go). Nil: write rights are off, every
	// member may write every key. Like Keys it must be the same on every
	// member.
	Operator ed25519.PublicKey
	// SignTicks is the least number of ticks between two signatures this
	// node makes at Ready boundaries (batchseal.go). Zero: the last
	// transaction of every Ready is signed before the Ready leaves. One
	// or more: a Ready within SignTicks of the last signature hands its
	// last transaction out unsigned (linked), and a later Tick signs it
	// (a head-seal record and a signed copy pushed): peers apply it up
	// to SignTicks ticks later, and an origin under load signs once per
	// SignTicks ticks instead of once per Ready. Negative is refused.
	SignTicks int
}

func (c *AuditConfig) enabled() bool { return c.Keys != nil }

// validate checks c for the node named by id.
func (c *AuditConfig) validate(id causal.NodeID) error {
	if !c.enabled() {
		return nil
	}
	if c.CheckpointTicks == 0 {
		c.CheckpointTicks = DefaultCheckpointTicks
	}
	if c.SignTicks < 0 {
		return fmt.Errorf("%w: Audit.SignTicks: %d, want ≥ 0", ErrConfig, c.SignTicks)
	}
	if !operatorKeyValid(c.Operator) {
		return fmt.Errorf("%w: Audit.Operator: %d bytes, want %d", ErrConfig, len(c.Operator), ed25519.PublicKeySize)
	}
	if len(c.SigningKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: Audit.SigningKey: %d bytes, want %d", ErrConfig, len(c.SigningKey), ed25519.PrivateKeySize)
	}
	pub, ok := c.Keys[uint64(id)]
	if !ok || !bytes.Equal(pub, c.SigningKey.Public().(ed25519.PublicKey)) {
		return fmt.Errorf("%w: Audit.Keys lacks this node's public key (or holds another)", ErrConfig)
	}
	return nil
}

// Record and snapshot kinds of audit mode (see persist.go's table):
//
//	record, kind 6 (signed txn): 0x06 | seal (audit.SealBytes: prev hash 32 | ed25519 signature 64) |
//	                             crdt.Txn.AppendBinary
//	snapshot, kind 7 (audited):  0x07 | heads count uvarint |
//	                             count × (origin u64 LE | counter uvarint | hash 32) |
//	                             checkpoint state (checkpoint.go) | kind-3 snapshot
//	record, kind 8 (checkpoint): 0x08 | signed note (checkpoint.go)
//	record, kind 9 (join heads): 0x09 | 0x07 | the kind-7 snapshot's heads and checkpoint state,
//	                             no kind-3 snapshot after them
//
//	record, kind 11 (linked txn): 0x0b | link (audit.LinkBytes: prev hash 32) | crdt.Txn.AppendBinary
//	record, kind 12 (head seal):  0x0c | origin u64 LE | counter uvarint | ed25519 signature 64
//	record, kind 13 (witness):    0x0d | origin u64 LE | counter uvarint | sha256(body) 32 |
//	                              seal (audit.SealBytes)
//
// A kind-6 or kind-11 record's body is the kind-1 body: the bytes the
// transaction hash covers. A kind-11 record is a transaction its origin
// did not sign (sealTail signs only the last of a Ready); a later signed
// one of the same origin chains back to it. A kind-12 record is this
// node's signature of its own transaction at counter, logged after a
// restart found its own last transaction unsigned (a crash between the
// records of one Ready): it signs that transaction's hash, as a kind-6
// seal would have. Old binaries refuse all these kinds ("unknown record
// kind").
//
// A member that joins by snapshot logs a kind-9 record first: the chain
// heads (and checkpoint state) its snapshot carried, so that `spook audit
// verify`, which reads the log and not the snapshot, checks the member's
// history from those heads instead of from counter 1 (HistoryVerifier).
// Restore skips it (the snapshot holds the same).
const (
	recordSignedTxn byte = 6
	snapshotAudited byte = 7
	recordJoinHeads byte = 9
	recordLinkedTxn byte = 11
	recordHeadSeal  byte = 12
	recordWitness   byte = 13
)

// joinHeadsRecord is the kind-9 record of the chain heads r holds.
func (r *Replica) joinHeadsRecord() []byte {
	return append([]byte{recordJoinHeads}, r.appendAuditHeads(nil)...)
}

// maxAuditHeads bounds the chain heads a snapshot holds (one per origin).
const maxAuditHeads = 1 << 16

// txnBody returns the body of a transaction record (kind 1, 6 or 11) and
// the seal or link it carries (nil for kind 1).
func txnBody(rec []byte) (body, seal []byte, err error) {
	switch {
	case len(rec) > 0 && rec[0] == recordTxn:
		return rec[1:], nil, nil
	case len(rec) > audit.SealBytes && rec[0] == recordSignedTxn:
		return rec[1+audit.SealBytes:], rec[1 : 1+audit.SealBytes], nil
	case len(rec) > audit.LinkBytes && rec[0] == recordLinkedTxn:
		return rec[1+audit.LinkBytes:], rec[1 : 1+audit.LinkBytes], nil
	}
	return nil, nil, errors.New("not a transaction record")
}

// decodeTxnRecord decodes a transaction record of either kind; the seal
// of a kind-6 record is set on the transaction (aliasing rec).
func decodeTxnRecord(rec []byte) (*crdt.Txn, error) {
	body, seal, err := txnBody(rec)
	if err != nil {
		return nil, err
	}
	txn, err := crdt.DecodeTxn(body)
	if err != nil {
		return nil, err
	}
	txn.Seal = seal
	return txn, nil
}

// checkLink checks, just before a verified remote transaction is
// applied, that it continues its origin's chain.
func (r *Replica) checkLink(txn *crdt.Txn) error {
	return r.chains.CheckLink(uint64(txn.Dot.Node), txn.Dot.Counter, audit.SealPrev(txn.Seal))
}

// noteAudited does audit mode's bookkeeping for an applied sealed
// transaction: it advances the origin's chain head (the hash recomputed
// from the record, not trusted), holds the hash for the next checkpoint,
// and applies a checkpoint the transaction wrote (checkpoint.go).
func (r *Replica) noteAudited(txn *crdt.Txn, rec []byte) {
	body, seal, err := txnBody(rec)
	if err != nil || seal == nil || !r.cfg.Audit.enabled() {
		return
	}
	dot := txn.Dot
	h := audit.TxnHash(r.cfg.Cluster, uint64(dot.Node), dot.Counter, audit.SealPrev(seal), body)
	r.chains.Advance(uint64(dot.Node), dot.Counter, h)
	r.notePending(dot, h)
	if dot.Node == r.checkpointer() {
		wrote := false
		txn.Keys(func(k []byte) bool {
			wrote = string(k) == CheckpointKey
			return !wrote
		})
		if wrote {
			r.applyCheckpoint()
		}
	}
}

// refuseAudit raises EventAuditRefused for a transaction that is not
// applied.
func (r *Replica) refuseAudit(from causal.NodeID, dot causal.Dot, err error) {
	r.auditRefused++
	r.event(EventAuditRefused, from, dot, err.Error())
}

// appendAuditHeads prefixes a snapshot with the chain heads in audit
// mode (kind 7), so that a restored replica keeps checking chains and
// seals its next transaction with the right previous hash.
func (r *Replica) appendAuditHeads(snap []byte) []byte {
	if !r.cfg.Audit.enabled() {
		return snap
	}
	origins := r.chains.Origins()
	b := []byte{snapshotAudited}
	b = codec.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		h, _ := r.chains.Head(o)
		b = binary.LittleEndian.AppendUint64(b, o)
		b = codec.AppendUvarint(b, h.Counter)
		b = append(b, h.Hash[:]...)
	}
	b = r.appendCheckpointState(b)
	return append(b, snap...)
}

// splitAuditHeads reads the chain heads and checkpoint state of a kind-7
// snapshot into r (if non-nil) and returns the kind-3 snapshot inside it;
// any other snapshot is returned as it is.
func splitAuditHeads(snap []byte, r *Replica) ([]byte, error) {
	if len(snap) == 0 || snap[0] != snapshotAudited {
		return snap, nil
	}
	rd := codec.NewReader(snap[1:])
	n := rd.Count("audit heads", maxAuditHeads, 8+1+audit.HashBytes)
	for i := 0; i < n && rd.Err() == nil; i++ {
		origin := rd.Raw("head origin", 8)
		counter := rd.Uvarint("head counter")
		h := rd.Raw("head hash", audit.HashBytes)
		if rd.Err() == nil && r != nil {
			r.chains.Advance(binary.LittleEndian.Uint64(origin), counter, audit.Hash(h))
		}
	}
	cp, err := readCheckpointState(rd)
	if err == nil && r != nil {
		r.checkpoints = cp
	}
	if err := rd.Err(); err != nil {
		return nil, fmt.Errorf("%w: snapshot audit heads: %w", ErrBadRecord, err)
	}
	return snap[1+rd.Offset():], nil
}

// AuditRefused is the number of transactions refused by the audit checks
// since start.
func (r *Replica) AuditRefused() uint64 { return r.auditRefused }
