package spook

import (
	"context"
	"log/slog"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/node"
	"github.com/spooksystems/spook/replica"
	"github.com/spooksystems/spook/storage"
)

// Member names one node of the initial cluster.
type Member struct {
	Name string
	Addr string
}

// Config configures an embedded node. Name and Listen are required; the
// zero value of every other field works.
type Config struct {
	// Name is this node's name, unique in the cluster.
	Name string
	// Listen is the address serving peers, Redis clients and HTTP.
	// "127.0.0.1:0" picks a free port (see DB.Addr).
	Listen string
	// DataDir holds the log and snapshots; empty keeps state in memory.
	DataDir string
	// Members is the initial membership of a new cluster (the same list
	// on every node, this one included). Empty with empty Join: a cluster
	// of one.
	Members []Member
	// Join lists addresses of members of an existing cluster to join.
	Join []string
	// Region names this node's failure domain (letters, digits, '-', '_',
	// '.'; at most replica.MaxRegionBytes); WaitRegion counts the members
	// of the same region. Empty: no region.
	Region string
	// Fsync is "always", "batch" (default) or "none"; see docs/durability.md.
	Fsync string
	// ClusterKey admits peers when TLS is off: every member holds the same
	// key (16 to 64 random bytes; see docs/security.md). Required for a
	// non-loopback Listen without TLS.
	ClusterKey []byte
	// Logger receives the node's logs; nil discards nothing (slog.Default).
	Logger *slog.Logger
	// Node, when non-nil, is used as the full node configuration and the
	// fields above are ignored: every tuning knob of package node.
	Node *node.Config
}

// DB is an embedded Spook node. Its methods are safe for concurrent use.
type DB struct {
	n *node.Node
}

// Tx is a transaction being built: every operation sees the ones before it,
// and all of them commit together or not at all.
type Tx = crdt.Builder

// Value is a read-only view of one key's value; see crdt.Value.
type Value = crdt.Value

// Token names a committed transaction.
type Token = api.Token

// Change is one key changed, as a watcher sees it.
type Change = api.Change

// Status is a node's view of itself and its cluster.
type Status = api.Status

// Open starts an embedded node.
func Open(cfg Config) (*DB, error) {
	var nc node.Config
	if cfg.Node != nil {
		nc = *cfg.Node
	} else {
		policy := storage.SyncBatch
		if cfg.Fsync != "" {
			p, err := storage.ParseSyncPolicy(cfg.Fsync)
			if err != nil {
				return nil, err
			}
			policy = p
		}
		nc = node.Config{Name: cfg.Name, Listen: cfg.Listen, DataDir: cfg.DataDir, Region: cfg.Region,
			Join: cfg.Join, Fsync: policy, Logger: cfg.Logger, ClusterKey: cfg.ClusterKey}
		for _, m := range cfg.Members {
			nc.Members = append(nc.Members, replica.Peer{Name: m.Name, Addr: m.Addr})
		}
	}
	n, err := node.Start(nc)
	if err != nil {
		return nil, err
	}
	return &DB{n: n}, nil
}

// Addr is the address the node listens on.
func (db *DB) Addr() string { return db.n.Addr() }

// Update runs fn in a new transaction and commits it if fn returns nil.
// It returns once the transaction is applied locally (and durable, under
// the always fsync policy); replication continues in the background.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) (Token, error) {
	return db.n.Update(ctx, fn)
}

// View calls fn with the current keyspace. fn must not retain it, or any
// slice read from it, after returning.
func (db *DB) View(fn func(ks *crdt.Keyspace) error) error { return db.n.View(fn) }

// Get returns a copy of the register value at key (counters formatted in
// decimal), and whether the key holds one. A key whose deadline has passed
// on this node's clock reads as absent. (View gives the raw keyspace:
// there, crdt.Value.Expired tells expired keys apart.)
func (db *DB) Get(key []byte) ([]byte, bool) {
	var out []byte
	var ok bool
	db.n.View(func(ks *crdt.Keyspace) error {
		v := ks.Get(key)
		if v == nil || replica.IsInternalKey(key) || v.Expired(uint64(time.Now().UnixMilli())) {
			return nil
		}
		if b, has := v.Register(); has && v.Type() == crdt.TypeRegister {
			out, ok = append([]byte(nil), b...), true
		} else if c, has := v.Counter(); has && v.Type() == crdt.TypeCounter {
			out, ok = []byte(formatInt(c)), true
		}
		return nil
	})
	return out, ok
}

// Text returns the text at key and whether the key holds one; a key
// whose deadline has passed on this node's clock reads as absent. Edit a
// text in Update with tx.TextInsert and tx.TextDelete (positions in
// Unicode code points); read part of one in View with
// crdt.Value.TextRange.
func (db *DB) Text(key []byte) (string, bool) {
	var out string
	var ok bool
	db.n.View(func(ks *crdt.Keyspace) error {
		v := ks.Get(key)
		if v == nil || replica.IsInternalKey(key) || v.Expired(uint64(time.Now().UnixMilli())) || v.Type() != crdt.TypeText {
			return nil
		}
		out, ok = v.Text(), true
		return nil
	})
	return out, ok
}

// Watch streams changes to keys under prefix; buffer bounds the backlog
// (a watcher further behind is closed with api.ErrWatchOverflow).
func (db *DB) Watch(prefix []byte, buffer int) api.Subscription { return db.n.Watch(prefix, buffer) }

// Wait blocks until members nodes (this one included) have applied t.
func (db *DB) Wait(ctx context.Context, t Token, members int) (int, error) {
	return db.n.Wait(ctx, t, members)
}

// WaitCollapsed blocks until every current member has applied t.
func (db *DB) WaitCollapsed(ctx context.Context, t Token) error {
	_, err := db.n.Wait(ctx, t, 0)
	return err
}

// WaitRegion blocks until members nodes of this node's region (this one
// included) have applied t; members ≤ 0 waits for every current member
// of the region. It says nothing of other regions (docs/semantics.md,
// "Regions").
func (db *DB) WaitRegion(ctx context.Context, t Token, members int) (int, error) {
	return db.n.WaitRegion(ctx, t, members)
}

// WaitRegionCollapsed blocks until every current member of this node's
// region has applied t.
func (db *DB) WaitRegionCollapsed(ctx context.Context, t Token) error {
	_, err := db.n.WaitRegion(ctx, t, 0)
	return err
}

// Status reports the node and its view of the cluster.
func (db *DB) Status() Status { return db.n.Status() }

// Close stops the node gracefully.
func (db *DB) Close() error { return db.n.Close() }

func formatInt(v int64) string {
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
