package replica

import (
	"bytes"

	"github.com/spooksystems/spook/causal"
)

// MemberPrefix starts every internal key that holds membership records.
// Keys starting with InternalPrefix are replica state, not user data:
// client surfaces hide them (IsInternalKey) and refuse writes to them.
const (
	InternalPrefix = "\x00spook/"
	MemberPrefix   = InternalPrefix + "members/"
)

// IsInternalKey reports whether key is reserved for the replica's own
// state and must be hidden from client reads and refused for client writes.
func IsInternalKey(key []byte) bool { return bytes.HasPrefix(key, []byte(InternalPrefix)) }

// PeerState is a member's state as this node sees it. Values are stable.
type PeerState uint8

const (
	StateAlive       PeerState = iota + 1 // answering probes (or never probed yet)
	StateSuspect                          // missed a probe round
	StateUnreachable                      // suspect for SuspectTicks
	StateLeft                             // left gracefully (membership record)
	StateRemoved                          // removed by an operator (membership record)
)

func (s PeerState) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateSuspect:
		return "suspect"
	case StateUnreachable:
		return "unreachable"
	case StateLeft:
		return "left"
	case StateRemoved:
		return "removed"
	}
	return "unknown"
}

// Current reports whether a member in state s counts for collapse.
func (s PeerState) Current() bool {
	return s == StateAlive || s == StateSuspect || s == StateUnreachable
}

// Member is one node of the cluster as this node sees it.
type Member struct {
	ID      causal.NodeID
	Name    string
	Addr    string
	Self    bool
	State   PeerState
	Applied causal.VersionVector // last applied vector heard from it (own: current)
	// BehindLog reports that the member lacks transactions this node's
	// retained log no longer holds (EventPeerBehindLog): it must be
	// repaired by reconciliation, not by catch-up. Cleared once it has
	// applied everything below the log's floor.
	BehindLog bool
}

// NodeState is this node's own membership state.
type NodeState uint8

const (
	NodeJoining NodeState = iota + 1 // waiting for a snapshot; read-only
	NodeMember                       // a current member; accepts writes
	NodeLeft                         // left the cluster; read-only
	NodeRemoved                      // removed by an operator; read-only
)

func (s NodeState) String() string {
	switch s {
	case NodeJoining:
		return "joining"
	case NodeMember:
		return "member"
	case NodeLeft:
		return "left"
	case NodeRemoved:
		return "removed"
	}
	return "unknown"
}
