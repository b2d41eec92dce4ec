package crdt

import (
	"bytes"
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Canonical encodings. Every integer is a varint (codec); "bytes" is a
// uvarint length then the bytes; lists are a uvarint count then elements in
// the stated order. Decoders refuse anything else (unsorted, duplicates,
// zero dots or counters, empty components, unknown tags), so equal states
// have identical bytes and a decoded input re-encodes to itself.
//
// Value (one key or map field):
//
//	tag        byte: 1 register | 2 counter | 4 set | 8 map (not in a field)
//	register   count ≥ 1, entries by dot: node, counter, wall ms, logical, value bytes
//	counter    count ≥ 1, nodes ascending: node delta (first absolute, then > 0),
//	           k ≥ 1, sum (zig-zag), reset code: 0 none | 1 kr=k, sumr=sum |
//	           2 then kr (1..k) and sumr (zig-zag), not equal to code 1
//	set        count ≥ 1, members ascending: member bytes, dots (count ≥ 1, node, counter)
//	map        count ≥ 1, fields ascending: name bytes, nested value (tag ≠ 0)
//	expiry     (tag 16, not in a field) count ≥ 1, entries by dot: node,
//	           counter, wall ms, logical, deadline ms ≥ 1 (expiry.go). A value
//	           without a deadline has no tag 16, so its encoding is the one
//	           from before expiry existed (the bit was appended).
//	ext        (tag 32, not in a field) the extension byte follows the tag
//	           byte (ext… flags, txn.go, never 0); each extension
//	           component's state follows expiry, in bit order.
//
// Keyspace:
//
//	version    byte, EncodingVersion
//	context    causal.Context
//	keys       count, keys ascending: key bytes, value (tag ≠ 0); every dot
//	           of every value lies in the context
//
// Transaction body (AppendBody; the header is the link's or AppendBinary's):
//
//	keys       count, keys ascending: key (through the KeyWriter), operation
//	operation  tag byte: 1 clear observed register | 2 register write |
//	           4 counter resets | 8 counter increment | 16 set op | 32 map op
//	           (32 not in a field); then, in bit order:
//	  2        value bytes
//	  4        count ≥ 1, by node ascending: node delta, k ≥ 1, sum (zig-zag)
//	  8        the writer's new cumulative sum (zig-zag)
//	  16       header = count<<1 | clear-observed; members ascending, each
//	           uvarint len<<2 | op (1 add, 2 remove observed, 3 both; 1 only
//	           when the whole set is cleared) then the member's bytes
//	  32       header = count<<1 | clear-observed; fields ascending: name
//	           bytes, nested operation (no 1 or set clear when the map is
//	           cleared: the map clear already removes them)
//	  64       (not in a field) remove the observed expiry entries, then the
//	           new deadline in ms (uvarint; 0: none, nothing added)
//	  128      (not in a field) the extension byte follows the tag byte
//	           (ext… flags, never 0); each extension component's operation
//	           follows the 64 part, in bit order
//
// Transaction (AppendBinary): version byte, dot node, dot counter, wall
// ms, logical, causal.Context deps, body with plain keys.
//
// The dot, time and deps are implicit in the body: every entry an
// operation adds carries the transaction's dot and time, every removal
// is of the entries whose dots lie in deps. So a counter increment costs
// its key, one tag byte and one varint (INCR of a small counter: 2 bytes
// beyond the key and the key count).

const (
	tagRegister uint8 = 1 << 0
	tagCounter  uint8 = 1 << 1
	tagSet      uint8 = 1 << 2
	tagMap      uint8 = 1 << 3
	tagExpiry   uint8 = 1 << 4 // top level only
	tagExt      uint8 = 1 << 5 // top level only: an extension byte (ext… flags, txn.go) follows
)

// extComponents returns the value's extension bits (ext… flags, txn.go).
func extComponents(v *Value) uint8 {
	t := seqExt(v) | streamExt(v) | bcounterExt(v)
	if v.zs() != nil {
		t |= extZSet
	}
	return t
}

// componentTag returns the value's component bits.
func componentTag(v *Value) uint8 {
	var t uint8
	if v.reg.len() > 0 {
		t |= tagRegister
	}
	if v.ctr() != nil {
		t |= tagCounter
	}
	if v.oset() != nil {
		t |= tagSet
	}
	if v.omap() != nil {
		t |= tagMap
	}
	if len(v.expiry()) > 0 {
		t |= tagExpiry
	}
	if extComponents(v) != 0 {
		t |= tagExt
	}
	return t
}

// AppendValue appends the canonical encoding of one key's value (used to
// ship single keys in reconciliation); a nil value encodes as a zero tag.
func AppendValue(dst []byte, v *Value) []byte {
	if v == nil {
		return append(dst, 0)
	}
	tag := componentTag(v)
	dst = append(dst, tag)
	if tag&tagExt != 0 {
		dst = append(dst, extComponents(v))
	}
	if v.reg.len() > 0 {
		dst = appendRegister(dst, &v.reg)
	}
	if v.ctr() != nil {
		dst = appendCounter(dst, v.ctr())
	}
	if v.oset() != nil {
		dst = codec.AppendUvarint(dst, uint64(len(v.oset().members)))
		for _, m := range v.oset().sortedMembers() {
			dst = codec.AppendString(dst, m)
			dst = appendDots(dst, v.oset().members[m])
		}
	}
	if v.omap() != nil {
		dst = codec.AppendUvarint(dst, uint64(len(v.omap().fields)))
		for _, name := range v.omap().sortedFields() {
			dst = codec.AppendString(dst, name)
			dst = AppendValue(dst, v.omap().fields[name])
		}
	}
	if es := v.expiry(); len(es) > 0 {
		dst = appendExpiry(dst, es)
	}
	dst = appendSeqStates(dst, v)
	if z := v.zs(); z != nil {
		dst = appendZSet(dst, z)
	}
	if s := v.strm(); s != nil {
		dst = appendStream(dst, s)
	}
	if c := v.bc(); c != nil {
		dst = appendBCounter(dst, c)
	}
	return dst
}

func appendRegister(dst []byte, reg *registers) []byte {
	dst = codec.AppendUvarint(dst, uint64(reg.len()))
	for i := 0; i < reg.len(); i++ {
		e := reg.at(i)
		dst = codec.AppendUvarint(dst, uint64(e.dot.Node))
		dst = codec.AppendUvarint(dst, e.dot.Counter)
		dst = e.time.AppendBinary(dst)
		dst = codec.AppendBytes(dst, e.value)
	}
	return dst
}

const (
	resetNone     = 0
	resetFull     = 1
	resetExplicit = 2
)

func appendCounter(dst []byte, c *counter) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(c.nodes)))
	var prev causal.NodeID
	for i := range c.nodes {
		n := &c.nodes[i]
		dst = codec.AppendUvarint(dst, uint64(n.node-prev))
		prev = n.node
		dst = codec.AppendUvarint(dst, n.k)
		dst = codec.AppendVarint(dst, n.sum)
		switch {
		case n.kr == 0:
			dst = append(dst, resetNone)
		case n.kr == n.k && n.sumr == n.sum:
			dst = append(dst, resetFull)
		default:
			dst = append(dst, resetExplicit)
			dst = codec.AppendUvarint(dst, n.kr)
			dst = codec.AppendVarint(dst, n.sumr)
		}
	}
	return dst
}

