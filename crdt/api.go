package crdt

// This file is the package's contract: the exported surface other packages
// (replica, api, node, sim) build against. Bodies marked "TODO(crdt)" are
// being filled in; signatures change only with a note to their callers.

import (
	"errors"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Type is the type of a Value component. The numeric values are part of the
// wire and disk formats: append only, never renumber.
type Type uint8

const (
	TypeNone     Type = 0
	TypeRegister Type = 1
	TypeCounter  Type = 2
	TypeSet      Type = 3
	TypeMap      Type = 4
)

// Named limits. Decoders refuse anything above them; mutators return an
// error rather than build a value that could not be decoded.
const (
	MaxKeyBytes     = 1 << 10  // a key, or a map field name
	MaxValueBytes   = 16 << 20 // a register value or a set member
	MaxTxnKeys      = 1 << 12  // keys touched by one transaction
	MaxTxnOps       = 1 << 16  // members/fields touched by one transaction
	MaxSetMembers   = 1 << 24  // members of one decoded set
	MaxMapFields    = 1 << 24  // fields of one decoded map
	MaxSiblings     = 1 << 10  // concurrent register values of one decoded register
	MaxKeys         = 1 << 30  // keys of one decoded keyspace
	MaxNesting      = 1        // maps hold registers, counters and sets, not maps
	EncodingVersion = 1        // first byte of every full encoding (Txn, Keyspace)
)

// Errors returned by mutators and decoders.
var (
	ErrOverflow   = errors.New("crdt: counter overflow")                  // Increment past int64
	ErrKeyTooLong = errors.New("crdt: key too long")                      // key or field > MaxKeyBytes
	ErrTooLarge   = errors.New("crdt: value too large")                   // value or member > MaxValueBytes
	ErrTxnTooBig  = errors.New("crdt: transaction too large")             // > MaxTxnKeys or MaxTxnOps
	ErrNotReady   = errors.New("crdt: transaction's causal past missing") // Apply before Deps
	ErrVersion    = errors.New("crdt: unknown encoding version")
	ErrNotInteger = errors.New("crdt: value is not an integer") // INCR of a non-integer register
)

// Sibling is one concurrent register value.
type Sibling struct {
	Value []byte
	Time  causal.Timestamp
	Dot   causal.Dot
}

// Value is a read-only view of one key's (or one map field's) value. A
// *Value returned by the Keyspace is valid until the next change to the
// Keyspace and must not be modified; byte slices it returns alias state.
type Value struct {
	// TODO(crdt): components.
}

// Type returns the visible type: the highest-ranked live component
// (map > set > counter > register), or TypeNone if nothing is live.
func (v *Value) Type() Type { panic("TODO(crdt)") }

// Register returns the last-writer-wins value of the register component:
// the sibling with the greatest (Time, Dot.Node).
func (v *Value) Register() ([]byte, bool) { panic("TODO(crdt)") }

// Siblings returns every concurrent register value, in canonical order.
func (v *Value) Siblings() []Sibling { panic("TODO(crdt)") }

// Counter returns the counter component's value.
func (v *Value) Counter() (int64, bool) { panic("TODO(crdt)") }

// Contains reports whether the set component holds member.
func (v *Value) Contains(member []byte) bool { panic("TODO(crdt)") }

// Members calls fn for each member of the set component in canonical
// (bytewise) order until fn returns false.
func (v *Value) Members(fn func(member []byte) bool) { panic("TODO(crdt)") }

// Len is the number of set members (for a set) or live fields (for a map).
func (v *Value) Len() int { panic("TODO(crdt)") }

// Field returns the nested value of a map field, or nil.
func (v *Value) Field(name []byte) *Value { panic("TODO(crdt)") }

// Fields calls fn for each live map field in canonical order until fn
// returns false.
func (v *Value) Fields(fn func(name []byte, v *Value) bool) { panic("TODO(crdt)") }

// Keyspace is a replica's whole state: keys to values plus the causal
// context of every transaction applied. The zero value is not usable; call
// NewKeyspace. A Keyspace is not safe for concurrent use.
type Keyspace struct {
	// TODO(crdt)
}

// NewKeyspace returns an empty keyspace.
func NewKeyspace() *Keyspace { panic("TODO(crdt)") }

// Context returns the dots of every transaction applied. It aliases the
// keyspace; callers must not modify it.
func (ks *Keyspace) Context() *causal.Context { panic("TODO(crdt)") }

// Get returns the value stored at key, or nil if the key holds nothing live.
func (ks *Keyspace) Get(key []byte) *Value { panic("TODO(crdt)") }

// Len is the number of keys holding a live value.
func (ks *Keyspace) Len() int { panic("TODO(crdt)") }

// Range calls fn for every live key in bytewise order, starting at the
// first key ≥ from, until fn returns false.
func (ks *Keyspace) Range(from []byte, fn func(key []byte, v *Value) bool) { panic("TODO(crdt)") }

// Begin starts a transaction with dot and timestamp ts made on this
// keyspace's current state: its Deps are the keyspace's context. The
// caller (the replica) chooses the dot: the next counter of the local node.
func (ks *Keyspace) Begin(dot causal.Dot, ts causal.Timestamp) *Builder { panic("TODO(crdt)") }

// Apply joins a causally ready transaction into the keyspace. It returns
// ErrNotReady (and changes nothing) if txn.Deps is not contained in the
// context, and does nothing if txn.Dot was already applied. Apply may
// retain txn's byte slices; the caller must not modify them afterwards.
func (ks *Keyspace) Apply(txn *Txn) error { panic("TODO(crdt)") }

// Join joins another whole state into ks (snapshot install, anti-entropy).
func (ks *Keyspace) Join(other *Keyspace) { panic("TODO(crdt)") }

// JoinKey joins one key's state taken from a replica whose context is ctx,
// for reconciliation that transfers only differing keys; the caller then
// merges ctx into the context with MergeContext once every differing key
// has been joined.
func (ks *Keyspace) JoinKey(key []byte, v *Value, ctx *causal.Context) { panic("TODO(crdt)") }

// MergeContext adds ctx's dots to the keyspace's context (see JoinKey).
func (ks *Keyspace) MergeContext(ctx *causal.Context) { panic("TODO(crdt)") }

// Hash is a 64-bit hash of the canonical encoding of the whole state,
// maintained incrementally: O(1) to read. Equal states have equal hashes.
func (ks *Keyspace) Hash() uint64 { panic("TODO(crdt)") }

// KeyHash is the hash of one key's canonical encoding (0 if absent). The
// keyspace hash is derived from the sum of key hashes and the context.
func (ks *Keyspace) KeyHash(key []byte) uint64 { panic("TODO(crdt)") }

// AppendBinary appends the canonical encoding of the whole state.
func (ks *Keyspace) AppendBinary(dst []byte) []byte { panic("TODO(crdt)") }

// DecodeKeyspace decodes a state written by Keyspace.AppendBinary.
func DecodeKeyspace(b []byte) (*Keyspace, error) { panic("TODO(crdt)") }

// AppendValue appends the canonical encoding of one key's value (used to
// ship single keys in reconciliation); DecodeValue reads it back.
func AppendValue(dst []byte, v *Value) []byte     { panic("TODO(crdt)") }
func DecodeValue(r *codec.Reader) (*Value, error) { panic("TODO(crdt)") }

// Compact drops metadata made redundant by the collapsed cut: every dot in
// collapsed is known to every member. It never changes what reads return.
func (ks *Keyspace) Compact(collapsed *causal.VersionVector) { panic("TODO(crdt)") }

// Builder assembles one transaction. Each operation sees the keyspace plus
// the operations before it in the same transaction (so INCR twice adds
// twice). Nothing changes the keyspace until the caller applies the result
// of Finish. An operation that fails (overflow, limits, not an integer)
// returns an error and leaves the builder as it was before that operation.
type Builder struct {
	// TODO(crdt)
}

// Set overwrites key with a register holding value (Redis SET): it
// removes every observed component of the key, of any type.
func (b *Builder) Set(key, value []byte) error { panic("TODO(crdt)") }

// Increment adds by to the counter at key (Redis INCRBY) and returns the
// new value. If the key holds a register whose value is a decimal integer,
// that register is replaced by a counter starting from its value (as Redis
// does); a non-integer register returns ErrNotInteger.
func (b *Builder) Increment(key []byte, by int64) (int64, error) { panic("TODO(crdt)") }

// Delete removes every observed component of key (Redis DEL).
func (b *Builder) Delete(key []byte) error { panic("TODO(crdt)") }

// SetAdd adds members to the set at key; it returns how many were absent.
func (b *Builder) SetAdd(key []byte, members ...[]byte) (int, error) { panic("TODO(crdt)") }

// SetRemove removes the observed members; it returns how many were present.
func (b *Builder) SetRemove(key []byte, members ...[]byte) (int, error) { panic("TODO(crdt)") }

// MapSet sets a map field to a register holding value; it returns whether
// the field was absent (Redis HSET counts new fields).
func (b *Builder) MapSet(key, field, value []byte) (bool, error) { panic("TODO(crdt)") }

// MapIncrement adds by to a counter map field (Redis HINCRBY), converting
// an integer register field as Increment does.
func (b *Builder) MapIncrement(key, field []byte, by int64) (int64, error) { panic("TODO(crdt)") }

// MapDelete removes the observed fields; it returns how many were present.
func (b *Builder) MapDelete(key []byte, fields ...[]byte) (int, error) { panic("TODO(crdt)") }

// Get reads key as this transaction sees it so far (keyspace plus earlier
// operations of the transaction).
func (b *Builder) Get(key []byte) *Value { panic("TODO(crdt)") }

// Empty reports whether the transaction changes nothing yet.
func (b *Builder) Empty() bool { panic("TODO(crdt)") }

// Finish returns the transaction. The builder must not be used after.
func (b *Builder) Finish() *Txn { panic("TODO(crdt)") }

// Txn is one transaction: the unit of atomicity, replication and logging.
type Txn struct {
	Dot  causal.Dot
	Time causal.Timestamp
	// Deps is the causal past the transaction was made in: the origin's
	// context when it began. The entries a transaction removes are exactly
	// those whose dot lies in Deps.
	Deps causal.Context
	// TODO(crdt): per-key operations, sorted by key.
}

// Keys calls fn with each key the transaction touches, in bytewise order.
func (t *Txn) Keys(fn func(key []byte) bool) { panic("TODO(crdt)") }

// KeyWriter and KeyReader let a link substitute keys with dictionary ids
// (package replica). PlainKeys writes every key length-prefixed in full.
type KeyWriter interface {
	AppendKey(dst []byte, key []byte) []byte
}

// KeyReader reads a key written by the matching KeyWriter. The returned
// slice may alias the input or the reader's dictionary.
type KeyReader interface {
	ReadKey(r *codec.Reader) []byte
}

// PlainKeys writes and reads keys in full (length-prefixed).
type PlainKeys struct{}

func (PlainKeys) AppendKey(dst, key []byte) []byte { return codec.AppendBytes(dst, key) }
func (PlainKeys) ReadKey(r *codec.Reader) []byte   { return r.Bytes("key", MaxKeyBytes) }

// AppendBody appends the transaction's operations (not Dot, Time, Deps),
// writing keys through kw. Links encode the header themselves (the dot's
// node and the deps compress against link state); logs and bundles use
// AppendBinary.
func (t *Txn) AppendBody(dst []byte, kw KeyWriter) []byte { panic("TODO(crdt)") }

// DecodeBody reads operations written by AppendBody into t (whose header
// the caller has filled). Returned slices may alias the input; the
// caller must not reuse the input buffer while t is alive.
func DecodeBody(r *codec.Reader, kr KeyReader, t *Txn) error { panic("TODO(crdt)") }

// AppendBinary appends the canonical self-contained encoding: version,
// dot, time, deps, body with plain keys.
func (t *Txn) AppendBinary(dst []byte) []byte { panic("TODO(crdt)") }

// DecodeTxn decodes a transaction written by AppendBinary.
func DecodeTxn(b []byte) (*Txn, error) { panic("TODO(crdt)") }
