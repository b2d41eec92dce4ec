package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Errors a Backend returns.
var (
	// ErrStopped: the node is shutting down or has failed (for example
	// fail-stop after an fsync error); no write was made.
	ErrStopped = errors.New("api: node stopped")
	// ErrReadOnly: the node refuses writes (rebuilding, or fail-stopped);
	// no write was made.
	ErrReadOnly = errors.New("api: node is read-only")
	// ErrUnknownOutcome: the write was applied in memory (it may be
	// visible), but the node failed or stopped, or the caller gave up,
	// before its durability promise held: it may or may not survive a
	// restart. Clients must not assume either way.
	ErrUnknownOutcome = errors.New("api: write outcome unknown")
	// ErrRemoved: an operator removed this node from its cluster; it
	// refuses writes for good. Returned as a *RemovedError, which also
	// matches ErrReadOnly.
	ErrRemoved = errors.New("api: node was removed from the cluster")
)

// RemovedError is a write refused because an operator removed this node
// from its cluster. RESP shows it as "-REMOVED <Error()>", HTTP as 410
// with code "removed".
type RemovedError struct {
	Cluster string
	At      time.Time // zero if unknown
}

func (e *RemovedError) Error() string {
	if e.At.IsZero() {
		return fmt.Sprintf("this node was removed from cluster %s", e.Cluster)
	}
	return fmt.Sprintf("this node was removed from cluster %s at %s", e.Cluster, e.At.UTC().Format(time.RFC3339))
}

// Is matches ErrRemoved and ErrReadOnly.
func (e *RemovedError) Is(target error) bool { return target == ErrRemoved || target == ErrReadOnly }

// Token names one committed transaction. The zero Token means no write.
type Token struct {
	Dot causal.Dot
}

// IsZero reports whether t names no transaction.
func (t Token) IsZero() bool { return t.Dot.IsZero() }

// Change is one key changed by a transaction, local or remote, published
// in the order the node applied them.
type Change struct {
	Key     []byte
	Type    crdt.Type // visible type after the change (TypeNone if deleted)
	Deleted bool      // the key holds nothing live any more
	// Expired: the key was deleted after its deadline had passed (the
	// reclaim of an expired key); Deleted is set too.
	Expired bool
	Origin  causal.NodeID
}

// Subscription delivers changes to one watcher. C is closed when the
// subscription ends (Close, shutdown, or the watcher fell more than its
// buffer behind, in which case Err reports ErrWatchOverflow). A
// subscription refused at Watch (ErrTooManyWatchers) has ended already:
// Err reports why as soon as Watch returns.
type Subscription interface {
	C() <-chan Change
	Err() error
	Close()
}

// ErrWatchOverflow ends a subscription whose reader fell behind by more than
// its buffer: a watcher never makes the node buffer without bound.
var ErrWatchOverflow = errors.New("api: watcher fell behind; subscription closed")

// ErrTooManyWatchers is the Err of a subscription refused because the
// backend has as many watchers as it allows; its C is closed at once.
var ErrTooManyWatchers = errors.New("api: too many watchers on this node")

// MemberStatus describes one member as this node sees it.
type MemberStatus struct {
	ID      causal.NodeID     `json:"id"`
	Name    string            `json:"name"`
	Addr    string            `json:"addr,omitempty"`
	Region  string            `json:"region"`   // from its membership record; "" if none
	State   string            `json:"state"`    // alive, suspect, unreachable, left, removed, self
	Applied map[string]uint64 `json:"applied"`  // its applied vector, by node name
	LagTxns uint64            `json:"lag_txns"` // transactions we have that it has not acknowledged
	// BehindLog: it lacks transactions this node no longer retains; it
	// will be repaired by reconciliation, not from the log.
	BehindLog bool `json:"behind_log,omitempty"`
}

// Status is a node's view of itself and the cluster.
type Status struct {
	ID        causal.NodeID     `json:"id"`
	Name      string            `json:"name"`
	Cluster   string            `json:"cluster"`
	Keys      int               `json:"keys"`
	StateHash string            `json:"state_hash"`
	Applied   map[string]uint64 `json:"applied"`   // this node's applied vector, by node name
	Collapsed map[string]uint64 `json:"collapsed"` // applied by every current member
	// Region is this node's region ("" if none); RegionCollapsed what
	// every current member of that region has applied (the region
	// collapsed cut; docs/semantics.md, "Regions").
	Region          string            `json:"region"`
	RegionCollapsed map[string]uint64 `json:"region_collapsed"`
	Members         []MemberStatus    `json:"members"`
	Events          []Event           `json:"recent_events"`
	// Failed is the fail-stop cause, empty while the node is healthy.
	Failed string `json:"failed,omitempty"`
}