func appendDots(dst []byte, ds []causal.Dot) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(ds)))
	for _, d := range ds {
		dst = codec.AppendUvarint(dst, uint64(d.Node))
		dst = codec.AppendUvarint(dst, d.Counter)
	}
	return dst
}

// DecodeValue reads a value written by AppendValue (nil for a zero tag).
// Returned byte slices alias r's input; the value is read-only. Errors
// are r's (wrapping codec's or ErrInvalid), and r records them too.
func DecodeValue(r *codec.Reader) (*Value, error) {
	var h hasher
	v := decodeValue(r, false, nil, &h)
	if r.Err() != nil {
		return nil, r.Err()
	}
	return v, nil
}

// decodeValue reads one value. nested forbids a map component; ctx, if
// not nil, must contain every dot (a keyspace's values).
func decodeValue(r *codec.Reader, nested bool, ctx *causal.Context, h *hasher) *Value {
	tag := r.Byte("value tag")
	if r.Err() != nil {
		return nil
	}
	allowed := tagRegister | tagCounter | tagSet | tagMap | tagExpiry | tagExt
	if nested {
		allowed &^= tagMap | tagExpiry | tagExt
	}
	if tag&^allowed != 0 {
		r.Fail(fmt.Sprintf("value tag %#x", tag), ErrInvalid)
		return nil
	}
	var ext uint8
	if tag&tagExt != 0 {
		ext = r.Byte("value extension tag")
		if r.Err() == nil && (ext == 0 || ext&^extMask != 0) {
			r.Fail(fmt.Sprintf("value extension tag %#x", ext), ErrInvalid)
		}
		if r.Err() != nil {
			return nil
		}
	}
	if tag == 0 {
		if nested {
			r.Fail("empty field value", ErrInvalid)
		}
		return nil
	}
	v := &Value{}
	if tag&tagRegister != 0 {
		v.reg.assign(decodeRegister(r, ctx))
	}
	if tag&tagCounter != 0 {
		v.putCtr(decodeCounter(r, ctx))
	}
	if tag&tagSet != 0 {
		v.putSet(decodeSet(r, ctx, h))
	}
	if tag&tagMap != 0 {
		v.putMap(decodeMap(r, ctx, h))
	}
	if tag&tagExpiry != 0 {
		v.putExpiry(decodeExpiry(r, ctx))
	}
	decodeSeqStates(r, v, ext, ctx)
	if ext&extZSet != 0 {
		v.putZSet(decodeZSet(r, ctx, h))
	}
	if ext&extStream != 0 {
		v.putStream(decodeStream(r, ctx, h))
	}
	if ext&extBCounter != 0 {
		v.putBCounter(decodeBCounter(r, ctx))
	}
	if r.Err() != nil {
		return nil
	}
	return v
}

