package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package matches one of them
// under errors.Is; most are wrapped with detail.
var (
	// ErrBadMagic is returned by Handshake when the stream does not start
	// with Magic: the peer does not speak this protocol.
	ErrBadMagic = errors.New("wire: bad magic (peer does not speak the Spook link protocol)")
	// ErrFrameTooLarge is returned by ReadFrame for a length above the
	// receiver's limit, and by WriteFrame for a payload above it.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrChecksum is returned by ReadFrame when a frame's checksum does not
	// match: corruption, or a dropped, replayed, reordered or foreign frame.
	ErrChecksum = errors.New("wire: checksum mismatch")
	// ErrMalformed is returned for a frame or handshake message that does
	// not decode: zero length, truncated fields, limits exceeded, or a
	// handshake step out of order.
	ErrMalformed = errors.New("wire: malformed frame")
	// ErrUnknownType is returned by ReadFrame for a frame type this version
	// does not define.
	ErrUnknownType = errors.New("wire: unknown frame type")
	// ErrUnexpectedType is returned when a known frame type arrives where
	// the protocol does not allow it (a Hello after the handshake, a
	// Message during it).
	ErrUnexpectedType = errors.New("wire: unexpected frame type")
	// ErrClusterMismatch is returned by Handshake when the peer belongs to
	// another cluster.
	ErrClusterMismatch = errors.New("wire: cluster id mismatch")
	// ErrNoCommonVersion is returned by Handshake when the version ranges
	// of the two sides do not overlap.
	ErrNoCommonVersion = errors.New("wire: no common protocol version")
	// ErrSameNode is returned by Handshake when the peer has our own node
	// id: a node dialled itself, or two nodes share a name.
	ErrSameNode = errors.New("wire: peer has our node id")
	// ErrPolicy is returned by Handshake when Config.Accept refused the
	// peer; it wraps the policy's own error.
	ErrPolicy = errors.New("wire: refused by policy")
	// ErrAdmission is returned by Handshake when the peer's admission
	// proof does not verify: it holds another cluster key (or none where
	// we have one), or is in another cluster. Nothing identifying has
	// been sent to such a peer.
	ErrAdmission = errors.New("wire: admission refused")
	// ErrRemoved is the reason a member gives to a node an operator
	// removed from the cluster: refused at the handshake, or closed. The
	// text says when (see RemovedText).
	ErrRemoved = errors.New("wire: node was removed from the cluster")
	// ErrTLSRequired is the reason a node that accepts only TLS gives to a
	// plaintext peer (sent by transport's Mux through Refuse).
	ErrTLSRequired = errors.New("wire: TLS required")
	// ErrShutdown is the reason of a Close sent by a node shutting down.
	ErrShutdown = errors.New("wire: peer shutting down")
	// ErrPeerRefused is matched by every *RefusalError: the peer refused
	// the handshake.
	ErrPeerRefused = errors.New("wire: refused by peer")
	// ErrPeerClosed is matched by every *CloseError: the peer sent Close.
	ErrPeerClosed = errors.New("wire: closed by peer")
	// ErrClosed is returned by WriteFrame after WriteClose.
	ErrClosed = errors.New("wire: write after close")
	// ErrConfig is returned by Handshake for an unusable local Config.
	ErrConfig = errors.New("wire: invalid config")
)

// Reason is a refusal or close reason code carried in HelloReply and Close
// frames. Wire format: the values are append-only and never reused.
type Reason uint8

// Reasons. Wire format: append-only.
const (
	ReasonNone            Reason = 0 // accepted / orderly close without a reason
	ReasonMalformed       Reason = 1
	ReasonChecksum        Reason = 2
	ReasonTooLarge        Reason = 3
	ReasonBadMagic        Reason = 4
	ReasonClusterMismatch Reason = 5
	ReasonNoCommonVersion Reason = 6
	ReasonSameNode        Reason = 7
	ReasonPolicy          Reason = 8
	ReasonTLSRequired     Reason = 9
	ReasonShutdown        Reason = 10
	ReasonUnexpectedType  Reason = 11
	ReasonUnknownType     Reason = 12
	ReasonAdmission       Reason = 13
	ReasonRemoved         Reason = 14

	// reasonCount bounds the Counters arrays; a received code at or above
	// it (from a newer peer) is counted as ReasonUnknown.
	reasonCount = 32
	// ReasonUnknown is where counters put a received code this version
	// does not know. It is never sent.
	ReasonUnknown Reason = reasonCount - 1
)

var reasonInfo = [...]struct {
	name string
	err  error
}{
	ReasonNone:            {"none", nil},
	ReasonMalformed:       {"malformed", ErrMalformed},
	ReasonChecksum:        {"checksum", ErrChecksum},
	ReasonTooLarge:        {"too_large", ErrFrameTooLarge},
	ReasonBadMagic:        {"bad_magic", ErrBadMagic},
	ReasonClusterMismatch: {"cluster_mismatch", ErrClusterMismatch},
	ReasonNoCommonVersion: {"no_common_version", ErrNoCommonVersion},
	ReasonSameNode:        {"same_node", ErrSameNode},
	ReasonPolicy:          {"policy", ErrPolicy},
	ReasonTLSRequired:     {"tls_required", ErrTLSRequired},
	ReasonShutdown:        {"shutdown", ErrShutdown},
	ReasonUnexpectedType:  {"unexpected_type", ErrUnexpectedType},
	ReasonUnknownType:     {"unknown_type", ErrUnknownType},
	ReasonAdmission:       {"admission", ErrAdmission},
	ReasonRemoved:         {"removed", ErrRemoved},
}

// String is the reason's metric label, e.g. "cluster_mismatch".
func (r Reason) String() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].name
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Err is the sentinel error for r, or nil for ReasonNone and unknown codes.
func (r Reason) Err() error {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].err
	}
	return nil
}

// ReasonOf maps an error from this package to the Reason that describes it
// to a peer or a metric. Errors from elsewhere (I/O) map to ReasonNone.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	for r := range reasonInfo {
		if s := reasonInfo[r].err; s != nil && errors.Is(err, s) {
			return Reason(r)
		}
	}
	return ReasonNone
}

// Reasons lists every defined reason except ReasonNone, for exporting
// counters with a fixed label set.
func Reasons() []Reason {
	out := make([]Reason, 0, len(reasonInfo))
	for r := 1; r < len(reasonInfo); r++ {
		out = append(out, Reason(r))
	}
	return out
}

// RefusalError is a refusal received from the peer during the handshake.
// errors.Is matches ErrPeerRefused and the sentinel of Reason.
type RefusalError struct {
	Reason Reason
	Text   string // the peer's explanation, at most MaxReasonTextBytes
}

func (e *RefusalError) Error() string {
	return fmt.Sprintf("wire: refused by peer: %s: %s", e.Reason, e.Text)
}

func (e *RefusalError) Unwrap() []error {
	if s := e.Reason.Err(); s != nil {
		return []error{ErrPeerRefused, s}
	}
	return []error{ErrPeerRefused}
}

// CloseError is a Close frame received from the peer. errors.Is matches
// ErrPeerClosed and the sentinel of Reason.
type CloseError struct {
	Reason Reason
	Text   string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wire: closed by peer: %s: %s", e.Reason, e.Text)
}

func (e *CloseError) Unwrap() []error {
	if s := e.Reason.Err(); s != nil {
		return []error{ErrPeerClosed, s}
	}
	return []error{ErrPeerClosed}
}
