package httpapi

import (
	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/internal/buildinfo"
)

// statusDoc is GET /v1/status's document: api.Status, with
// recent_events always present (an empty list when there are none, so a
// client need not tell "none" from "not reported") and the build this
// node runs.
type statusDoc struct {
	api.Status
	// Events shadows api.Status's field of the same JSON name, which is
	// omitted when empty. It holds the same slice.
	Events any `json:"recent_events"`
	// Version is buildinfo's short form ("v1.2.3+5049e3c1a2b4"); Build
	// the whole of it.
	Version string         `json:"version"`
	Build   buildinfo.Info `json:"build"`
}

func statusDocOf(st api.Status) statusDoc {
	bi := buildinfo.Get()
	return statusDoc{Status: st, Events: nonNil(st.Events), Version: bi.Short(), Build: bi}
}
