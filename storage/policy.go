package storage

import "fmt"

// SyncPolicy says when acknowledged writes reach stable storage. The log
// does not enforce it (the caller decides when to call Log.Sync); the node
// driver does, as documented on each value and in docs/durability.md.
// The zero value is SyncBatch.
type SyncPolicy uint8

const (
	// SyncBatch (the default) acknowledges a write at once, when it is
	// applied in memory, and fsyncs in group commits: the driver calls
	// Sync for every record appended since the previous Sync as soon as
	// that one ends, and no message about a record (the transaction, or
	// an applied vector that includes it) leaves the node before the Sync
	// that covers it. A process crash or power loss can lose the writes
	// acknowledged since the last completed Sync (typically the last few
	// milliseconds), but never one a peer has seen, so a lost write is
	// lost everywhere and its dot is never reused for other content.
	SyncBatch SyncPolicy = iota
	// SyncAlways acknowledges a write after a Sync issued for it before
	// any later write is acknowledged: one fsync per write batch of a
	// single client request. An acknowledged write survives a power loss.
	SyncAlways
	// SyncNone never waits for Sync: a write is acknowledged once
	// appended, and the operating system writes it back when it chooses.
	// A process crash loses nothing the OS accepted, but a power loss or
	// kernel crash can lose recently acknowledged writes (typically the
	// last few seconds). Recovery still yields a prefix: never a hole.
	SyncNone
)

var syncPolicyNames = [...]string{SyncBatch: "batch", SyncAlways: "always", SyncNone: "none"}

// String returns "batch", "always" or "none".
func (p SyncPolicy) String() string {
	if int(p) < len(syncPolicyNames) {
		return syncPolicyNames[p]
	}
	return fmt.Sprintf("SyncPolicy(%d)", uint8(p))
}

// ParseSyncPolicy parses "always", "batch" or "none". The empty string
// is the default, SyncBatch.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch s {
	case "batch", "":
		return SyncBatch, nil
	case "always":
		return SyncAlways, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("%w %q (want always, batch or none)", ErrSyncPolicy, s)
}

// MarshalText implements encoding.TextMarshaler.
func (p SyncPolicy) MarshalText() ([]byte, error) {
	if int(p) >= len(syncPolicyNames) {
		return nil, fmt.Errorf("%w %d", ErrSyncPolicy, uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler, so a SyncPolicy can
// be a flag (flag.TextVar) or a config field.
func (p *SyncPolicy) UnmarshalText(text []byte) error {
	parsed, err := ParseSyncPolicy(string(text))
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}
