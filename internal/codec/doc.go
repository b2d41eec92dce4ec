// Package codec holds the small binary primitives every Spook format is
// built from: unsigned and zig-zag varints, length-prefixed byte strings,
// and a Reader that remembers the first error so a decoder can read a whole
// record and check once.
//
// Writers are append-style (AppendUvarint(dst, v) returns the extended
// slice) so a caller controls allocation. The Reader never panics on short,
// truncated or hostile input, never allocates more than the input length
// justifies, and bounds every length it reads by a limit the caller names.
//
// Errors: every failure is one of the sentinel errors below, wrapped with
// the field that failed, so callers can use errors.Is and still print a
// useful reason.
package codec