func checkDot(r *codec.Reader, what string, d causal.Dot, ctx *causal.Context) bool {
	if d.Node == 0 || d.Counter == 0 {
		r.Fail(what+": zero dot", ErrInvalid)
		return false
	}
	if ctx != nil && !ctx.Contains(d) {
		r.Fail(what+": dot outside the context", ErrInvalid)
		return false
	}
	return true
}

func decodeRegister(r *codec.Reader, ctx *causal.Context) []regEntry {
	// An entry is at least node, counter, wall, logical and a length: 5 bytes.
	n := count(r, "register entries", MaxSiblings, 5)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("register entries: empty register", ErrInvalid)
		return nil
	}
	out := make([]regEntry, 0, n)
	for i := 0; i < n; i++ {
		d := causal.Dot{Node: causal.NodeID(uvarint(r, "register node")), Counter: uvarint(r, "register counter")}
		ts := decodeTimestamp(r)
		val := byteString(r, "register value", MaxValueBytes)
		if r.Err() != nil || !checkDot(r, "register entry", d, ctx) {
			return nil
		}
		if i > 0 && !out[i-1].dot.Less(d) {
			r.Fail("register entries: not ascending", ErrInvalid)
			return nil
		}
		out = append(out, regEntry{dot: d, time: ts, value: val})
	}
	return out
}

