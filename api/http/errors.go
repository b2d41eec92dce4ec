package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
)

// apiError is an error with its HTTP status and JSON code.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func newError(status int, code, message string) *apiError {
	return &apiError{status, code, message}
}

// Errors shared by the handlers.
var (
	errWrongType = newError(http.StatusConflict, "wrong_type", "operation against a key holding the wrong kind of value")
	errReserved  = newError(http.StatusForbidden, "reserved_key", "keys starting with \"\\x00spook/\" are reserved")
	errEmptyKey  = newError(http.StatusBadRequest, "bad_request", "empty key")
)

// classify maps any error to its status, code and message.
func classify(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, api.ErrUnknownOutcome):
		return newError(http.StatusInternalServerError, "unknown_outcome",
			"the write was applied locally but its durability is unknown: "+err.Error())
	case errors.Is(err, api.ErrStopped):
		return newError(http.StatusServiceUnavailable, "stopped", err.Error())
	case errors.Is(err, api.ErrRemoved):
		return newError(http.StatusGone, "removed", err.Error())
	case errors.Is(err, api.ErrReadOnly):
		return newError(http.StatusServiceUnavailable, "read_only", err.Error())
	case errors.Is(err, audit.ErrNoRights):
		return newError(http.StatusForbidden, "no_rights", err.Error())
	case errors.Is(err, crdt.ErrTxnTooBig):
		return newError(http.StatusRequestEntityTooLarge, "txn_too_big", err.Error())
	case errors.Is(err, crdt.ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, "too_large", err.Error())
	case errors.Is(err, crdt.ErrKeyTooLong):
		return newError(http.StatusBadRequest, "key_too_long", err.Error())
	case errors.Is(err, crdt.ErrOverflow):
		return newError(http.StatusConflict, "overflow", err.Error())
	case errors.Is(err, crdt.ErrWrongType):
		return errWrongType
	case errors.Is(err, crdt.ErrNotInteger):
		return newError(http.StatusConflict, "not_integer", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newError(http.StatusServiceUnavailable, "canceled", err.Error())
	}
	return newError(http.StatusInternalServerError, "internal", err.Error())
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Op      *int   `json:"op,omitempty"` // index of the failing /v1/txn operation
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func writeErr(w http.ResponseWriter, err error) {
	var oe *opError
	if errors.As(err, &oe) {
		e := classify(oe.err)
		var b errorBody
		b.Error.Code, b.Error.Message, b.Error.Op = e.code, e.message, &oe.index
		writeJSON(w, e.status, b)
		return
	}
	e := classify(err)
	writeError(w, e.status, e.code, e.message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
