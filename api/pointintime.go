package api

import "errors"

// ErrAtReadBusy is returned by a backend's point-in-time read (the node
// in audit mode: GET /v1/kv/KEY?at=N, SPOOK.GETAT, replay) when too many
// requests already wait to rebuild a state from the history; the client
// may retry later. HTTP answers 503, RESP -BUSY.
var ErrAtReadBusy = errors.New("api: too many point-in-time rebuilds waiting; retry later")
