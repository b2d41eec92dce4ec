package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// InclusionProof is GET /v1/audit/proof?key=K's JSON document: the
// transaction that wrote the key's current value, its leaf in the
// checkpoint log, the first checkpoint covering it (the signed note, as
// logged) and the RFC 6962 inclusion proof. With nothing but
// golang.org/x/mod/sumdb: note.Open(Note) checks the signature,
// tlog.ParseTree(note text) gives (N, root), and
// tlog.CheckRecord(Proof, N, root, LeafIndex, tlog.RecordHash(Leaf))
// checks the inclusion; Leaf holds (origin, counter, transaction hash).
type InclusionProof struct {
	Key        string      `json:"key"`
	Txn        string      `json:"txn"` // NODEHEX:COUNTER
	LeafIndex  int64       `json:"leaf_index"`
	Leaf       []byte      `json:"leaf"` // 48 bytes (base64 in JSON)
	Checkpoint uint64      `json:"checkpoint"`
	Note       string      `json:"note"`
	Proof      []tlog.Hash `json:"proof"`
}

// ConsistencyProof is GET /v1/audit/proof?from=A&to=B's JSON document:
// tlog.CheckTree(Proof, N(to), root(to), N(from), root(from)) checks it.
type ConsistencyProof struct {
	From     uint64      `json:"from"`
	To       uint64      `json:"to"`
	FromNote string      `json:"from_note"`
	ToNote   string      `json:"to_note"`
	Proof    []tlog.Hash `json:"proof"`
}

// ReplayReport is GET /v1/audit/replay?to=N's JSON document: the state
// at checkpoint N rebuilt from the history, and its hash (equal on
// every member).
type ReplayReport struct {
	Checkpoint uint64 `json:"checkpoint"`
	Cut        string `json:"cut"`
	Keys       int    `json:"keys"`
	StateHash  string `json:"state_hash"`
}

func (n *Node) serveProof(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// A proof is a pass over the history: it takes a rebuild slot
	// (atread.go).
	if err := n.atReads.acquire(r.Context()); err != nil {
		writeAuditErr(w, err)
		return
	}
	defer n.atReads.release()
	v, err := n.auditHistory(true)
	if err != nil {
		writeAuditErr(w, err)
		return
	}
	if q.Has("from") || q.Has("to") {
		from, err1 := strconv.ParseUint(q.Get("from"), 10, 64)
		to, err2 := strconv.ParseUint(q.Get("to"), 10, 64)
		a, ok1 := v.Checkpoint(from)
		b, ok2 := v.Checkpoint(to)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || from > to {
			writeAuditJSON(w, http.StatusBadRequest, AuditReport{Error: fmt.Sprintf(
				"from=%q to=%q: give two checkpoint indexes, from ≤ to ≤ %d", q.Get("from"), q.Get("to"), v.Report().LastIndex)})
			return
		}
		p, err := v.Tree().ProveTree(a.N, b.N)
		if err != nil {
			writeAuditErr(w, err)
			return
		}
		writeAuditJSON(w, http.StatusOK, ConsistencyProof{From: from, To: to, FromNote: string(a.Note), ToNote: string(b.Note), Proof: p})
		return
	}
	key := q.Get("key")
	var dot causal.Dot
	typ := crdt.TypeNone
	err = n.View(func(ks *crdt.Keyspace) error {
		best := crdt.Sibling{}
		typ = ks.Get([]byte(key)).Type()
		for _, s := range ks.Get([]byte(key)).Siblings() {
			if s.Time.WallMs > best.Time.WallMs || s.Time.WallMs == best.Time.WallMs &&
				(s.Time.Logical > best.Time.Logical || s.Time.Logical == best.Time.Logical && s.Dot.Node > best.Dot.Node) {
				best = s
			}
		}
		dot = best.Dot
		return nil
	})
	if err == nil && (q.Has("history") || typ != crdt.TypeRegister && typ != crdt.TypeNone) {
		n.serveKeyHistoryProof(w, v, key, typ.String()) // keyproof.go
		return
	}
	if err == nil && dot.IsZero() {
		err = fmt.Errorf("key %q holds no value", key)
	}
	if err != nil {
		writeAuditJSON(w, http.StatusNotFound, AuditReport{Error: err.Error()})
		return
	}
	i, leaf, c, p, err := v.LeafProof(dot)
	if err != nil {
		msg := err.Error()
		if !errors.Is(err, audit.ErrDropped) {
			msg += " (wait for the next checkpoint)"
		}
		writeAuditJSON(w, http.StatusNotFound, AuditReport{Error: msg})
		return
	}
	writeAuditJSON(w, http.StatusOK, InclusionProof{Key: key, Txn: fmt.Sprintf("%016x:%d", uint64(dot.Node), dot.Counter),
		LeafIndex: i, Leaf: leaf, Checkpoint: c.Index, Note: string(c.Note), Proof: p})
}

