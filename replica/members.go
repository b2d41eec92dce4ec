package replica

import (
	"bytes"
	"errors"
	"fmt"

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
	Region  string // from its membership record; "" if none (Config.Region)
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

// ErrRemoved: Propose (or Leave, Remove) on a node an operator removed
// from the cluster. Returned as a *RemovedError, which also matches
// ErrReadOnly. The node never accepts writes again under its name: to
// rejoin, wipe its data directory and join under a new name.
var ErrRemoved = errors.New("replica: this node was removed from the cluster")

// RemovedError says which cluster removed this node and when.
type RemovedError struct {
	Cluster string
	// AtMs is the removal's time in milliseconds since the Unix epoch
	// (the removing member's clock), 0 if unknown.
	AtMs uint64
}

func (e *RemovedError) Error() string {
	if e.AtMs == 0 {
		return fmt.Sprintf("this node was removed from cluster %q", e.Cluster)
	}
	return fmt.Sprintf("this node was removed from cluster %q at %s", e.Cluster, formatUTCMs(e.AtMs))
}

// Is matches ErrRemoved and ErrReadOnly.
func (e *RemovedError) Is(target error) bool { return target == ErrRemoved || target == ErrReadOnly }

// formatUTCMs writes a Unix time in milliseconds as RFC 3339 UTC with
// milliseconds, without package time (this package reads no clock):
// days to civil date by the proleptic Gregorian algorithm.
func formatUTCMs(ms uint64) string {
	secs := ms / 1000
	days := int64(secs / 86400)
	rem := secs % 86400
	// Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
		y++
	}
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, rem/3600, rem/60%60, rem%60, ms%1000)
}
