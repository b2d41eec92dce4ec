package node

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/api/resp"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/limits"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
	"github.com/spooksystems/spook/storage/vfs"
)

// Defaults, each with its reason.
const (
	// DefaultTickInterval is the length of one replica tick: the replica's
	// defaults are counted for 10 ms ticks (a probe round every 100 ms, a
	// suspect declared unreachable 1 s later, a digest every 200 ms). A
	// tick costs microseconds, so 100 per second per node is cheap.
	DefaultTickInterval = 10 * time.Millisecond
	// DefaultPeerQueueMax bounds the messages queued for one peer. At the
	// replica's default batch size (256 KiB) this caps a stalled peer's
	// queue near 256 MiB in the worst case and a few MiB typically; beyond
	// it the oldest messages are dropped and anti-entropy takes over.
	DefaultPeerQueueMax = 1024
	// DefaultSnapshotEveryRecords: a snapshot is written after this many
	// log records, keeping restart replay short.
	DefaultSnapshotEveryRecords = 100_000
	// DefaultDialTimeout bounds one connection attempt to a peer.
	DefaultDialTimeout = 3 * time.Second
	// DefaultBackoffMin is the first reconnect backoff to a peer: short,
	// so a peer that restarts is back within a tick or two.
	DefaultBackoffMin = 50 * time.Millisecond
	// DefaultBackoffMax caps the reconnect backoff to a peer.
	DefaultBackoffMax = 5 * time.Second
	// DefaultHandshakeTimeout bounds a peer handshake.
	DefaultHandshakeTimeout = 5 * time.Second
)

// Config configures a Node. The zero value of every field but Name and
// Listen works.
type Config struct {
	// Name is this node's name, unique in the cluster. Required.
	Name string
	// Cluster names the cluster; peers from another cluster are refused at
	// the handshake. Empty means "spook".
	Cluster string
	// Region names this node's failure domain (spookd --region); see
	// replica.Config.Region. Empty: no region.
	Region string
	// Listen is the single TCP address serving peers, RESP and HTTP, e.g.
	// "127.0.0.1:7001". Port 0 picks a free port (see Node.Addr).
	Listen string
	// Advertise is the address other nodes dial to reach this one. Empty
	// means the address actually listened on.
	Advertise string
	// DataDir holds the log and snapshots. Empty means in memory only:
	// nothing survives a restart.
	DataDir string

	// Members is the initial membership of a fresh cluster: the same
	// list on every node, this node included. Empty with empty Join: a
	// single-node cluster.
	Members []replica.Peer
	// Join lists addresses of members of an existing cluster. The node
	// fetches a snapshot from one of them, then joins.
	Join []string

	// Fsync is the durability policy (storage.SyncBatch when zero).
	Fsync storage.SyncPolicy
	// SnapshotEveryRecords triggers a snapshot after this many records.
	// Zero: DefaultSnapshotEveryRecords.
	SnapshotEveryRecords int

	// TickInterval is the wall-clock length of a replica tick. Zero:
	// DefaultTickInterval.
	TickInterval time.Duration
	// Replica tunes the core; its Name, Addr, Cluster, Region, Members,
	// Join, Seed and NowMs are filled by the node.
	Replica replica.Config
	// PeerQueueMax bounds the messages queued for one peer. Zero:
	// DefaultPeerQueueMax.
	PeerQueueMax int
	// MaxPeerWindowBytes bounds the bytes of pushed transactions in flight
	// to one peer (sent, not acknowledged); beyond it pushes are not sent
	// and the peer catches up by fetching. Zero:
	// driver.DefaultMaxWindowBytes.
	MaxPeerWindowBytes int

	// ServerTLS, when set, is offered on the single port (peers must
	// present a client certificate signed by the cluster CA; see package
	// transport). ClientTLS is used to dial peers. RequireTLS refuses
	// plaintext connections.
	ServerTLS  *tls.Config
	ClientTLS  *tls.Config
	RequireTLS bool

	// ClusterKey is the cluster's peer admission secret
	// (wire.MinClusterKeyBytes to wire.MaxClusterKeyBytes; generate 32
	// random bytes with GenerateClusterKey, read text with
	// ParseClusterKey). Every member holds the same key and proves it in
	// each link's handshake; it is never sent. Nil: no key, and then,
	// unless RequireTLS, Start refuses a non-loopback Listen address
	// (ErrAdmissionConfig) and warns on loopback. See admission.go.
	ClusterKey []byte

	// AuditKeysDir, when set, turns on audit mode (docs/audit.md): the
	// node signs every transaction with its key (DataDir/audit.key,
	// created at first start and published here as NAME.pub) and applies
	// a remote transaction only if it is signed by the key NAME.pub holds
	// for its origin and continues that origin's hash chain. Every member
	// must see the same set of keys. Empty: audit off.
	AuditKeysDir string
	// AuditKeysReload is how often a node in audit mode rereads
	// AuditKeysDir for keys of members added since (spookd
	// --audit-keys-reload; zero: DefaultAuditKeysReload). Keys are only
	// ever added: one that changed is refused with a warning.
	AuditKeysReload time.Duration
	// AuditRetention is audit mode's retention policy (spookd
	// --audit-retention; docs/audit.md, "Retention"). The zero value
	// keeps every record.
	AuditRetention AuditRetention

	// Password, if set, is required by RESP AUTH; Token, if set, is the
	// bearer token the HTTP API requires. Both are the default client
	// user's (api.DefaultUser). Neither admits a peer.
	Password string
	Token    string
	// Users, if set, are the named client users (spookd --users FILE,
	// api.ParseUsers): RESP AUTH NAME PASSWORD and HTTP Basic auth make a
	// client NAME, and its writes are checked against the user rules of
	// the write-rights policy in force (docs/audit.md, "Write rights").
	// With Users set clients must authenticate on both surfaces. It may
	// hold the default user only when Password is empty. Users admit no
	// peer.
	Users *api.Users

	// Logger receives structured logs. Nil: slog.Default().
	Logger *slog.Logger

	// ClockOffset shifts this node's wall clock, for fault tests of clock
	// skew (spookd --test-clock-offset). Zero in production.
	ClockOffset time.Duration

	// now is the wall clock; tests may replace it.
	now func() time.Time
	// logSegmentBytes is the log's segment size (0: storage's default);
	// retention tests use small segments.
	logSegmentBytes int64
	// fs is the filesystem under DataDir; tests inject faults through it.
	// Nil: the operating system's.
	fs vfs.FS
}