func decodeCounter(r *codec.Reader, ctx *causal.Context) *counter {
	// A node is at least node delta, k, sum and a reset code: 4 bytes.
	n := count(r, "counter nodes", MaxCounterNodes, 4)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("counter nodes: empty counter", ErrInvalid)
		return nil
	}
	c := &counter{nodes: make([]counterNode, 0, n)}
	var prev causal.NodeID
	for i := 0; i < n; i++ {
		delta := uvarint(r, "counter node")
		e := counterNode{node: prev + causal.NodeID(delta), k: uvarint(r, "counter k"), sum: varint(r, "counter sum")}
		code := r.Byte("counter reset")
		switch code {
		case resetNone:
		case resetFull:
			e.kr, e.sumr = e.k, e.sum
		case resetExplicit:
			e.kr, e.sumr = uvarint(r, "counter kr"), varint(r, "counter sumr")
			if e.kr == 0 || e.kr > e.k || (e.kr == e.k && e.sumr == e.sum) {
				r.Fail("counter reset: not canonical", ErrInvalid)
			}
		default:
			r.Fail("counter reset code", ErrInvalid)
		}
		if r.Err() != nil {
			return nil
		}
		if delta == 0 || e.node < prev {
			r.Fail("counter nodes: not ascending", ErrInvalid)
			return nil
		}
		if !checkDot(r, "counter entry", causal.Dot{Node: e.node, Counter: e.k}, ctx) {
			return nil
		}
		c.nodes = append(c.nodes, e)
		prev = e.node
	}
	return c
}

func decodeDots(r *codec.Reader, ctx *causal.Context) []causal.Dot {
	n := count(r, "member dots", MaxMemberDots, 2)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("member dots: none", ErrInvalid)
		return nil
	}
	out := make([]causal.Dot, 0, n)
	for i := 0; i < n; i++ {
		d := causal.Dot{Node: causal.NodeID(uvarint(r, "dot node")), Counter: uvarint(r, "dot counter")}
		if r.Err() != nil || !checkDot(r, "member", d, ctx) {
			return nil
		}
		if i > 0 && !out[i-1].Less(d) {
			r.Fail("member dots: not ascending", ErrInvalid)
			return nil
		}
		out = append(out, d)
	}
	return out
}

func decodeSet(r *codec.Reader, ctx *causal.Context, h *hasher) *orSet {
	// A member is at least a length and one dot (count, node, counter).
	n := count(r, "set members", MaxSetMembers, 4)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("set members: empty set", ErrInvalid)
		return nil
	}
	s := &orSet{members: make(map[string][]causal.Dot, n)}
	var prev []byte
	for i := 0; i < n; i++ {
		m := byteString(r, "set member", MaxValueBytes)
		ds := decodeDots(r, ctx)
		if r.Err() != nil {
			return nil
		}
		if i > 0 && bytes.Compare(prev, m) >= 0 {
			r.Fail("set members: not ascending", ErrInvalid)
			return nil
		}
		prev = m
		s.members[string(m)] = ds
		s.digest += h.member(m, ds)
	}
	return s
}

func decodeMap(r *codec.Reader, ctx *causal.Context, h *hasher) *orMap {
	// A field is at least a length and a tag.
	n := count(r, "map fields", MaxMapFields, 2)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("map fields: empty map", ErrInvalid)
		return nil
	}
	m := &orMap{fields: make(map[string]*Value, n)}
	var prev []byte
	for i := 0; i < n; i++ {
		name := byteString(r, "map field", MaxKeyBytes)
		v := decodeValue(r, true, ctx, h)
		if r.Err() != nil {
			return nil
		}
		if i > 0 && bytes.Compare(prev, name) >= 0 {
			r.Fail("map fields: not ascending", ErrInvalid)
			return nil
		}
		prev = name
		m.fields[string(name)] = v
		m.remember(name, v, h)
	}
	return m
}

