package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Ready is the output of the replica since the last Advance: what the
// driver must persist, send and publish. The driver handles it in this
// order, then calls Advance:
//
//  1. If Snapshot is non-nil, persist it as the new base state: it
//     replaces every earlier snapshot and record (Restore takes it plus the
//     records emitted after it).
//  2. Append Records to the log, in order. Under fsync policies always
//     and batch they must be durable (fsynced) before step 3; under none,
//     handed to the operating system.
//  3. Send Messages, in order per destination. Every message advertises
//     the applied vector, which includes the Records above (and those of
//     earlier Readys), so no message may leave before they are persisted.
//  4. Publish Changes (to watchers) and Events, in order. They describe
//     persisted state.
//  5. Call Advance.
//
// Slices in a Ready are owned by the driver after Ready returns; byte
// slices inside them (keys, record bytes) must not be modified.
type Ready struct {
	// Snapshot, when non-nil, is a whole persisted state (see Restore):
	// emitted when a joining node installs a snapshot it pulled, or a
	// member joins a peer's whole state in a repair.
	Snapshot []byte
	// Records are opaque log records, to be appended in order and handed
	// back to Restore after a restart. Each is at most
	// limits.MaxRecordBytes (a larger repair comes as chunk records and a
	// commit record, applied by Restore only together).
	Records [][]byte
	// Messages to send, each to one node.
	Messages []Envelope
	// Changes lists keys changed by applied transactions and repairs,
	// local and remote, in the order applied. Internal keys are omitted.
	// A joining node's snapshot install reports none (EventJoined stands
	// for the whole state); a repair by snapshot reports every key whose
	// state changed.
	Changes []Change
	// Events lists state changes of peers, membership, and coherence.
	Events []Event
}

// Envelope is one message to one node.
type Envelope struct {
	To      causal.NodeID
	Message Message
	// Bytes estimates the encoded size of a MsgTxns batch (the sum of its
	// transactions' record sizes), for the driver's flow control; zero
	// for other messages.
	Bytes int
	// Push marks a MsgTxns batch this node pushes unasked (its own new
	// transactions), as opposed to an answer to a peer's fetch: the
	// driver's flow control applies to pushes only.
	Push bool
}

// Change is one key changed by an applied transaction or a repair.
type Change struct {
	Key     []byte    // aliases replica state: read-only
	Type    crdt.Type // visible type after the change (TypeNone if deleted)
	Deleted bool      // the key holds nothing live any more
	// Expired: the transaction deleted the key after its deadline had
	// passed (at the transaction's time): a reclaim.
	Expired bool
	Origin  causal.NodeID
}

// EventType names what an Event reports. Values are stable (logs, metrics).
type EventType uint8

const (
	EventPeerAlive       EventType = iota + 1 // a member answered again (or for the first time)
	EventPeerSuspect                          // a member missed a probe round
	EventPeerUnreachable                      // a suspect stayed silent for SuspectTicks
	EventMemberJoined                         // a membership record for a new member was applied
	EventMemberLeft                           // a member marked itself left
	EventMemberRemoved                        // a member was removed by an operator
	EventJoined                               // this node installed a snapshot and joined
	EventDivergence                           // equal applied vectors, different state hashes
	EventRepairStarted                        // a reconciliation session began
	EventRepaired                             // a reconciliation session completed
	EventRepairAborted                        // a reconciliation session was abandoned
	EventBufferFull                           // an out-of-order transaction was dropped
	EventClockRefused                         // a remote transaction's timestamp was too far ahead
	EventMessageRefused                       // a message was refused (Step returned an error)
	EventCatchUpTooFar                        // a peer asked for transactions below our retained log
	// EventPeerBehindLog: the retained log dropped a transaction a current
	// member has not acknowledged (its bound was reached, typically while
	// the member is down). The member can no longer catch up from the log:
	// it will be repaired by reconciliation. Raised once per episode;
	// Member.BehindLog stays set until the member has caught up.
	EventPeerBehindLog
	// EventAuditRefused: in audit mode, a remote transaction whose seal
	// did not verify (bad signature, unknown origin key, unsigned) or did
	// not continue its origin's chain was refused and never applied.
	EventAuditRefused
	// EventCheckpointGap: in audit mode, this member cannot compute the
	// next checkpoint (it lacks a transaction the checkpoint covers, or
	// too many wait) and stops checkpointing; see checkpoint.go.
	EventCheckpointGap
	// EventRightsRefused: with write rights on, a remote transaction
	// outside the rights of the policy in its causal past (or writing a
	// policy key without a correctly signed new policy) was refused and
	// never applied; see policy.go. Or a repair (reconciliation, snapshot
	// transfer, state bundle) from Node was refused whole, Dot being the
	// writer outside its rights (zero for a removal); see
	// repairrights.go.
	EventRightsRefused
)

var eventNames = [...]string{"", "peer-alive", "peer-suspect", "peer-unreachable", "member-joined",
	"member-left", "member-removed", "joined", "divergence", "repair-started", "repaired",
	"repair-aborted", "buffer-full", "clock-refused", "message-refused", "catch-up-too-far", "peer-behind-log", "audit-refused", "checkpoint-gap", "rights-refused"}

func (t EventType) String() string {
	if int(t) < len(eventNames) && t != 0 {
		return eventNames[t]
	}
	return fmt.Sprintf("event(%d)", uint8(t))
}

// Event reports something the operator or the driver should know.
type Event struct {
	Type   EventType
	Tick   uint64        // the replica's tick count when it happened
	Node   causal.NodeID // the peer concerned (zero if none)
	Dot    causal.Dot    // the transaction concerned (zero if none)
	Reason string        // human-readable detail
}

func (e Event) String() string {
	s := e.Type.String()
	if e.Node != 0 {
		s += " node=" + e.Node.String()
	}
	if !e.Dot.IsZero() {
		s += " dot=" + e.Dot.String()
	}
	if e.Reason != "" {
		s += " reason=" + e.Reason
	}
	return s
}
