package node

import (
	"fmt"
	"net/http"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// MaxKeyProofTxns bounds a key-history proof (GET
// /v1/audit/proof?key=K for a hash, set, counter or any non-string
// value, or with &history=1): at most this many transactions, the
// newest; the document then says truncated=true and proves only those.
const MaxKeyProofTxns = 256

// KeyHistoryProof is GET /v1/audit/proof?key=K's document for a value
// that many transactions make (any type but a string, or any type with
// &history=1). It proves, against one signed tree head (Checkpoint, the
// newest, its note in Note), that each listed transaction is in the
// tree: tlog.CheckRecord(t.Proof, N, root, t.LeafIndex,
// tlog.RecordHash(t.Leaf)) for each. What it states (Statement) is that
// the key's value at that checkpoint is the merge of the operations on
// the key of exactly these transactions; an auditor checks membership
// with tlog, and completeness only by rebuilding the history (spook
// audit verify and replay on the member's data). Pending lists the
// transactions on the key that no checkpoint covers yet (the current
// value includes them; the next checkpoint will).
type KeyHistoryProof struct {
	Key        string        `json:"key"`
	Type       string        `json:"type"`
	Checkpoint uint64        `json:"checkpoint"`
	Note       string        `json:"note"`
	Txns       []KeyTxnProof `json:"txns"`
	Pending    []string      `json:"pending,omitempty"`
	// FromRecord is the first record read. Complete is false when
	// retention dropped the records before it (older transactions on the
	// key are then not listed) or when Truncated.
	FromRecord uint64 `json:"from_record"`
	Complete   bool   `json:"complete"`
	Truncated  bool   `json:"truncated,omitempty"`
	Statement  string `json:"statement"`
}

// KeyTxnProof is one transaction of a KeyHistoryProof.
type KeyTxnProof struct {
	Txn       string      `json:"txn"` // NODEHEX:COUNTER
	LeafIndex int64       `json:"leaf_index"`
	Leaf      []byte      `json:"leaf"`
	Proof     []tlog.Hash `json:"proof"`
}

// keyHistoryProof builds the KeyHistoryProof of key from v (a verifier
// with KeepProofs over this node's history).
func (n *Node) keyHistoryProof(v *replica.HistoryVerifier, key, typ string) (KeyHistoryProof, error) {
	doc := KeyHistoryProof{Key: key, Type: typ}
	notes := v.Checkpoints()
	if len(notes) == 0 {
		return doc, fmt.Errorf("%w: no checkpoint yet", errNoCheckpoint)
	}
	last := notes[len(notes)-1]
	doc.Checkpoint, doc.Note = last.Index, string(last.Note)
	kh := &replica.KeyHistory{Key: []byte(key)}
	from, _ := v.Base()
	n.auditMu.RLock()
	var err error
	if n.cfg.AuditRetention.ArchiveDir != "" && from == 0 {
		err = n.readArchived(kh)
	} else {
		_, err = readHistory(kh, from+1, 0, n.store.Log())
	}
	n.auditMu.RUnlock()
	if err != nil {
		return doc, err
	}
	doc.FromRecord = from + 1
	var covered []causal.Dot
	for _, d := range kh.Dots {
		if last.Cut.Contains(d) {
			covered = append(covered, d)
		} else {
			doc.Pending = append(doc.Pending, fmt.Sprintf("%016x:%d", uint64(d.Node), d.Counter))
		}
	}
	if len(covered) > MaxKeyProofTxns {
		covered, doc.Truncated = covered[len(covered)-MaxKeyProofTxns:], true
	}
	for _, d := range covered {
		i, leaf, p, err := v.LeafProofIn(d, last.Index)
		if err != nil {
			return doc, err
		}
		doc.Txns = append(doc.Txns, KeyTxnProof{Txn: fmt.Sprintf("%016x:%d", uint64(d.Node), d.Counter), LeafIndex: i, Leaf: leaf, Proof: p})
	}
	doc.Complete = from == 0 && !doc.Truncated
	doc.Statement = fmt.Sprintf("the value of %q at checkpoint %d is the merge of the operations on it of exactly these %d transactions, each in the tree this member signed (%s)",
		key, last.Index, len(doc.Txns), map[bool]string{true: "history read from record 1", false: fmt.Sprintf("history read from record %d: older transactions are not listed", doc.FromRecord)}[doc.Complete])
	if doc.Truncated {
		doc.Statement = fmt.Sprintf("the newest %d transactions on %q at checkpoint %d (MaxKeyProofTxns), each in the tree this member signed; older ones are not listed",
			len(doc.Txns), key, last.Index)
	}
	return doc, nil
}

// serveKeyHistoryProof answers a key-history proof request.
func (n *Node) serveKeyHistoryProof(w http.ResponseWriter, v *replica.HistoryVerifier, key, typ string) {
	doc, err := n.keyHistoryProof(v, key, typ)
	if err != nil {
		writeAuditErr(w, err)
		return
	}
	writeAuditJSON(w, http.StatusOK, doc)
}
