package replica

import (
	"errors"
	"fmt"

	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/limits"
)

// Errors returned by the replica.
var (
	// ErrConfig: New or Restore was given an invalid Config.
	ErrConfig = errors.New("replica: invalid config")
	// ErrTxnTooLarge: Propose refused a transaction whose encoded record
	// would exceed limits.MaxTxnBytes (and so might not fit a log record
	// or a frame). Nothing was applied, logged or sent; the node stays
	// writable. It wraps crdt.ErrTxnTooBig.
	ErrTxnTooLarge = fmt.Errorf("replica: transaction larger than %d bytes: %w", limits.MaxTxnBytes, crdt.ErrTxnTooBig)
	// ErrReadOnly: Propose (or Leave, Remove) on a node that is not a
	// member: still joining, left, or removed.
	ErrReadOnly = errors.New("replica: node does not accept writes")
	// ErrUnknownMember: Remove of a node that is not a member.
	ErrUnknownMember = errors.New("replica: unknown member")
	// ErrBadMessage: Step refused a message (malformed, or not valid in
	// the replica's state). No state changed.
	ErrBadMessage = errors.New("replica: bad message")
	// ErrBadRecord: Restore met a record or snapshot it cannot decode.
	ErrBadRecord = errors.New("replica: bad record")
	// ErrDecode: LinkCodec.Decode refused a payload. The link session
	// must be closed: the dictionaries are no longer in step.
	ErrDecode = errors.New("replica: bad message payload")
	// ErrEncode: LinkCodec.Encode refused a message (a programmer error
	// such as an unknown type, or a value over a limit). The link session
	// must be closed.
	ErrEncode = errors.New("replica: cannot encode message")
)
