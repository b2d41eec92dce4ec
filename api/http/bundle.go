package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
)

// MaxBundleBodyBytes bounds an uploaded bundle.
const MaxBundleBodyBytes = 256 << 20

// vectorDoc is a version vector in JSON: node id (16 hex digits) → counter.
type vectorDoc map[string]uint64

func vectorToDoc(v causal.VersionVector) vectorDoc {
	d := vectorDoc{}
	for _, e := range v.Entries() {
		d[e.Node.String()] = e.Counter
	}
	return d
}

func docToVector(d vectorDoc) (causal.VersionVector, error) {
	var v causal.VersionVector
	for k, c := range d {
		var id causal.NodeID
		if err := id.UnmarshalText([]byte(k)); err != nil || id == 0 {
			return v, badOp("vector: %q is not a node id", k)
		}
		v.Set(id, c)
	}
	return v, nil
}

func (s *Server) bundler(w http.ResponseWriter) (api.Bundler, bool) {
	b, ok := s.backend.(api.Bundler)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "this backend has no bundles")
	}
	return b, ok
}

// bundleVector is GET /v1/bundle/vector: {"vector": {...}}, what this
// node has applied — the "since" of an export meant for it.
func (s *Server) bundleVector(w http.ResponseWriter, r *http.Request) {
	b, ok := s.bundler(w)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]vectorDoc{"vector": vectorToDoc(b.AppliedVector())})
}

// StateBundler is implemented by bundlers that can also carry the whole
// state (package node): the fallback when the retained log does not reach
// back to the receiver's vector.
type StateBundler interface {
	// ExportState returns the whole state as a state bundle and its key
	// count.
	ExportState() (file []byte, keys int, err error)
	// ImportState joins a state bundle into the node's state. ok is false,
	// and nothing done, when file is not a state bundle.
	ImportState(ctx context.Context, file []byte) (keys, changed int, ok bool, err error)
}

// bundleExport is POST /v1/bundle/export with {"since": {...}}: the bundle
// bytes (application/octet-stream). Header Spook-Bundle-Kind says which
// kind: "txns" (the transactions since lacks; Spook-Bundle-Txns gives
// their count) or "state" (the whole state; Spook-Bundle-Keys gives its
// keys). A state bundle is sent when the request asks for one
// ("state": true) or when the retained log no longer reaches back to
// since — a fresh node, one far behind, or no since at all on a node whose
// log was compacted.
func (s *Server) bundleExport(w http.ResponseWriter, r *http.Request) {
	b, ok := s.bundler(w)
	if !ok {
		return
	}
	var req struct {
		Since vectorDoc `json:"since"`
		State bool      `json:"state"`
	}
	if err := readJSON(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	since, err := docToVector(req.Since)
	if err != nil {
		writeErr(w, err)
		return
	}
	sb, canState := s.backend.(StateBundler)
	if !req.State {
		file, count, err := b.ExportBundle(since)
		switch {
		case err == nil:
			writeBundle(w, file, "txns", "Spook-Bundle-Txns", count)
			return
		case !canState:
			writeError(w, http.StatusConflict, "too_far", err.Error())
			return
		}
	} else if !canState {
		writeError(w, http.StatusNotImplemented, "not_supported", "this backend has no state bundles")
		return
	}
	file, keys, err := sb.ExportState()
	if err != nil {
		writeErr(w, err)
		return
	}
	writeBundle(w, file, "state", "Spook-Bundle-Keys", keys)
}

func writeBundle(w http.ResponseWriter, file []byte, kind, countHeader string, count int) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Spook-Bundle-Kind", kind)
	w.Header().Set(countHeader, strconv.Itoa(count))
	w.WriteHeader(http.StatusOK)
	w.Write(file)
}

// bundleImport is POST /v1/bundle/import with the bundle as the body:
// {"kind": "txns", "txns": N, "applied": M, "refused": R} for a
// transaction bundle (R: refused by the audit or rights checks),
// {"kind": "state", "keys": N, "changed": M} for a state bundle.
func (s *Server) bundleImport(w http.ResponseWriter, r *http.Request) {
	b, ok := s.bundler(w)
	if !ok {
		return
	}
	file, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBundleBodyBytes))
	if err != nil {
		writeErr(w, bodyError(err))
		return
	}
	if sb, ok := s.backend.(StateBundler); ok {
		keys, changed, isState, err := sb.ImportState(r.Context(), file)
		if isState {
			if errors.Is(err, api.ErrBadBundle) {
				writeError(w, http.StatusBadRequest, "bad_bundle", err.Error())
				return
			}
			if err != nil {
				writeErr(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"kind": "state", "keys": keys, "changed": changed})
			return
		}
	}
	res, err := b.ImportBundle(r.Context(), file)
	if errors.Is(err, api.ErrBadBundle) {
		writeError(w, http.StatusBadRequest, "bad_bundle", err.Error())
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "txns", "txns": res.Txns, "applied": res.Applied, "refused": res.Refused})
}