// AppendBinary appends the canonical encoding of the whole state, hidden
// values included: version, context, keys in bytewise order.
func (ks *Keyspace) AppendBinary(dst []byte) []byte {
	dst = append(dst, EncodingVersion)
	dst = ks.ctx.AppendBinary(dst)
	dst = codec.AppendUvarint(dst, uint64(ks.order.Len()))
	ks.order.Scan(func(e *keyEntry) bool {
		dst = codec.AppendString(dst, e.key)
		dst = AppendValue(dst, &e.v)
		return true
	})
	return dst
}

// DecodeKeyspace decodes a state written by Keyspace.AppendBinary. It
// copies b once and the state aliases that copy, so b may be reused.
func DecodeKeyspace(b []byte) (*Keyspace, error) {
	b = bytes.Clone(b)
	r := codec.NewReader(b)
	if v := r.Byte("version"); r.Err() == nil && v != EncodingVersion {
		return nil, fmt.Errorf("%w: keyspace version %d", ErrVersion, v)
	}
	ks := NewKeyspace()
	ks.ctx = decodeContext(r)
	// A key is at least a length and a tag.
	n := count(r, "keys", MaxKeys, 2)
	ks.index.reserve(n)
	var prev []byte
	for i := 0; i < n && r.Err() == nil; i++ {
		key := byteString(r, "key", MaxKeyBytes)
		v := decodeValue(r, false, &ks.ctx, &ks.h)
		if r.Err() != nil {
			break
		}
		if v == nil {
			r.Fail("key without value", ErrInvalid)
			break
		}
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			r.Fail("keys: not ascending", ErrInvalid)
			break
		}
		prev = key
		id := ks.slab.alloc()
		e := ks.slab.at(id)
		*e = keyEntry{key: string(key), v: *v}
		ks.index.insert(key, id, &ks.slab)
		ks.order.load(id)
		ks.noteBCounter(e)
		e.hash = ks.h.key(key, &e.v)
		ks.sum += e.hash
		if e.v.live() {
			ks.live++
		}
	}
	if err := r.Finish(); err != nil {
		return nil, err
	}
	ks.ctxHash = ks.h.context(&ks.ctx)
	return ks, nil
}

// KeyWriter and KeyReader let a link substitute keys with dictionary ids
// (package replica). PlainKeys writes every key length-prefixed in full.
type KeyWriter interface {
	AppendKey(dst []byte, key []byte) []byte
}

// KeyReader reads a key written by the matching KeyWriter. The returned
// slice may alias the input or the reader's dictionary. On failure it
// records the error in r.
type KeyReader interface {
	ReadKey(r *codec.Reader) []byte
}

// PlainKeys writes and reads keys in full (length-prefixed).
type PlainKeys struct{}

func (PlainKeys) AppendKey(dst, key []byte) []byte { return codec.AppendBytes(dst, key) }
func (PlainKeys) ReadKey(r *codec.Reader) []byte   { return byteString(r, "key", MaxKeyBytes) }

// AppendBody appends the transaction's operations (not Dot, Time, Deps),
// writing keys through kw. Links encode the header themselves (the dot's
// node and the deps compress against link state); logs and bundles use
// AppendBinary.
func (t *Txn) AppendBody(dst []byte, kw KeyWriter) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(t.ops)))
	for i := range t.ops {
		dst = kw.AppendKey(dst, t.ops[i].key)
		dst = appendValueOp(dst, &t.ops[i].op, t.Dot)
	}
	return dst
}

