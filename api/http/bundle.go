package httpapi

import (
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

// bundleExport is POST /v1/bundle/export with {"since": {...}}: the bundle
// bytes (application/octet-stream), header Spook-Bundle-Txns giving the
// count.
func (s *Server) bundleExport(w http.ResponseWriter, r *http.Request) {
	b, ok := s.bundler(w)
	if !ok {
		return
	}
	var req struct {
		Since vectorDoc `json:"since"`
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
	file, count, err := b.ExportBundle(since)
	if err != nil {
		writeError(w, http.StatusConflict, "too_far", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Spook-Bundle-Txns", strconv.Itoa(count))
	w.WriteHeader(http.StatusOK)
	w.Write(file)
}

// bundleImport is POST /v1/bundle/import with the bundle as the body:
// {"txns": N, "applied": M}.
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
	txns, applied, err := b.ImportBundle(r.Context(), file)
	if errors.Is(err, api.ErrBadBundle) {
		writeError(w, http.StatusBadRequest, "bad_bundle", err.Error())
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"txns": txns, "applied": applied})
}
