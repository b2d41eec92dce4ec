package crdt

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// hasher computes the hashes the keyspace maintains incrementally. It
// owns a scratch buffer so hashing allocates nothing once warm (up to
// MaxHashScratchBytes: a larger input allocates each time).
//
// The hash of a key is xxhash64 over: the key (length-prefixed), then the
// value's digest input: its component tag, the canonical encoding of the
// register and counter components, and for the set and map components the
// 8-byte sum (mod 2^64) of their member or field hashes. A member hash is
// xxhash64 of the member (length-prefixed) and its dots; a field hash is
// xxhash64 of the name (length-prefixed) and the field value's digest
// input. So the key hash is a function of the key's canonical encoding,
// and one changed member or field costs O(its size), not O(the set's).
// MaxHashScratchBytes bounds, in bytes, the scratch buffer a hasher keeps
// between hashes. Hashing a larger input (a register value near
// MaxValueBytes) still builds it in one buffer, which is dropped after
// use rather than held by the keyspace for ever.
const MaxHashScratchBytes = 64 << 10

type hasher struct {
	buf []byte
}

// sum hashes b, built in h.buf, and keeps b as the scratch buffer unless
// it outgrew MaxHashScratchBytes.
func (h *hasher) sum(b []byte) uint64 {
	if cap(b) <= MaxHashScratchBytes {
		h.buf = b
	} else {
		h.buf = nil
	}
	return xxhash.Sum64(b)
}

func (h *hasher) member(m []byte, ds []causal.Dot) uint64 {
	b := codec.AppendBytes(h.buf[:0], m)
	b = appendDots(b, ds)
	return h.sum(b)
}

func (h *hasher) field(name []byte, v *Value) uint64 {
	b := codec.AppendBytes(h.buf[:0], name)
	b = appendDigestInput(b, v)
	return h.sum(b)
}

func (h *hasher) key(key []byte, v *Value) uint64 {
	b := codec.AppendBytes(h.buf[:0], key)
	b = appendDigestInput(b, v)
	return h.sum(b)
}

func (h *hasher) context(c *causal.Context) uint64 {
	b := c.AppendBinary(h.buf[:0])
	return h.sum(b)
}

// appendDigestInput appends what a value contributes to its hash.
func appendDigestInput(dst []byte, v *Value) []byte {
	dst = append(dst, componentTag(v))
	if v.reg.len() > 0 {
		dst = appendRegister(dst, &v.reg)
	}
	if v.ctr() != nil {
		dst = appendCounter(dst, v.ctr())
	}
	if v.oset() != nil {
		dst = binary.LittleEndian.AppendUint64(dst, v.oset().digest)
	}
	if v.omap() != nil {
		dst = binary.LittleEndian.AppendUint64(dst, v.omap().digest)
	}
	if es := v.expiry(); len(es) > 0 {
		dst = appendExpiry(dst, es)
	}
	if ext := extComponents(v); ext != 0 {
		dst = append(dst, ext)
		dst = appendSeqDigests(dst, v)
	}
	if z := v.zs(); z != nil {
		dst = binary.LittleEndian.AppendUint64(dst, z.digest)
	}
	if s := v.strm(); s != nil {
		dst = appendStreamDigest(dst, s)
	}
	if c := v.bc(); c != nil {
		dst = appendBCounterDigest(dst, c)
	}
	return dst
}

// mix combines the sum of key hashes with the context hash (a 64-bit
// finalizer, so neither input cancels the other).
func mix(sum, ctx uint64) uint64 {
	x := sum ^ (ctx*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
