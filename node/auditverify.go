package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// verifyChunkRecords is how many records verifyLog reads under the log's
// lock at a time: appends wait only that long, not for the whole check.
const verifyChunkRecords = 1024

// errChunk ends one chunk of Iterate.
var errChunk = errors.New("node: verify chunk")

// recordReader reads a history record by record: a
// replica.HistoryVerifier or a replica.StateBuilder.
type recordReader interface {
	Record(index uint64, rec []byte) error
}

// verifyLog feeds every record of log, from index 1, to v. A log that no
// longer starts at 1 (trimmed before audit mode) is refused.
func verifyLog(log *storage.Log, v recordReader) error {
	if first := log.FirstIndex(); first != 1 {
		return &replica.HistoryError{Index: first, Err: fmt.Errorf(
			"%w: the log starts at record %d: the history before it was trimmed (written before audit mode?)", replica.ErrHistory, first)}
	}
	type rec struct {
		index   uint64
		payload []byte
	}
	for from := uint64(1); from <= log.LastIndex(); {
		var chunk []rec
		err := log.Iterate(from, func(index uint64, payload []byte) error {
			chunk = append(chunk, rec{index, append([]byte(nil), payload...)})
			if len(chunk) == verifyChunkRecords {
				return errChunk
			}
			return nil
		})
		if err != nil && !errors.Is(err, errChunk) {
			return err
		}
		if len(chunk) == 0 {
			break
		}
		for _, r := range chunk {
			if err := v.Record(r.index, r.payload); err != nil {
				return err
			}
		}
		from = chunk[len(chunk)-1].index + 1
	}
	return nil
}

// newHistoryVerifier is a verifier of the history of the node named self
// in cluster, with the keys of keysDir.
func newHistoryVerifier(self, cluster, keysDir string) (*replica.HistoryVerifier, error) {
	keys, names, err := LoadAuditKeys(keysDir)
	if err != nil {
		return nil, err
	}
	return &replica.HistoryVerifier{Cluster: cluster, Keys: keys, Names: names, Self: self}, nil
}

// VerifyDataDir checks the audit history in a stopped node's data
// directory against the public keys in keysDir (spook audit verify
// --data). It takes the directory's lock, as a node does, and recovers a
// torn log tail the same way. The error is a *replica.HistoryError for
// a failure of the history itself.
func VerifyDataDir(dataDir, keysDir string) (replica.HistoryReport, error) {
	id, found, err := storage.ReadIdentity(vfs.OS{}, dataDir)
	if err != nil || !found {
		return replica.HistoryReport{}, fmt.Errorf("node: %s holds no IDENTITY: not a data directory (%v)", dataDir, err)
	}
	v, err := newHistoryVerifier(id.Node, id.Cluster, keysDir)
	if err != nil {
		return replica.HistoryReport{}, err
	}
	store, err := storage.OpenStore(vfs.OS{}, dataDir, storage.StoreOptions{KeepLog: true})
	if err != nil {
		return replica.HistoryReport{}, err
	}
	defer store.Close()
	err = verifyLog(store.Log(), v)
	return v.Report(), err
}

// AuditReport is GET /v1/audit/verify's JSON document.
type AuditReport struct {
	OK           bool   `json:"ok"`
	Transactions int    `json:"transactions"`
	Checkpoints  int    `json:"checkpoints"`
	Repairs      int    `json:"repairs"`
	Resumed      int    `json:"resumed"`
	Joins        int    `json:"joins"`
	TreeSize     int64  `json:"tree_size"`
	Error        string `json:"error,omitempty"`
	// Position is the log index of the failing record (0 when OK); Error
	// then says what failed there.
	Position uint64 `json:"position,omitempty"`
}

// NewAuditReport turns a verification's outcome into its document.
func NewAuditReport(rep replica.HistoryReport, err error) AuditReport {
	out := AuditReport{OK: err == nil, Transactions: rep.Transactions, Checkpoints: rep.Checkpoints,
		Repairs: rep.Repairs, Resumed: rep.Resumed, Joins: rep.Joins, TreeSize: rep.Size}
	if err != nil {
		out.Error = err.Error()
		var he *replica.HistoryError
		if errors.As(err, &he) {
			out.Position, out.Error = he.Index, strings.TrimPrefix(he.Reason(), ": ")
		}
	}
	return out
}

// auditHistory verifies this node's history (audit mode) and returns
// the verifier, which holds the checkpoint log and, with keepProofs, what
// proofs need.
func (n *Node) auditHistory(keepProofs bool) (*replica.HistoryVerifier, error) {
	if n.cfg.AuditKeysDir == "" || n.store == nil {
		return nil, errAuditOff
	}
	v, err := newHistoryVerifier(n.cfg.Name, n.cfg.Cluster, n.cfg.AuditKeysDir)
	if err != nil {
		return nil, err
	}
	v.KeepProofs = keepProofs
	return v, verifyLog(n.store.Log(), v)
}

// errAuditOff: an audit endpoint on a node not in audit mode.
var errAuditOff = errors.New("node: audit mode is off on this node (spookd --audit-keys, with --data)")

// auditHandler serves /v1/audit/ (docs/audit.md, "HTTP"): verify, proof
// and replay, each computed from this node's log.
func (n *Node) auditHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		v, err := n.auditHistory(false)
		if errors.Is(err, errAuditOff) {
			writeAuditJSON(w, http.StatusNotFound, AuditReport{Error: err.Error()})
			return
		}
		var rep replica.HistoryReport
		if v != nil {
			rep = v.Report()
		}
		writeAuditJSON(w, http.StatusOK, NewAuditReport(rep, err))
	})
	mux.HandleFunc("GET /v1/audit/proof", n.serveProof)
	mux.HandleFunc("GET /v1/audit/replay", n.serveReplay)
	mux.HandleFunc("GET /v1/audit/policy", n.servePolicy)
	mux.HandleFunc("POST /v1/audit/policy", n.servePolicy)
	return mux
}

func writeAuditJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
