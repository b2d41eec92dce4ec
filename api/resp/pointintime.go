package resp

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
)

// PointInTime is implemented by a Backend that can read the state as of
// a checkpoint (the node in audit mode, docs/audit.md); SPOOK.GETAT reads
// through it, as HTTP's GET /v1/kv/KEY?at=N does.
type PointInTime interface {
	ViewAt(ctx context.Context, checkpoint uint64, fn func(ks *crdt.Keyspace) error) error
}

// cmdSpookGetAt is SPOOK.GETAT key checkpoint: GET of key in the state at
// checkpoint N (≥ 1), rebuilt from the node's history or kept from an
// earlier rebuild. A node not in audit mode, or a checkpoint it does not
// hold, answers an error; too many rebuilds waiting answer -BUSY.
func cmdSpookGetAt(s *Server, c *client, args [][]byte) {
	n, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil || n == 0 {
		c.out.WriteError("ERR checkpoint must be an integer ≥ 1")
		return
	}
	pit, ok := s.backend.(PointInTime)
	if !ok {
		c.out.WriteError("ERR SPOOK.GETAT needs audit mode (spookd --audit-keys)")
		return
	}
	var out []byte
	err = pit.ViewAt(s.ctx, n, func(ks *crdt.Keyspace) error {
		out = readGet(view{ks}, [][]byte{args[0], args[1]}, nil)
		return nil
	})
	if errors.Is(err, api.ErrAtReadBusy) {
		c.out.WriteError("BUSY " + oneLine(err.Error()))
		return
	}
	if err != nil {
		c.out.WriteError("ERR " + oneLine(fmt.Sprintf("read at checkpoint %d: %v", n, err)))
		return
	}
	c.out.WriteRaw(out)
}