func appendValueOp(dst []byte, op *valueOp, dot causal.Dot) []byte {
	tag := op.tag()
	dst = append(dst, tag)
	if tag&opExt != 0 {
		dst = append(dst, op.extTag())
	}
	if op.flags&opRegSet != 0 {
		dst = codec.AppendBytes(dst, op.value)
	}
	if len(op.resets) > 0 {
		dst = codec.AppendUvarint(dst, uint64(len(op.resets)))
		var prev causal.NodeID
		for _, rs := range op.resets {
			dst = codec.AppendUvarint(dst, uint64(rs.node-prev))
			prev = rs.node
			dst = codec.AppendUvarint(dst, rs.k)
			dst = codec.AppendVarint(dst, rs.sum)
		}
	}
	if op.flags&opCounterInc != 0 {
		dst = codec.AppendVarint(dst, op.sum)
	}
	if s := op.set; s != nil {
		dst = codec.AppendUvarint(dst, uint64(len(s.members))<<1|b2u(s.observed))
		for i := range s.members {
			m := &s.members[i]
			var bits uint64
			if m.add {
				bits |= 1
			}
			if m.observed {
				bits |= 2
			}
			dst = codec.AppendUvarint(dst, uint64(len(m.member))<<2|bits)
			dst = append(dst, m.member...)
		}
	}
	if m := op.mp; m != nil {
		dst = codec.AppendUvarint(dst, uint64(len(m.fields))<<1|b2u(m.observed))
		for i := range m.fields {
			dst = codec.AppendBytes(dst, m.fields[i].name)
			dst = appendValueOp(dst, &m.fields[i].op, dot)
		}
	}
	if op.flags&opExpiry != 0 {
		dst = codec.AppendUvarint(dst, op.deadline)
	}
	dst = appendSeqOps(dst, op, dot)
	if op.zset != nil {
		dst = appendZSetOp(dst, op.zset)
	}
	if op.stream != nil {
		dst = appendStreamOp(dst, op.stream)
	}
	if op.bcounter != nil {
		dst = appendBCounterOp(dst, op.bcounter)
	}
	return dst
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// DecodeBody reads operations written by AppendBody into t (whose header
// the caller has filled). Returned slices may alias the input; the
// caller must not reuse the input buffer while t is alive. It does not
// require r to be exhausted.
func DecodeBody(r *codec.Reader, kr KeyReader, t *Txn) error {
	// A key operation is at least a key byte and a tag.
	n := count(r, "transaction keys", MaxTxnKeys, 2)
	budget := MaxTxnOps
	ops := make([]keyOp, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		key := kr.ReadKey(r)
		if r.Err() != nil {
			break
		}
		if len(key) > MaxKeyBytes {
			r.Fail("transaction key", ErrKeyTooLong)
			break
		}
		if i > 0 && bytes.Compare(ops[i-1].key, key) >= 0 {
			r.Fail("transaction keys: not ascending", ErrInvalid)
			break
		}
		ops = append(ops, keyOp{key: key})
		decodeValueOp(r, &ops[i].op, false, false, &budget, t.Dot)
	}
	if r.Err() != nil {
		return r.Err()
	}
	t.ops = ops
	return nil
}

// decodeValueOp reads one operation into op. nested forbids a map
// operation; cleared says the enclosing map operation clears observed
// entries (so this one must not repeat it). budget counts members and
// fields against MaxTxnOps.
func decodeValueOp(r *codec.Reader, op *valueOp, nested, cleared bool, budget *int, dot causal.Dot) {
	tag := r.Byte("operation tag")
	if r.Err() != nil {
		return
	}
	allowed := opMaskTop
	if nested {
		allowed = opMaskNested
	}
	if tag == 0 || tag&^allowed != 0 || (cleared && tag&opRegClear != 0) {
		r.Fail(fmt.Sprintf("operation tag %#x", tag), ErrInvalid)
		return
	}
	var ext uint8
	if tag&opExt != 0 {
		ext = r.Byte("operation extension tag")
		if r.Err() == nil && (ext == 0 || ext&^extMask != 0) {
			r.Fail(fmt.Sprintf("operation extension tag %#x", ext), ErrInvalid)
		}
		if r.Err() != nil {
			return
		}
	}
	op.flags = tag & (opRegClear | opRegSet | opCounterInc | opExpiry)
	if tag&opRegSet != 0 {
		op.value = byteString(r, "register value", MaxValueBytes)
	}
	if tag&opCounterReset != 0 {
		// A reset is at least node delta, k and sum.
		n := count(r, "counter resets", MaxCounterNodes, 3)
		if r.Err() == nil && n == 0 {
			r.Fail("counter resets: none", ErrInvalid)
		}
		var prev causal.NodeID
		for i := 0; i < n && r.Err() == nil; i++ {
			delta := uvarint(r, "reset node")
			rs := counterReset{node: prev + causal.NodeID(delta), k: uvarint(r, "reset k"), sum: varint(r, "reset sum")}
			if r.Err() != nil {
				return
			}
			if (i > 0 && delta == 0) || rs.node == 0 || rs.node < prev || rs.k == 0 {
				r.Fail("counter resets: not canonical", ErrInvalid)
				return
			}
			op.resets = append(op.resets, rs)
			prev = rs.node
		}
	}
	if tag&opCounterInc != 0 {
		op.sum = varint(r, "counter sum")
	}
	if tag&opSet != 0 {
		op.set = decodeSetOp(r, cleared, budget)
	}
	if tag&opMap != 0 {
		op.mp = decodeMapOp(r, budget, dot)
	}
	if tag&opExpiry != 0 {
		op.deadline = uvarint(r, "expiry deadline")
	}
	decodeSeqOps(r, op, ext, dot, budget)
	if ext&extZSet != 0 {
		op.zset = decodeZSetOp(r, budget)
	}
	if ext&extStream != 0 {
		op.stream = decodeStreamOp(r, budget)
	}
	if ext&extBCounter != 0 {
		op.bcounter = decodeBCounterOp(r, dot)
	}
}

// opCount reads a set or map operation header: count<<1 | observed.
func opCount(r *codec.Reader, what string, budget *int) (int, bool) {
	h := uvarint(r, what)
	if r.Err() != nil {
		return 0, false
	}
	observed := h&1 == 1
	count := h >> 1
	// Each member or field takes at least 2 bytes.
	if count > uint64(*budget) || count > uint64(r.Len()/2) {
		r.Fail(what, ErrTxnTooBig)
		return 0, false
	}
	if count == 0 && !observed {
		r.Fail(what+": empty", ErrInvalid)
		return 0, false
	}
	*budget -= int(count)
	return int(count), observed
}

func decodeSetOp(r *codec.Reader, cleared bool, budget *int) *setOp {
	n, observed := opCount(r, "set operation", budget)
	if r.Err() != nil {
		return nil
	}
	if cleared && observed {
		r.Fail("set operation: clear inside a cleared map", ErrInvalid)
		return nil
	}
	s := &setOp{observed: observed, members: make([]memberOp, 0, n)}
	for i := 0; i < n; i++ {
		h := uvarint(r, "member header")
		if r.Err() != nil {
			return nil
		}
		bits, size := h&3, h>>2
		if bits == 0 || (observed && bits != 1) {
			r.Fail("member operation", ErrInvalid)
			return nil
		}
		if size > MaxValueBytes {
			r.Fail("member", ErrTooLarge)
			return nil
		}
		m := r.Raw("member", int(size))
		if r.Err() != nil {
			return nil
		}
		if i > 0 && bytes.Compare(s.members[i-1].member, m) >= 0 {
			r.Fail("set operation: members not ascending", ErrInvalid)
			return nil
		}
		s.members = append(s.members, memberOp{member: m, add: bits&1 != 0, observed: bits&2 != 0})
	}
	return s
}

func decodeMapOp(r *codec.Reader, budget *int, dot causal.Dot) *mapOp {
	n, observed := opCount(r, "map operation", budget)
	if r.Err() != nil {
		return nil
	}
	m := &mapOp{observed: observed, fields: make([]fieldOp, 0, n)}
	for i := 0; i < n; i++ {
		name := byteString(r, "field", MaxKeyBytes)
		if r.Err() != nil {
			return nil
		}
		if i > 0 && bytes.Compare(m.fields[i-1].name, name) >= 0 {
			r.Fail("map operation: fields not ascending", ErrInvalid)
			return nil
		}
		m.fields = append(m.fields, fieldOp{name: name})
		decodeValueOp(r, &m.fields[i].op, true, observed, budget, dot)
		if r.Err() != nil {
			return nil
		}
	}
	return m
}

// AppendBinary appends the canonical self-contained encoding: version,
// dot, time, deps, body with plain keys.
func (t *Txn) AppendBinary(dst []byte) []byte {
	dst = append(dst, EncodingVersion)
	dst = codec.AppendUvarint(dst, uint64(t.Dot.Node))
	dst = codec.AppendUvarint(dst, t.Dot.Counter)
	dst = t.Time.AppendBinary(dst)
	dst = t.Deps.AppendBinary(dst)
	return t.AppendBody(dst, PlainKeys{})
}

// DecodeTxn decodes a transaction written by AppendBinary. The result
// aliases b.
func DecodeTxn(b []byte) (*Txn, error) {
	r := codec.NewReader(b)
	if v := r.Byte("version"); r.Err() == nil && v != EncodingVersion {
		return nil, fmt.Errorf("%w: transaction version %d", ErrVersion, v)
	}
	t := &Txn{}
	t.Dot = causal.Dot{Node: causal.NodeID(uvarint(r, "dot node")), Counter: uvarint(r, "dot counter")}
	t.Time = decodeTimestamp(r)
	t.Deps = decodeContext(r)
	if r.Err() == nil && (t.Dot.Node == 0 || t.Dot.Counter == 0) {
		r.Fail("transaction dot: zero", ErrInvalid)
	}
	if r.Err() == nil && t.Deps.Contains(t.Dot) {
		r.Fail("transaction deps: contain its own dot", ErrInvalid)
	}
	if r.Err() == nil {
		DecodeBody(r, PlainKeys{}, t)
	}
	if err := r.Finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// Strict readers. codec.Reader accepts overlong varints (0x80 0x00 for 0);
// a canonical encoding has exactly one spelling of every value, so these
// wrappers refuse any varint longer than the minimal one. For a given
// value the minimal encoding is the unique shortest, so comparing lengths
// suffices.

func minimal(r *codec.Reader, what string, start, want int) {
	if r.Err() == nil && r.Offset()-start != want {
		r.Fail(what+": non-minimal encoding", ErrInvalid)
	}
}

func uvarint(r *codec.Reader, what string) uint64 {
	start := r.Offset()
	v := r.Uvarint(what)
	minimal(r, what, start, codec.UvarintLen(v))
	return v
}

func varint(r *codec.Reader, what string) int64 {
	start := r.Offset()
	v := r.Varint(what)
	minimal(r, what, start, codec.UvarintLen(uint64(v<<1)^uint64(v>>63)))
	return v
}

func count(r *codec.Reader, what string, max, minBytes int) int {
	start := r.Offset()
	n := r.Count(what, max, minBytes)
	minimal(r, what, start, codec.UvarintLen(uint64(n)))
	return n
}

func byteString(r *codec.Reader, what string, max int) []byte {
	start := r.Offset()
	b := r.Bytes(what, max)
	minimal(r, what, start, codec.UvarintLen(uint64(len(b)))+len(b))
	return b
}

func decodeTimestamp(r *codec.Reader) causal.Timestamp {
	start := r.Offset()
	ts := causal.DecodeTimestamp(r)
	minimal(r, "timestamp", start, codec.UvarintLen(ts.WallMs)+codec.UvarintLen(uint64(ts.Logical)))
	return ts
}

func decodeContext(r *codec.Reader) causal.Context {
	start := r.Offset()
	c := causal.DecodeContext(r)
	if r.Err() == nil {
		minimal(r, "context", start, len(c.AppendBinary(nil)))
	}
	return c
}
