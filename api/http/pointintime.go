package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// PointInTime is implemented by a Backend that can read the state as of
// a checkpoint (the node in audit mode, docs/audit.md): GET
// /v1/kv/KEY?at=N reads through it.
type PointInTime interface {
	ViewAt(ctx context.Context, checkpoint uint64, fn func(ks *crdt.Keyspace) error) error
}

// viewFor returns how getKey reads: the live state, or with ?at=N the
// state at checkpoint N. A failure is written to w and returns nil.
func (s *Server) viewFor(w http.ResponseWriter, r *http.Request) func(fn func(ks *crdt.Keyspace) error) error {
	at := r.URL.Query().Get("at")
	if at == "" {
		return s.backend.View
	}
	n, err := strconv.ParseUint(at, 10, 64)
	if err != nil || n == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("at=%q: give a checkpoint index ≥ 1", at))
		return nil
	}
	pit, ok := s.backend.(PointInTime)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "point-in-time reads need audit mode (spookd --audit-keys)")
		return nil
	}
	return func(fn func(ks *crdt.Keyspace) error) error {
		err := pit.ViewAt(r.Context(), n, fn)
		switch {
		case errors.Is(err, api.ErrAtReadBusy):
			return newError(http.StatusServiceUnavailable, "busy", fmt.Sprintf("read at checkpoint %d: %v", n, err))
		case err != nil:
			return newError(http.StatusNotFound, "checkpoint_unavailable", fmt.Sprintf("read at checkpoint %d: %v", n, err))
		}
		return nil
	}
}
