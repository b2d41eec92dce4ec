package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var (
	// ErrTruncated is returned when the input ends inside a value.
	ErrTruncated = errors.New("codec: truncated input")
	// ErrOverflow is returned for a varint longer than 64 bits.
	ErrOverflow = errors.New("codec: varint overflows 64 bits")
	// ErrTooLong is returned for a length prefix above the caller's limit.
	ErrTooLong = errors.New("codec: length above limit")
	// ErrTrailing is returned by Reader.Finish when bytes are left over.
	ErrTrailing = errors.New("codec: trailing bytes")
	// ErrInvalid is returned by callers for a value that decodes but is
	// not allowed (an unknown enum, a zero where zero is forbidden).
	ErrInvalid = errors.New("codec: invalid value")
)

// AppendUvarint appends v as an unsigned LEB128 varint.
func AppendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendVarint appends v zig-zag encoded, so small negative numbers stay short.
func AppendVarint(dst []byte, v int64) []byte {
	return AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

// AppendBytes appends len(b) as a uvarint followed by b.
func AppendBytes(dst, b []byte) []byte {
	dst = AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendString is AppendBytes for a string, without a conversion copy.
func AppendString(dst []byte, s string) []byte {
	dst = AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// UvarintLen is the number of bytes AppendUvarint writes for v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Reader decodes a byte slice front to back. After the first error every
// method returns a zero value and Err reports that first error; decoders
// read a whole record and check Err once.
//
// Byte slices returned by Bytes alias the input: the caller must copy them
// if the input buffer is reused.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b. It does not copy b.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Reset makes r read b from the start with no error, so a Reader can be
// reused without allocating.
func (r *Reader) Reset(b []byte) { *r = Reader{buf: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Len is the number of bytes not yet consumed.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// Fail records err (wrapped with what) unless an error is already recorded.
// Decoders use it for semantic checks so all failures flow through Err.
func (r *Reader) Fail(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d: %w", what, r.off, err)
	}
}

// Uvarint reads an unsigned varint. what names the field in errors.
func (r *Reader) Uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	if r.off < len(r.buf) && r.buf[r.off] < 0x80 {
		// One byte: most counts, positions and IDs in practice.
		r.off++
		return uint64(r.buf[r.off-1])
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	switch {
	case n == 0:
		r.Fail(what, ErrTruncated)
		return 0
	case n < 0:
		r.Fail(what, ErrOverflow)
		return 0
	}
	r.off += n
	return v
}

// Varint reads a zig-zag varint written by AppendVarint.
func (r *Reader) Varint(what string) int64 {
	u := r.Uvarint(what)
	return int64(u>>1) ^ -int64(u&1)
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.buf) {
		r.Fail(what, ErrTruncated)
		return 0
	}
	b := r.buf[r.off]
	r.off++
	return b
}

// Count reads a uvarint element count and refuses one above max, or one
// larger than the bytes left could possibly hold at minBytes per element.
// The second check is what keeps a hostile count from driving a large
// allocation: a decoder may make([]T, 0, Count(...)) safely.
func (r *Reader) Count(what string, max int, minBytes int) int {
	v := r.Uvarint(what)
	if r.err != nil {
		return 0
	}
	if v > uint64(max) {
		r.Fail(what, fmt.Errorf("%w: %d > %d", ErrTooLong, v, max))
		return 0
	}
	if minBytes > 0 && v > uint64(r.Len()/minBytes) {
		r.Fail(what, ErrTruncated)
		return 0
	}
	return int(v)
}

// Bytes reads a length-prefixed byte string of at most max bytes. The
// result aliases the input.
func (r *Reader) Bytes(what string, max int) []byte {
	n := r.Uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(max) {
		r.Fail(what, fmt.Errorf("%w: %d > %d", ErrTooLong, n, max))
		return nil
	}
	if n > uint64(r.Len()) {
		r.Fail(what, ErrTruncated)
		return nil
	}
	b := r.buf[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b
}

// Raw reads exactly n bytes without a length prefix. The result aliases
// the input.
func (r *Reader) Raw(what string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Len() {
		r.Fail(what, ErrTruncated)
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// Finish records ErrTrailing if input is left over and returns Err.
func (r *Reader) Finish() error {
	if r.err == nil && r.off != len(r.buf) {
		r.Fail("end", fmt.Errorf("%w: %d bytes", ErrTrailing, r.Len()))
	}
	return r.err
}
