package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spooksystems/spook/api"
)

// checkRemovable refuses, before any write, a removal the operator cannot
// have meant: this node itself (409 is_self: a node leaves, it is not
// removed) or a name no member has (404 no_member, listing the members by
// name). Members are named as people name them, never by hex id.
func checkRemovable(st api.Status, name string) error {
	if name == st.Name {
		return newError(http.StatusConflict, "is_self",
			name+" is this node: a node does not remove itself, it leaves (POST /v1/leave on it, or spook member leave)")
	}
	names := make([]string, 0, len(st.Members))
	for _, m := range st.Members {
		if m.Name == name {
			return nil
		}
		names = append(names, m.Name)
	}
	return newError(http.StatusNotFound, "no_member",
		fmt.Sprintf("no member named %q (members: %s)", name, strings.Join(names, ", ")))
}

// Leaver is implemented by backends that can leave the cluster
// gracefully (package node). Leave proposes the departure and waits until
// the other reachable members have it or ctx ends; it returns the token
// of the departure (zero if the node had already left), the members that
// acknowledged it and those still pending, by name.
type Leaver interface {
	LeaveCluster(ctx context.Context) (tok api.Token, acknowledged, pending []string, err error)
}

// leaveReply is POST /v1/leave's answer.
type leaveReply struct {
	Token        string   `json:"token,omitempty"`
	Left         bool     `json:"left"`
	Acknowledged []string `json:"acknowledged_by"`
	Pending      []string `json:"pending"`
}

// leave is POST /v1/leave[?timeout_ms=N]: this node leaves the cluster
// gracefully (Consul's `leave`). It answers once every alive or suspect
// member has the departure (200, "left": true) or when the timeout
// passes (202, "left": false, with the members still pending: the
// departure is recorded and spreads when they sync). Afterwards the node
// refuses writes and serves reads until it is stopped.
func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	l, ok := s.backend.(Leaver)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "this node cannot leave a cluster")
		return
	}
	timeout, err := timeoutParam(r, DefaultLeaveTimeout)
	if err != nil {
		writeErr(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	tok, acked, pending, err := l.LeaveCluster(ctx)
	reply := leaveReply{Left: len(pending) == 0, Acknowledged: nonNil(acked), Pending: nonNil(pending)}
	if !tok.IsZero() {
		reply.Token = formatToken(tok)
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, reply)
	case ctx.Err() != nil && r.Context().Err() == nil:
		writeJSON(w, http.StatusAccepted, reply)
	default:
		writeErr(w, err)
	}
}

// DefaultLeaveTimeout is POST /v1/leave's wait when timeout_ms is not
// given; it is capped at MaxWaitTimeout like /v1/wait.
const DefaultLeaveTimeout = 30 * time.Second

// timeoutParam reads the timeout_ms query parameter: def when absent or
// 0, capped at MaxWaitTimeout.
func timeoutParam(r *http.Request, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get("timeout_ms")
	if v == "" {
		return def, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, newError(http.StatusBadRequest, "bad_request", fmt.Sprintf("timeout_ms %q is not a number of milliseconds", v))
	}
	if ms == 0 {
		return def, nil
	}
	return min(time.Duration(ms)*time.Millisecond, MaxWaitTimeout), nil
}

// nonNil returns s, or an empty slice for nil, so JSON shows [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
