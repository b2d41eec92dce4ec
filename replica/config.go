package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/limits"
)

// Peer names a node: its name (from which its ID derives), its ID and the
// address a driver dials. The replica never dials; Addr is carried so every
// node learns every member's address through the membership records.
type Peer struct {
	ID   causal.NodeID // zero: causal.NodeIDFromName(Name)
	Name string
	Addr string
	// Region is the peer's region when the initial member list names it
	// (Config.Members; see Config.Region): then every node knows it from
	// the start and the peer need not announce it in a membership
	// record. Empty: not given; the peer's record says, if it has one.
	Region string
}

// Defaults for Config. Each is chosen for a driver ticking every 10 ms
// (the node default); the simulator uses the same tick counts.
const (
	// DefaultProbeTicks: one probe round every 100 ms, so a crashed peer is
	// suspected within about a quarter second.
	DefaultProbeTicks = 10
	// DefaultProbeTimeoutTicks: a direct ping unanswered for 40 ms triggers
	// indirect probes; well above loopback and LAN round trips.
	DefaultProbeTimeoutTicks = 4
	// DefaultIndirectProbes: SWIM's k; three helpers make a false suspicion
	// from one lossy link unlikely.
	DefaultIndirectProbes = 3
	// DefaultSuspectTicks: a suspect becomes unreachable after 1 s more
	// without any message; long enough to ride out a GC pause or a burst of
	// loss.
	DefaultSuspectTicks = 100
	// DefaultDigestTicks: one digest every 200 ms bounds how long a
	// divergence or a missed transaction goes unnoticed.
	DefaultDigestTicks = 20
	// DefaultJoinRetryTicks: a joining node asks the next join peer for a
	// snapshot after 1 s without one.
	DefaultJoinRetryTicks = 100
	// DefaultSyncTimeoutTicks: a reconciliation session that has heard
	// no answer for 3 s is abandoned and retried at a later digest.
	DefaultSyncTimeoutTicks = 300
	// DefaultMaxPendingTxns / DefaultMaxPendingBytes bound the causal
	// buffer: out-of-order transactions waiting for their causal past.
	DefaultMaxPendingTxns  = 4096
	DefaultMaxPendingBytes = 16 << 20
	// DefaultMaxBatchBytes bounds the estimated payload of one message
	// (by record sizes): small enough that a batch never delays a ping
	// for long, far under the 16 MiB frame (limits.MaxFrameBytes), which
	// also holds the header and dictionary entries the estimate does not
	// count. A single transaction larger than it travels alone, and fits
	// a frame because Propose bounds it by limits.MaxTxnBytes.
	DefaultMaxBatchBytes = 256 << 10
	// DefaultMaxRetainedTxns / DefaultMaxRetainedBytes bound the log of
	// recent transactions kept to catch up lagging peers.
	DefaultMaxRetainedTxns  = 100_000
	DefaultMaxRetainedBytes = 64 << 20
	// DefaultMaxFetchBytes bounds what one catch-up answer ships; the rest
	// follows at the next digest.
	DefaultMaxFetchBytes = 4 << 20
	// DefaultMaxSnapshotBytes bounds a snapshot a joining node accepts.
	DefaultMaxSnapshotBytes = 1 << 30
	// DefaultMaxSnapshotChunksInFlight: a joining node asks for up to 4
	// chunks ahead (4 MiB at limits.MaxSnapshotChunkBytes): enough to keep
	// a LAN link busy, far below any driver's per-peer window.
	DefaultMaxSnapshotChunksInFlight = 4
	// DefaultMaxSnapshotPins: a member keeps at most two encoded
	// snapshots for nodes pulling them (two joiners at different states);
	// a third request is served from the newest pin.
	DefaultMaxSnapshotPins = 2
	// DefaultSnapshotPinTicks: a pinned snapshot is dropped after 30 s
	// without a request, so a joiner that went away frees its memory.
	DefaultSnapshotPinTicks = 3000
	// DefaultSnapshotRetryTicks: a chunk request unanswered for 250 ms is
	// sent again (its frame was lost with a broken link).
	DefaultSnapshotRetryTicks = 25
)

