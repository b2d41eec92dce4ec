package node

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/spooksystems/spook/audit"
)

// The checkpoint log in the tlog tiles format (docs/audit.md, "Tiles"),
// as golang.org/x/mod/sumdb/tlog reads it with TileHashReader:
//
//	GET /v1/audit/checkpoint             the newest signed tree head (a note)
//	GET /v1/audit/tile/H/L/K[.p/W]       a hash tile (tlog.Tile.Path)
//	GET /v1/audit/tile/H/data/K[.p/W]    the leaves of tile K: W × 48 bytes
//
// A tile is served only when it lies within the newest signed tree head,
// so what a client fetches is always checkable against a signed root.
// Tiles are computed from the node's history per request (the history
// is verified first), like proofs.

// serveCheckpoint answers GET /v1/audit/checkpoint: the newest signed
// tree head, as logged (text/plain; note.Open reads it).
func (n *Node) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	v, err := n.auditHistoryOpts(false, true)
	if err != nil {
		writeAuditErr(w, err)
		return
	}
	notes := v.Checkpoints()
	if len(notes) == 0 {
		writeAuditJSON(w, http.StatusNotFound, AuditReport{Error: "no checkpoint yet"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(notes[len(notes)-1].Note)
}

// serveTile answers GET /v1/audit/tile/...: a hash or data tile.
func (n *Node) serveTile(w http.ResponseWriter, r *http.Request) {
	t, err := tlog.ParseTilePath(strings.TrimPrefix(r.URL.Path, "/v1/audit/"))
	if err != nil {
		writeAuditJSON(w, http.StatusBadRequest, AuditReport{Error: err.Error()})
		return
	}
	v, err := n.auditHistoryOpts(false, true)
	if err != nil {
		writeAuditErr(w, err)
		return
	}
	notes := v.Checkpoints()
	size := int64(0)
	if len(notes) > 0 {
		size = notes[len(notes)-1].N
	}
	level := max(t.L, 0)
	if end := (t.N<<t.H + int64(t.W)) << (level * t.H); end > size || end <= 0 || size > v.Tree().Size() {
		writeAuditJSON(w, http.StatusNotFound, AuditReport{Error: fmt.Sprintf(
			"tile %s lies beyond the newest signed tree head (%d leaves)", t.Path(), size)})
		return
	}
	var data []byte
	if t.L == -1 {
		for i := t.N << t.H; i < t.N<<t.H+int64(t.W); i++ {
			leaf, err := v.Tree().LeafData(i)
			if err != nil {
				status := http.StatusInternalServerError
				if errors.Is(err, audit.ErrDropped) {
					status = http.StatusNotFound
				}
				writeAuditJSON(w, status, AuditReport{Error: err.Error()})
				return
			}
			data = append(data, leaf...)
		}
	} else if data, err = tlog.ReadTileData(t, v.Tree()); err != nil {
		writeAuditErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(data)
}
