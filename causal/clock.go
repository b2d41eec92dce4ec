package causal

import (
	"errors"
	"fmt"

	"github.com/spooksystems/spook/internal/codec"
)

// DefaultMaxAheadMs is the default for Clock.MaxAheadMs: how far a remote
// timestamp may run ahead of local physical time before it is refused. One
// minute tolerates ordinary NTP drift and refuses a misconfigured clock.
const DefaultMaxAheadMs = 60_000

// ErrClockAhead is returned by Clock.Observe for a remote timestamp further
// ahead of local physical time than Clock.MaxAheadMs. The remote write is
// refused, never silently accepted with a clamped time.
var ErrClockAhead = errors.New("causal: remote clock too far ahead")

// Timestamp is a hybrid logical clock reading: physical milliseconds since
// the Unix epoch plus a logical counter that orders events within one
// millisecond. Timestamps compare by (WallMs, Logical); ties between nodes
// are broken by the writer's NodeID where a total order is needed.
type Timestamp struct {
	WallMs  uint64
	Logical uint32
}

// Compare returns -1, 0 or +1.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.WallMs < o.WallMs:
		return -1
	case t.WallMs > o.WallMs:
		return 1
	case t.Logical < o.Logical:
		return -1
	case t.Logical > o.Logical:
		return 1
	}
	return 0
}

// IsZero reports whether t is the zero timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

func (t Timestamp) String() string { return fmt.Sprintf("%d.%d", t.WallMs, t.Logical) }

// AppendBinary appends WallMs and Logical as two uvarints.
func (t Timestamp) AppendBinary(dst []byte) []byte {
	dst = codec.AppendUvarint(dst, t.WallMs)
	return codec.AppendUvarint(dst, uint64(t.Logical))
}

// DecodeTimestamp reads a timestamp written by AppendBinary.
func DecodeTimestamp(r *codec.Reader) Timestamp {
	wall := r.Uvarint("timestamp wall")
	logical := r.Uvarint("timestamp logical")
	if logical > uint64(^uint32(0)) {
		r.Fail("timestamp logical", codec.ErrInvalid)
		return Timestamp{}
	}
	return Timestamp{WallMs: wall, Logical: uint32(logical)}
}

// Clock is a hybrid logical clock. Physical time is always passed in by the
// caller (the driver reads the real clock, the simulator its own), which
// keeps this package pure. The zero value is a clock with the default bound.
type Clock struct {
	// MaxAheadMs is how far a remote timestamp may be ahead of local
	// physical time, in milliseconds. Zero means DefaultMaxAheadMs.
	MaxAheadMs uint64

	last Timestamp
}

// Last returns the most recent timestamp issued or observed.
func (c *Clock) Last() Timestamp { return c.last }

// Now returns a timestamp greater than every timestamp issued or observed
// before, given the physical time nowMs.
func (c *Clock) Now(nowMs uint64) Timestamp {
	if nowMs > c.last.WallMs {
		c.last = Timestamp{WallMs: nowMs}
	} else if c.last.Logical == ^uint32(0) {
		// The logical counter is exhausted within one millisecond (4 G
		// events); borrow the next millisecond rather than wrap.
		c.last = Timestamp{WallMs: c.last.WallMs + 1}
	} else {
		c.last.Logical++
	}
	return c.last
}

// Observe folds a remote timestamp into the clock so later local
// timestamps order after it. A remote timestamp more than MaxAheadMs ahead
// of nowMs is refused with ErrClockAhead and leaves the clock unchanged.
func (c *Clock) Observe(remote Timestamp, nowMs uint64) error {
	bound := c.MaxAheadMs
	if bound == 0 {
		bound = DefaultMaxAheadMs
	}
	if remote.WallMs > nowMs && remote.WallMs-nowMs > bound {
		return fmt.Errorf("%w: remote %d ms ahead of local time, bound %d ms",
			ErrClockAhead, remote.WallMs-nowMs, bound)
	}
	if remote.Compare(c.last) > 0 {
		c.last = remote
	}
	return nil
}
