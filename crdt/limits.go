package crdt

import (
	"errors"
	"fmt"

	"github.com/spooksystems/spook/internal/codec"
	"github.com/spooksystems/spook/limits"
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
	TypeList     Type = 5 // sequence of byte strings (Redis list)
	TypeText     Type = 6 // sequence of code points (collaborative text)
	TypeZSet     Type = 7 // sorted set
	TypeStream   Type = 8 // stream
	TypeBCounter Type = 9 // bounded counter
)

// String names the type as the API reports it.
func (t Type) String() string {
	switch t {
	case TypeNone:
		return "none"
	case TypeRegister:
		return "register"
	case TypeCounter:
		return "counter"
	case TypeSet:
		return "set"
	case TypeMap:
		return "map"
	case TypeZSet:
		return "zset"
	case TypeList:
		return "list"
	case TypeText:
		return "text"
	case TypeStream:
		return "stream"
	case TypeBCounter:
		return "bcounter"
	}
	return "unknown"
}

// Named limits. Decoders refuse anything above them; mutators return an
// error rather than build a value that could not be decoded.
const (
	MaxKeyBytes     = 1 << 10              // a key, or a map field name
	MaxValueBytes   = limits.MaxValueBytes // a register value, set member or map field value (8 MiB)
	MaxTxnKeys      = 1 << 12              // keys touched by one transaction
	MaxTxnOps       = 1 << 16              // members/fields touched by one transaction
	MaxSetMembers   = 1 << 24              // members of one decoded set
	MaxMapFields    = 1 << 24              // fields of one decoded map
	MaxZSetMembers  = 1 << 24              // members of one decoded sorted set, hidden ones included; ZADD past it returns ErrTooLarge
	MaxSiblings     = 1 << 10              // concurrent register values of one decoded register
	MaxKeys         = 1 << 30              // keys of one decoded keyspace
	MaxNesting      = 1                    // maps hold registers, counters and sets, not maps
	EncodingVersion = 1                    // first byte of every full encoding (Txn, Keyspace)

	// MaxCounterNodes bounds the per-node entries of one decoded counter
	// and the resets one counter clear may carry: one per node that ever
	// incremented it, so the bound is the version vector's.
	MaxCounterNodes = 1 << 12
	// MaxMemberDots bounds the dots of one decoded set member: one per
	// node that added it concurrently with the member's last observed add.
	MaxMemberDots = 1 << 12

	// MaxTxnBytes bounds one encoded transaction (Txn.AppendBinary), the
	// table's limits.MaxTxnBytes. The Builder does not track encoded
	// size; the replica measures the encoding before it commits and
	// refuses a larger transaction (wrapping ErrTxnTooBig).
	MaxTxnBytes = limits.MaxTxnBytes
)

// Errors returned by mutators, Apply and decoders.
var (
	ErrOverflow   = errors.New("crdt: counter overflow")                  // Increment past int64
	ErrKeyTooLong = errors.New("crdt: key too long")                      // key or field > MaxKeyBytes
	ErrTooLarge   = errors.New("crdt: value too large")                   // value or member > MaxValueBytes, set > MaxSetMembers
	ErrTxnTooBig  = errors.New("crdt: transaction too large")             // > MaxTxnKeys, MaxTxnOps or MaxTxnBytes
	ErrNotReady   = errors.New("crdt: transaction's causal past missing") // Apply before Deps
	ErrVersion    = errors.New("crdt: unknown encoding version")          // decoders: first byte ≠ EncodingVersion
	ErrNotInteger = errors.New("crdt: value is not an integer")           // INCR of a non-integer register
	ErrNotFloat   = errors.New("crdt: score is not a number")             // ZADD of NaN, ZINCRBY whose result is NaN
	ErrRange      = errors.New("crdt: index out of range")                // list or text position outside the value
	ErrNotText    = errors.New("crdt: text is not valid UTF-8")           // TextInsert of bytes that are not UTF-8
	// ErrWrongType is returned by Builder operations on a key (or map
	// field) whose visible type is another type: SADD on a string, HSET on
	// a set, INCR on a set (Redis WRONGTYPE). Set and Delete never return
	// it: they overwrite any type.
	ErrWrongType = errors.New("crdt: operation against a key holding the wrong kind of value")
	// ErrInvalid is returned by decoders for input that parses but is not
	// canonical or not allowed (unsorted, duplicate, zero dot, unknown
	// tag), wrapped with the reason, and by Apply for a transaction with a
	// zero dot.
	// It wraps codec.ErrInvalid.
	ErrInvalid = fmt.Errorf("crdt: invalid input: %w", codec.ErrInvalid)
)
