package seq

import (
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Content is the storage of the elements of one run. A Seq keeps one
// Content per live run and drops it when the run is deleted (a tombstone
// has none).
//
// Aliasing contract: Slice must return a value that an Append to it cannot
// use to overwrite the rest of t (cap-limit it), because the halves of a
// split run live on side by side and each may be extended by merging.
type Content[T any] interface {
	// Slice returns elements [from, to) of t, which holds n elements.
	Slice(n, from, to int) T
	// Append returns t followed by u (u holding m elements); it may
	// reuse t's spare capacity, never u's storage.
	Append(u T) T
	// AppendHashes appends a hash of each element of t (n elements) in
	// order to dst: what a visible element contributes to Seq.Digest.
	AppendHashes(dst []uint64, n int) []uint64
	// unitsBefore returns the storage units (bytes of text, elements of
	// a list) of t's first k elements (t holds n).
	unitsBefore(n, k int) int
	// units returns storage units [from, to) of t, cap-limited.
	units(from, to int) T
	// unitLen returns t's length in storage units.
	unitLen() int
	// unitCap returns t's capacity in storage units.
	unitCap() int
	// withCap returns an empty T with room for n units.
	withCap(n int) T
}

// Text is a run of Unicode code points stored as UTF-8. Positions count
// code points; a run whose byte length equals its element count is ASCII
// and is sliced without scanning.
type Text []byte

// Slice returns code points [from, to) of t (n code points).
func (t Text) Slice(n, from, to int) Text {
	if len(t) == n {
		return t[from:to:to]
	}
	start, i := 0, 0
	for b := 0; b < len(t); {
		if i == from {
			start = b
		}
		if i == to {
			return t[start:b:b]
		}
		_, size := utf8.DecodeRune(t[b:])
		b += size
		i++
	}
	if from == i {
		start = len(t)
	}
	return t[start:len(t):len(t)]
}

// Append returns t followed by u.
func (t Text) Append(u Text) Text { return append(t, u...) }

func (t Text) unitsBefore(n, k int) int {
	if len(t) == n {
		return k
	}
	b := 0
	for i := 0; i < k && b < len(t); i++ {
		_, size := utf8.DecodeRune(t[b:])
		b += size
	}
	return b
}

func (t Text) units(from, to int) Text { return t[from:to:to] }

func (t Text) unitLen() int { return len(t) }

func (t Text) unitCap() int { return cap(t) }

func (Text) withCap(n int) Text { return make(Text, 0, n) }

// AppendHashes appends each code point's hash.
func (t Text) AppendHashes(dst []uint64, n int) []uint64 {
	if len(t) == n {
		for _, c := range t {
			dst = append(dst, (uint64(c)+0x51ed2701)*0xc4ceb9fe1a85ec53)
		}
		return dst
	}
	for _, r := range string(t) {
		dst = append(dst, (uint64(r)+0x51ed2701)*0xc4ceb9fe1a85ec53)
	}
	return dst
}

// Values is a run of list elements, each an arbitrary byte string.
type Values [][]byte

// Slice returns elements [from, to) of t.
func (t Values) Slice(n, from, to int) Values { return t[from:to:to] }

// Append returns t followed by u.
func (t Values) Append(u Values) Values { return append(t, u...) }

func (t Values) unitsBefore(n, k int) int { return k }

func (t Values) units(from, to int) Values { return t[from:to:to] }

func (t Values) unitLen() int { return len(t) }

func (t Values) unitCap() int { return cap(t) }

func (Values) withCap(n int) Values { return make(Values, 0, n) }

// AppendHashes appends each element's hash.
func (t Values) AppendHashes(dst []uint64, n int) []uint64 {
	for _, v := range t {
		dst = append(dst, xxhash.Sum64(v))
	}
	return dst
}

// mix64 is a 64-bit finalizer (splitmix64's): digests are sums of mixed
// terms, so every term must be well spread.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