// Event is one recent replica event as Status reports it (the
// structured form; see node's statusEvent): what happened, when, to which
// member — by name, the id only in addition — and the detail.
type Event struct {
	Type   string        `json:"type"`              // peer-suspect, divergence, ... (replica.EventType names)
	Time   time.Time     `json:"time"`              // when this node noted it
	Peer   string        `json:"peer,omitempty"`    // the member concerned, by name
	PeerID causal.NodeID `json:"peer_id,omitempty"` // its id
	Txn    string        `json:"txn,omitempty"`     // the transaction concerned, as a token ("<node id>:<counter>")
	Detail string        `json:"detail,omitempty"`  // the replica's reason
}

// Backend is what client surfaces need from a node.
type Backend interface {
	// View calls fn with the current keyspace, read-only. fn must not
	// retain the keyspace or slices from it after it returns.
	View(fn func(ks *crdt.Keyspace) error) error

	// Update calls fn with a transaction builder. If fn returns nil and the
	// transaction changes something, it is committed atomically (applied
	// locally, logged per the fsync policy, queued to peers) and its token
	// returned; an empty transaction returns the zero Token and no error.
	// If fn returns an error, nothing is written and that error returned.
	Update(ctx context.Context, fn func(b *crdt.Builder) error) (Token, error)

	// Wait blocks until at least n members (this node included) have
	// applied t, or ctx ends; it returns how many have. n ≤ 0 means every
	// current member (collapse).
	Wait(ctx context.Context, t Token, n int) (int, error)

	// Watch subscribes to changes of keys with the given prefix (empty:
	// all keys). buffer bounds how many changes the watcher may fall
	// behind before it is ended with ErrWatchOverflow.
	Watch(prefix []byte, buffer int) Subscription

	// Status reports the node and its view of the cluster.
	Status() Status
}

// Publisher is implemented by a backend that carries client messages
// (Redis PUBLISH) to the other members: at most once, not replicated,
// dropped on overload (docs/api.md, PUBLISH).
type Publisher interface {
	// Publish sends message on channel to the other members. It does not
	// block on the network and does not deliver to this node's own
	// subscribers (the caller does).
	Publish(channel, message []byte)
	// SetPublishHandler sets fn to receive the messages published on
	// other members, one at a time, on a goroutine of the backend; fn must
	// not block for long (it holds up later messages, not replication).
	SetPublishHandler(fn func(channel, message []byte))
}

// RegionWaiter is implemented by backends that know regions. Surfaces
// check for it with a type assertion (SPOOK.WAITREGION, /v1/wait with
// scope "region") and answer "not supported" without it.
type RegionWaiter interface {
	// WaitRegion is Wait counting only the current members of this
	// node's region: it blocks until at least n of them (this node
	// included) have applied t, or ctx ends, and returns how many have.
	// n ≤ 0 means every current member of the region (region collapse).
	WaitRegion(ctx context.Context, t Token, n int) (int, error)
}

// Admin is implemented by backends that accept operator actions. Surfaces
// check for it with a type assertion and answer "not supported" without it.
type Admin interface {
	// RemoveMember marks the member called name removed (it is dead and
	// will not return), so collapse stops waiting for it. It returns the
	// token of the membership transaction.
	RemoveMember(ctx context.Context, name string) (Token, error)
}

// Bundler is implemented by backends that export and import offline
// bundles: files of the transactions a peer lacks, for links that come and
// go. Surfaces check for it with a type assertion.
type Bundler interface {
	// AppliedVector is what this node has applied: the "since" another
	// node's export needs to leave out.
	AppliedVector() causal.VersionVector
	// ExportBundle returns a bundle of the transactions since does not
	// cover, and how many it holds.
	ExportBundle(since causal.VersionVector) ([]byte, int, error)
	// ImportBundle applies a bundle as if its transactions came from a
	// peer; importing one twice, or out of order, is harmless. It returns
	// the transactions the bundle held, how many were applied now and
	// how many were refused.
	ImportBundle(ctx context.Context, bundle []byte) (BundleImport, error)
}

// BundleImport is what ImportBundle did with a bundle's transactions.
type BundleImport struct {
	// Txns is the number of transactions the bundle held.
	Txns int
	// Applied is how many were applied now (and their causal past, if it
	// waited in the causal buffer). The others were applied before, or
	// wait for their causal past or (audit mode) for a signed
	// transaction of their origin, as a peer's would.
	Applied int
	// Refused is how many transactions the import refused (audit mode):
	// a seal that does not verify, a broken chain, a write outside its
	// origin's rights. Each raised an event (EventAuditRefused or
	// EventRightsRefused) and changed nothing.
	Refused int
}

// ErrBadBundle is returned by ImportBundle for a file that is not a whole,
// valid bundle; nothing was applied.
var ErrBadBundle = errors.New("api: not a valid bundle")
