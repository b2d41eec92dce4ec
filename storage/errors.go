package storage

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by every error that reports damaged data on
	// disk: a checksum mismatch, an impossible length, a bad header or a
	// gap between segments, anywhere a torn tail cannot explain it.
	// OpenLog, Log.Iterate, LoadSnapshot (in its skipped list) and
	// OpenStore return it, always as a *CorruptionError naming the file
	// and byte offset.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrClosed is returned by Log methods called after Close.
	ErrClosed = errors.New("storage: log closed")
	// ErrRecordTooLarge is returned by Log.Append for a payload above
	// LogOptions.MaxRecordBytes. It does not fail the log.
	ErrRecordTooLarge = errors.New("storage: record too large")
	// ErrCompacted is returned by Log.Iterate for a start index below the
	// log's first index (removed by TruncateFront).
	ErrCompacted = errors.New("storage: index compacted")
	// ErrSyncPolicy is returned by ParseSyncPolicy for an unknown name.
	ErrSyncPolicy = errors.New("storage: unknown sync policy")
	// ErrOptions is returned for options that make no sense (a limit out
	// of range, a snapshot index beyond the log).
	ErrOptions = errors.New("storage: invalid options")
)

// CorruptionError locates damaged data. It unwraps to ErrCorrupt.
type CorruptionError struct {
	// What is "record", "segment header", "segment" or "snapshot".
	What string
	// File is the path of the damaged file.
	File string
	// OffsetBytes is the byte offset in File where the damage starts.
	OffsetBytes int64
	// Reason says what check failed ("checksum mismatch", ...).
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("storage: corrupt %s in %s at offset %d: %s", e.What, e.File, e.OffsetBytes, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptionError) Unwrap() error { return ErrCorrupt }