// stateAt rebuilds the state at checkpoint index from this node's log.
func (n *Node) stateAt(index uint64) (*crdt.Keyspace, replica.SignedCheckpoint, error) {
	v, err := n.auditHistory(true)
	if err != nil {
		return nil, replica.SignedCheckpoint{}, err
	}
	c, ok := v.Checkpoint(index)
	if !ok {
		return nil, c, fmt.Errorf("%w: no checkpoint %d (this node has %d)", errNoCheckpoint, index, v.Report().LastIndex)
	}
	b := &replica.StateBuilder{Cut: c.Cut.Clone()}
	n.auditMu.RLock()
	if n.cfg.AuditRetention.ArchiveDir != "" {
		err = n.readArchived(b)
	} else if rec, _ := v.Base(); rec > 0 {
		err = fmt.Errorf("%w: rebuilding a state needs every record from 1, and retention (%s) dropped records 1..%d",
			errRetained, n.cfg.AuditRetention, rec)
	} else {
		err = verifyLog(n.store.Log(), b)
	}
	n.auditMu.RUnlock()
	if err != nil {
		return nil, c, err
	}
	if vec := b.Keyspace().Context().Vector; !vec.Equal(&c.Cut) {
		return nil, c, fmt.Errorf("%w: the history rebuilds %v, not the cut %v", replica.ErrHistory, vec, c.Cut)
	}
	return b.Keyspace(), c, nil
}

// errRetained: a request that needs records retention dropped.
var errRetained = errors.New("node: dropped by audit retention")

// errNoCheckpoint: a checkpoint index this node has not logged.
var errNoCheckpoint = errors.New("node: no such checkpoint")

func (n *Node) serveReplay(w http.ResponseWriter, r *http.Request) {
	to, err := strconv.ParseUint(r.URL.Query().Get("to"), 10, 64)
	if err != nil {
		writeAuditJSON(w, http.StatusBadRequest, AuditReport{Error: "give ?to=CHECKPOINT"})
		return
	}
	ks, c, err := n.stateAtCached(r.Context(), to)
	if err != nil {
		writeAuditErr(w, err)
		return
	}
	writeAuditJSON(w, http.StatusOK, ReplayReport{Checkpoint: c.Index, Cut: c.Cut.String(), Keys: ks.Len(),
		StateHash: fmt.Sprintf("%016x", ks.Hash())})
}

// ViewAt calls fn with the state at checkpoint index, rebuilt from this
// node's history (point-in-time reads: GET /v1/kv/KEY?at=N, SPOOK.GETAT)
// or kept from an earlier rebuild (atread.go). fn must not change the
// state: other reads may share it.
func (n *Node) ViewAt(ctx context.Context, index uint64, fn func(ks *crdt.Keyspace) error) error {
	ks, _, err := n.stateAtCached(ctx, index)
	if err != nil {
		return err
	}
	return fn(ks)
}

func writeAuditErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, errAuditOff), errors.Is(err, errNoCheckpoint), errors.Is(err, errRetained), errors.Is(err, audit.ErrDropped):
		status = http.StatusNotFound
	case errors.Is(err, replica.ErrHistory):
		status = http.StatusConflict
	case errors.Is(err, api.ErrAtReadBusy):
		status = http.StatusServiceUnavailable
	}
	writeAuditJSON(w, status, AuditReport{Error: err.Error()})
}