// ErrConfig is returned by Start for a configuration it cannot run.
var ErrConfig = errors.New("node: invalid configuration")

func (c Config) validate() (Config, error) {
	if c.Name == "" {
		return c, fmt.Errorf("%w: Name (spookd --node-id) is required", ErrConfig)
	}
	if c.Listen == "" {
		return c, fmt.Errorf("%w: Listen (spookd --listen) is required", ErrConfig)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("%w: Listen (spookd --listen) %q: %v", ErrConfig, c.Listen, err)
	}
	if c.Cluster == "" {
		c.Cluster = "spook"
	}
	if err := replica.ValidateRegion(c.Region); err != nil {
		return c, fmt.Errorf("%w: Region (spookd --region): %w", ErrConfig, err)
	}
	if c.SnapshotEveryRecords == 0 {
		c.SnapshotEveryRecords = DefaultSnapshotEveryRecords
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.TickInterval < time.Millisecond {
		return c, fmt.Errorf("%w: TickInterval (spookd --tick) %v is below 1ms", ErrConfig, c.TickInterval)
	}
	if c.PeerQueueMax == 0 {
		c.PeerQueueMax = DefaultPeerQueueMax
	}
	if err := limits.Check(); err != nil {
		return c, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if c.MaxPeerWindowBytes == 0 {
		c.MaxPeerWindowBytes = max(driver.DefaultMaxWindowBytes, limits.MinPeerWindowBytes)
	}
	if c.MaxPeerWindowBytes < limits.MinPeerWindowBytes {
		// A window must hold the largest message, or a transaction at the
		// size limit could never be pushed.
		return c, fmt.Errorf("%w: MaxPeerWindowBytes %d below the largest frame (%d bytes)",
			ErrConfig, c.MaxPeerWindowBytes, limits.MinPeerWindowBytes)
	}
	if c.PeerQueueMax < 1 {
		return c, fmt.Errorf("%w: PeerQueueMax %d is below 1", ErrConfig, c.PeerQueueMax)
	}
	if c.RequireTLS && c.ServerTLS == nil {
		return c, fmt.Errorf("%w: RequireTLS without ServerTLS (spookd: --tls-cert, --tls-key and --tls-ca)", ErrConfig)
	}
	if len(c.Members) > 0 && len(c.Join) > 0 {
		return c, fmt.Errorf("%w: give Members (spookd --peers, a new cluster) or Join (spookd --join, an existing one), not both", ErrConfig)
	}
	if c.Password != "" && c.Users.Has(api.DefaultUser) {
		return c, fmt.Errorf("%w: the default user's password is given twice: by Password (spookd --password) and by Users (a %q line of --users); keep one", ErrConfig, api.DefaultUser)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if !c.AuditRetention.keepsAll() && c.AuditKeysDir == "" {
		return c, fmt.Errorf("%w: AuditRetention (spookd --audit-retention) %s without audit mode (--audit-keys)", ErrConfig, c.AuditRetention)
	}
	warning, err := c.checkAdmission()
	if err != nil {
		return c, err
	}
	if warning != "" {
		c.Logger.Warn(warning, "node", c.Name, "listen", c.Listen)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.fs == nil {
		c.fs = vfs.OS{}
	}
	if off, base := c.ClockOffset, c.now; off != 0 {
		c.now = func() time.Time { return base().Add(off) }
	}
	return c, nil
}

// BCounterWantAge is how long a bounded-counter want of this node may
// stay unmet before the node withdraws it (replica.Config.
// BCounterWantTicks): twice resp.MaxBCounterWait, so the BCOUNTER.DECRBY
// that made it has given up first (a want withdrawn under a waiting
// decrement would only make it wait for rights moved by demand).
const BCounterWantAge = 2 * resp.MaxBCounterWait

// bcounterWantTicks is BCounterWantAge in ticks of length tick, unless
// the configuration sets its own (non-zero) value.
func bcounterWantTicks(configured int, tick time.Duration) int {
	if configured != 0 || tick <= 0 {
		return configured
	}
	return int((BCounterWantAge + tick - 1) / tick)
}
