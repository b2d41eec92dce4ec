package causal

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// NodeID names a replica. Zero means "no node" and is never a valid writer.
type NodeID uint64

// NodeIDFromName derives the ID of the node called name. It is a 64-bit
// hash, so two names collide with negligible probability; the membership
// layer refuses a join whose ID is already taken by another name.
func NodeIDFromName(name string) NodeID {
	id := NodeID(xxhash.Sum64String(name))
	if id == 0 {
		id = 1 // Zero is reserved; one name in 2^64 is remapped.
	}
	return id
}

// String prints the ID as 16 hex digits, the form used in logs and APIs.
func (n NodeID) String() string { return fmt.Sprintf("%016x", uint64(n)) }

// Dot names one transaction: the Counter-th transaction written by Node.
// Counters start at 1.
type Dot struct {
	Node    NodeID
	Counter uint64
}

// IsZero reports whether d is the zero Dot, which names no transaction.
func (d Dot) IsZero() bool { return d.Node == 0 && d.Counter == 0 }

// Less orders dots by node, then counter: the canonical order used by every
// encoding that lists dots.
func (d Dot) Less(o Dot) bool {
	if d.Node != o.Node {
		return d.Node < o.Node
	}
	return d.Counter < o.Counter
}

func (d Dot) String() string { return fmt.Sprintf("%s:%d", d.Node, d.Counter) }

// MarshalText writes the ID as 16 hex digits, so JSON carries it as a
// string (a 64-bit number would lose precision in JavaScript clients).
func (n NodeID) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText reads 16 hex digits written by MarshalText.
func (n *NodeID) UnmarshalText(b []byte) error {
	var v uint64
	if _, err := fmt.Sscanf(string(b), "%x", &v); err != nil || len(b) == 0 || len(b) > 16 {
		return fmt.Errorf("causal: node id %q is not 1 to 16 hex digits", b)
	}
	*n = NodeID(v)
	return nil
}