// MaxRegionBytes bounds Config.Region, in bytes: a region is a short name
// ("eu-west-1"), carried in membership records and used as a metric
// label. A longer Config.Region is refused by New with ErrConfig; a
// membership record carrying a longer or malformed one (written by
// another version) reads as region "".
const MaxRegionBytes = 64

// ValidateRegion reports why region is not a valid Config.Region (an
// error wrapping ErrConfig), or nil. Drivers call it to refuse a bad
// --region before starting anything.
func ValidateRegion(region string) error { return validRegion(region) }

// validRegion reports why region is not a valid Config.Region, or nil.
func validRegion(region string) error {
	if len(region) > MaxRegionBytes {
		return fmt.Errorf("%w: region of %d bytes, above %d (MaxRegionBytes)", ErrConfig, len(region), MaxRegionBytes)
	}
	for i := 0; i < len(region); i++ {
		c := region[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: region %q: byte %d is not a letter, digit, '-', '_' or '.'", ErrConfig, region, i)
		}
	}
	return nil
}

// Config configures a Replica. The zero value of every field but Name
// works: a Config with only a Name is a single-node cluster.
type Config struct {
	// Name of this node; its ID is causal.NodeIDFromName(Name). Required.
	Name string
	// Addr is this node's advertised address, written into its membership
	// record. Optional.
	Addr string
	// Cluster is an opaque cluster name, reported by Status.
	Cluster string
	// Region names the failure domain this node runs in (a data center,
	// a cloud region): at most MaxRegionBytes of letters, digits, '-',
	// '_' and '.'. It is written into the node's membership record, so
	// every member learns every other's region; the region collapsed cut
	// (RegionCollapsedVector) is the meet over the members of this
	// node's region. Empty: no region; the node writes no region and
	// behaves exactly as before regions existed.
	Region string

	// Members is the initial membership of a fresh cluster, the same list
	// on every node started with it (then no message is needed to agree).
	// It must include this node. Empty with empty Join: a single-node
	// cluster of this node.
	Members []Peer
	// Join lists peers of an existing cluster to fetch a snapshot from.
	// Non-empty Join with empty Members makes this a joining node: it
	// accepts no writes until it has installed a snapshot and proposed its
	// membership record.
	Join []Peer

	// Audit turns on signed, chained history (audit.go). Zero: off.
	Audit AuditConfig

	// Seed seeds the package's PRNG (probe order, digest targets, session
	// ids). Zero is a valid seed.
	Seed uint64
	// NowMs is the physical time at creation, in milliseconds since the
	// Unix epoch, until the first Tick. Zero means unknown: remote
	// transactions are then refused as too far ahead until Tick is called.
	NowMs uint64
	// MaxClockAheadMs is how far a remote transaction's timestamp may be
	// ahead of local physical time; further is refused with an event.
	// Zero: causal.DefaultMaxAheadMs.
	MaxClockAheadMs uint64

	// ProbeTicks is the failure detector's probe period. Zero: default.
	ProbeTicks int
	// ProbeTimeoutTicks is how long a direct ping waits before indirect
	// probes are sent. Zero: the default, or half of ProbeTicks if that is
	// shorter. Must be below ProbeTicks.
	ProbeTimeoutTicks int
	// IndirectProbes is how many members are asked to probe an
	// unresponsive one. Zero: default.
	IndirectProbes int
	// SuspectTicks is how long a suspect stays suspect before it is
	// declared unreachable. Zero: default.
	SuspectTicks int
	// DigestTicks is the period of digest exchange. Zero: default.
	DigestTicks int
	// JoinRetryTicks is how long a joining node waits for a snapshot
	// before asking the next join peer. Zero: default.
	JoinRetryTicks int
	// SyncTimeoutTicks bounds how long a reconciliation session waits
	// without receiving an answer; a session still receiving answers (a
	// large repair in many messages) goes on. Zero: default.
	SyncTimeoutTicks int

	// MaxPendingTxns and MaxPendingBytes bound the causal buffer. When
	// either is reached, out-of-order transactions are dropped and
	// EventBufferFull raised. Zero: default.
	MaxPendingTxns  int
	MaxPendingBytes int
	// MaxBatchBytes bounds the estimated encoded size of one message
	// (a batch of transactions, a snapshot chunk, a reconciliation answer).
	// A single transaction larger than it travels alone. Zero: default.
	MaxBatchBytes int
	// MaxRetainedTxns and MaxRetainedBytes bound the log of applied
	// transactions kept for catching up peers; the oldest are dropped
	// first, and transactions below the collapsed cut are dropped as soon
	// as the cut passes them. Zero: default.
	MaxRetainedTxns  int
	MaxRetainedBytes int
	// MaxFetchBytes bounds the transactions shipped in answer to one
	// catch-up request. Zero: default.
	MaxFetchBytes int
	// MaxSnapshotBytes bounds a snapshot a joining node accepts. Zero:
	// default.
	MaxSnapshotBytes int
	// SnapshotChunkBytes is the size of the chunks this node answers
	// snapshot requests with, at most limits.MaxSnapshotChunkBytes.
	// Zero: limits.MaxSnapshotChunkBytes.
	SnapshotChunkBytes int
	// MaxSnapshotChunksInFlight bounds the chunk requests a node pulling
	// a snapshot keeps outstanding. Zero: default.
	MaxSnapshotChunksInFlight int
	// MaxSnapshotPins bounds the encoded snapshots a member keeps for
	// nodes pulling them; when reached, a request for a new snapshot is
	// served from the newest pin. Zero: default.
	MaxSnapshotPins int
	// SnapshotPinTicks is how long a pinned snapshot is kept without a
	// request. Zero: default.
	SnapshotPinTicks int
	// SnapshotRetryTicks is how long a chunk request waits for its answer
	// before it is sent again. Zero: default.
	SnapshotRetryTicks int
	// BCounterRebalanceTicks is the period of the bounded-counter
	// transfer policy (tickBCounters). Zero: every tick. Negative: never;
	// the caller moves rights itself with crdt.Builder.BCounterRebalance
	// (the simulator does, as client writes its history records).
	BCounterRebalanceTicks int
	// BCounterWantTicks is how long, in ticks, a bounded-counter want of
	// this node (crdt.Builder.BCounterWant) may stay unmet before the
	// tick withdraws it (crdt.Builder.BCounterWithdraw); it should
	// outlast the wait of the decrement that made the want. Zero:
	// DefaultBCounterWantTicks. Negative: never. A negative
	// BCounterRebalanceTicks turns it off too: the caller then withdraws.
	BCounterWantTicks int

	// OverlayThreshold is the cluster size (members, this node included)
	// up to which every origin pushes its transactions to every member;
	// a larger cluster spreads them over per-origin trees and collapses
	// them through per-origin authorities (overlay.go). Zero: default.
	OverlayThreshold int
	// OverlayFanout is how many members an origin sends its transactions
	// to in the overlay; OverlayRelayFanout how many each other member
	// sends them on to (the arity of the trees below their root). Zero:
	// default.
	OverlayFanout      int
	OverlayRelayFanout int
}

