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
// longer starts at 1 (trimmed before audit mode, or by retention) is
// refused: readHistory with a base reads a retained one.
func verifyLog(log *storage.Log, v recordReader) error {
	_, err := readHistory(v, 1, 0, log)
	return err
}

// readLogRange feeds the records from..to of log to v, a chunk of
// verifyChunkRecords at a time under the log's lock.
func readLogRange(log *storage.Log, from, to uint64, v recordReader) error {
	type rec struct {
		index   uint64
		payload []byte
	}
	for from <= to {
		var chunk []rec
		err := log.Iterate(from, func(index uint64, payload []byte) error {
			if index > to {
				return errChunk
			}
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
	return VerifyDataDirArchive(dataDir, keysDir, "")
}

// VerifyDataDirArchive is VerifyDataDir for a node under audit
// retention (spook audit verify --data DIR [--archive ARCHIVE]). Without
// an archive it starts from the directory's retention base, if any (the
// report's BaseRecord says so), and reads the records after it. With
// one it reads the archived segments from record 1, then the log, and
// checks the whole history again, the base unused.
func VerifyDataDirArchive(dataDir, keysDir, archiveDir string) (replica.HistoryReport, error) {
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
	if archiveDir == "" {
		from, err := readBase(vfs.OS{}, dataDir, v)
		if err != nil {
			return replica.HistoryReport{}, err
		}
		_, err = readHistory(v, from+1, 0, store.Log())
		if err == nil {
			err = v.Finish()
		}
		return v.Report(), err
	}
	archive, err := storage.OpenLog(vfs.OS{}, archiveDir, storage.LogOptions{})
	if err != nil {
		return replica.HistoryReport{}, fmt.Errorf("node: open archive %s: %w", archiveDir, err)
	}
	defer archive.Close()
	_, err = readHistory(v, 1, 0, archive, store.Log())
	if err == nil {
		err = v.Finish()
	}
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
	// FromRecord..LastRecord is the range of records read. Under
	// retention, FromRecord is BaseRecord+1: records 1..BaseRecord and
	// checkpoints 1..BaseCheckpoint were checked from the retention base
	// (docs/audit.md, "Retention").
	FromRecord     uint64 `json:"from_record"`
	LastRecord     uint64 `json:"last_record"`
	BaseRecord     uint64 `json:"base_record,omitempty"`
	BaseCheckpoint uint64 `json:"base_checkpoint,omitempty"`
}

// withRange adds the range of records a verification read.
func (a AuditReport) withRange(rep replica.HistoryReport) AuditReport {
	a.FromRecord, a.LastRecord = rep.BaseRecord+1, rep.LastRecord
	a.BaseRecord, a.BaseCheckpoint = rep.BaseRecord, rep.BaseCheckpoint
	return a
}

// NewAuditReportRange is NewAuditReport with the range of records read.
func NewAuditReportRange(rep replica.HistoryReport, err error) AuditReport {
	return NewAuditReport(rep, err).withRange(rep)
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
	return n.auditHistoryOpts(keepProofs, false)
}

// auditHistoryOpts is auditHistory; keepNotes keeps every signed tree
// head (tiles, the newest checkpoint) without the leaf indexes.
func (n *Node) auditHistoryOpts(keepProofs, keepNotes bool) (*replica.HistoryVerifier, error) {
	if n.cfg.AuditKeysDir == "" || n.store == nil {
		return nil, errAuditOff
	}
	v, err := newHistoryVerifier(n.cfg.Name, n.cfg.Cluster, n.cfg.AuditKeysDir)
	if err != nil {
		return nil, err
	}
	v.KeepProofs, v.KeepNotes = keepProofs, keepNotes
	n.auditMu.RLock()
	defer n.auditMu.RUnlock()
	if keepProofs && n.cfg.AuditRetention.ArchiveDir != "" {
		// Proofs from the archive too: a dropped transaction is still
		// provable while its segment is archived.
		if err := n.readArchived(v); err == nil {
			return v, nil
		}
		v, _ = newHistoryVerifier(n.cfg.Name, n.cfg.Cluster, n.cfg.AuditKeysDir)
		v.KeepProofs = true
	}
	from, err := readBase(n.cfg.fs, n.cfg.DataDir, v)
	if err != nil {
		return nil, err
	}
	_, err = readHistory(v, from+1, 0, n.store.Log())
	return v, err
}

// readArchived feeds the whole history, from the archive and the log,
// to v (ArchiveDir set).
func (n *Node) readArchived(v recordReader) error {
	archive, err := storage.OpenLog(n.cfg.fs, n.cfg.AuditRetention.ArchiveDir, storage.LogOptions{})
	if err != nil {
		return err
	}
	defer archive.Close()
	if archive.LastIndex() < archive.FirstIndex() { // nothing archived yet
		return verifyLog(n.store.Log(), v)
	}
	_, err = readHistory(v, 1, 0, archive, n.store.Log())
	return err
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
		writeAuditJSON(w, http.StatusOK, NewAuditReportRange(rep, err))
	})
	mux.HandleFunc("GET /v1/audit/checkpoint", n.serveCheckpoint) // audittiles.go
	mux.HandleFunc("GET /v1/audit/tile/", n.serveTile)
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
