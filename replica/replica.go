package replica

import (
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Token names one transaction: its dot. The zero Token names none.
type Token = causal.Dot

// Replica is one node's replication state machine. It is not safe for
// concurrent use: the driver serializes every call.
type Replica struct {
}

// New creates the replica of a node with no persisted state.
func New(cfg Config) (*Replica, error) { panic("TODO") }

// Restore recreates a replica from persisted state: the last Snapshot the
// replica emitted (nil if none) and the Records emitted after it, in order.
func Restore(cfg Config, snapshot []byte, records [][]byte) (*Replica, error) { panic("TODO") }

// ID is this node's ID.
func (r *Replica) ID() causal.NodeID { panic("TODO") }

// Propose runs fn on a transaction builder and, if fn succeeds and the
// transaction changes something, commits it: the next dot of this node,
// the HLC time from the physical time last passed to Tick, applied at once,
// logged and queued to peers. An empty transaction returns the zero Token.
// If fn fails, nothing changes and its error is returned. ErrReadOnly if
// this node is not a member. fn must not write internal keys.
func (r *Replica) Propose(fn func(b *crdt.Builder) error) (Token, error) { panic("TODO") }

// Leave proposes this node's departure. Afterwards it is read-only; the
// driver keeps it running until the returned token is applied by the other
// members (AppliedBy), then stops it.
func (r *Replica) Leave() (Token, error) { panic("TODO") }

// Remove proposes the removal of member id (an operator action for a dead
// member): collapse then proceeds without it.
func (r *Replica) Remove(id causal.NodeID) (Token, error) { panic("TODO") }

// Step processes one message from node from. A message that is malformed
// or invalid returns an error wrapping ErrBadMessage and changes nothing.
func (r *Replica) Step(from causal.NodeID, m Message) error { panic("TODO") }

// Tick advances logical time by one tick; nowMs is the physical time in
// milliseconds (possibly skewed or simulated) used by the HLC.
func (r *Replica) Tick(nowMs uint64) { panic("TODO") }

// HasReady reports whether Ready would return anything.
func (r *Replica) HasReady() bool { panic("TODO") }

// Ready returns the output accumulated since the last Advance. See Ready
// for the order in which the driver must handle it. Calling Ready twice
// without Advance in between panics.
func (r *Replica) Ready() Ready { panic("TODO") }

// Advance tells the replica the last Ready has been handled.
func (r *Replica) Advance() { panic("TODO") }

// Keyspace returns the state for reading. The driver must not modify it
// and must not call other methods while using it.
func (r *Replica) Keyspace() *crdt.Keyspace { panic("TODO") }

// Applied returns the applied version vector (a copy).
func (r *Replica) Applied() causal.VersionVector { panic("TODO") }

// CollapsedVector returns the collapsed cut: the meet of every current
// member's applied vector (a copy).
func (r *Replica) CollapsedVector() causal.VersionVector { panic("TODO") }

// Collapsed reports whether t is applied by every current member.
func (r *Replica) Collapsed(t Token) bool { panic("TODO") }

// AppliedBy returns how many current members (this node included) are
// known to have applied t.
func (r *Replica) AppliedBy(t Token) int { panic("TODO") }

// Members returns every known member, sorted by ID.
func (r *Replica) Members() []Member { panic("TODO") }

// Status is a summary of the replica for operators.
type Status struct {
	ID        causal.NodeID
	Name      string
	Cluster   string
	State     NodeState
	Keys      int
	Hash      uint64
	Applied   causal.VersionVector
	Collapsed causal.VersionVector
	Pending   int // transactions in the causal buffer
	Retained  int // transactions in the retained log
	Tick      uint64
	Repairing bool // a reconciliation session is active
	Members   []Member
}

// Status returns a summary of the replica.
func (r *Replica) Status() Status { panic("TODO") }