// validate fills defaults and rejects nonsense. It works on a copy.
func (c Config) validate() (Config, error) {
	if c.Name == "" {
		return c, fmt.Errorf("%w: Name is required", ErrConfig)
	}
	if err := validRegion(c.Region); err != nil {
		return c, err
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ProbeTicks, DefaultProbeTicks)
	// The timeout must fall inside the probe period; a short period
	// scales the default down rather than being refused.
	def(&c.ProbeTimeoutTicks, max(1, min(DefaultProbeTimeoutTicks, c.ProbeTicks/2)))
	def(&c.IndirectProbes, DefaultIndirectProbes)
	def(&c.SuspectTicks, DefaultSuspectTicks)
	def(&c.DigestTicks, DefaultDigestTicks)
	def(&c.JoinRetryTicks, DefaultJoinRetryTicks)
	def(&c.SyncTimeoutTicks, DefaultSyncTimeoutTicks)
	def(&c.BCounterRebalanceTicks, 1)
	def(&c.BCounterWantTicks, DefaultBCounterWantTicks)
	def(&c.MaxPendingTxns, DefaultMaxPendingTxns)
	def(&c.MaxPendingBytes, DefaultMaxPendingBytes)
	def(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&c.MaxRetainedTxns, DefaultMaxRetainedTxns)
	def(&c.MaxRetainedBytes, DefaultMaxRetainedBytes)
	def(&c.MaxFetchBytes, DefaultMaxFetchBytes)
	def(&c.MaxSnapshotBytes, DefaultMaxSnapshotBytes)
	def(&c.SnapshotChunkBytes, limits.MaxSnapshotChunkBytes)
	def(&c.MaxSnapshotChunksInFlight, DefaultMaxSnapshotChunksInFlight)
	def(&c.MaxSnapshotPins, DefaultMaxSnapshotPins)
	def(&c.SnapshotPinTicks, DefaultSnapshotPinTicks)
	def(&c.SnapshotRetryTicks, DefaultSnapshotRetryTicks)
	def(&c.OverlayThreshold, DefaultOverlayThreshold)
	def(&c.OverlayFanout, DefaultOverlayFanout)
	def(&c.OverlayRelayFanout, DefaultOverlayRelayFanout)
	if c.MaxClockAheadMs == 0 {
		c.MaxClockAheadMs = causal.DefaultMaxAheadMs
	}
	for _, v := range []int{c.ProbeTicks, c.ProbeTimeoutTicks, c.IndirectProbes, c.SuspectTicks,
		c.DigestTicks, c.JoinRetryTicks, c.SyncTimeoutTicks, c.MaxPendingTxns, c.MaxPendingBytes,
		c.MaxBatchBytes, c.MaxRetainedTxns, c.MaxRetainedBytes, c.MaxFetchBytes, c.MaxSnapshotBytes,
		c.SnapshotChunkBytes, c.MaxSnapshotChunksInFlight, c.MaxSnapshotPins, c.SnapshotPinTicks,
		c.SnapshotRetryTicks, c.OverlayThreshold, c.OverlayFanout, c.OverlayRelayFanout} {
		if v < 0 {
			return c, fmt.Errorf("%w: negative value", ErrConfig)
		}
	}
	if c.SnapshotChunkBytes > limits.MaxSnapshotChunkBytes {
		return c, fmt.Errorf("%w: SnapshotChunkBytes %d above limits.MaxSnapshotChunkBytes %d",
			ErrConfig, c.SnapshotChunkBytes, limits.MaxSnapshotChunkBytes)
	}
	if c.ProbeTimeoutTicks >= c.ProbeTicks && c.ProbeTicks > 1 {
		return c, fmt.Errorf("%w: ProbeTimeoutTicks %d must be below ProbeTicks %d",
			ErrConfig, c.ProbeTimeoutTicks, c.ProbeTicks)
	}
	self := causal.NodeIDFromName(c.Name)
	fill := func(list []Peer) ([]Peer, error) {
		out := make([]Peer, len(list))
		seen := map[causal.NodeID]bool{}
		for i, p := range list {
			if p.ID == 0 {
				if p.Name == "" {
					return nil, fmt.Errorf("%w: a peer needs a Name or an ID", ErrConfig)
				}
				p.ID = causal.NodeIDFromName(p.Name)
			}
			if err := validRegion(p.Region); err != nil {
				return nil, err
			}
			if seen[p.ID] {
				return nil, fmt.Errorf("%w: peer %s listed twice", ErrConfig, p.ID)
			}
			if err := validRegion(p.Region); err != nil {
				return nil, fmt.Errorf("peer %s: %w", p.ID, err)
			}
			seen[p.ID] = true
			out[i] = p
		}
		return out, nil
	}
	var err error
	if c.Members, err = fill(c.Members); err != nil {
		return c, err
	}
	if c.Join, err = fill(c.Join); err != nil {
		return c, err
	}
	if len(c.Members) > 0 {
		found := false
		for _, p := range c.Members {
			found = found || p.ID == self
		}
		if !found {
			return c, fmt.Errorf("%w: Members does not list this node %q", ErrConfig, c.Name)
		}
		if len(c.Join) > 0 {
			return c, fmt.Errorf("%w: set Members (new cluster) or Join (existing cluster), not both", ErrConfig)
		}
	}
	if len(c.Members) == 0 && len(c.Join) == 0 {
		c.Members = []Peer{{ID: self, Name: c.Name, Addr: c.Addr}}
	}
	if err := c.Audit.validate(causal.NodeIDFromName(c.Name)); err != nil {
		return c, err
	}
	return c, nil
}
