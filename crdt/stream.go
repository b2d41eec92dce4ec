package crdt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Streams (TypeStream, extension bit extStream). A stream is an add-only
// log of entries, each an ID and a list of field/value pairs, plus the
// stream's last ID.
//
// # IDs
//
// An ID is "ms-seq", two uint64s, ordered by ms then seq, as in Redis.
// An ID the Builder generates (XADD *) is unique per node and ordered by
// time then node:
//
//	ms   the transaction's hybrid-clock milliseconds (Builder.Now), or the
//	     stream's last ms when that is not older
//	seq  n<<32 | tag: tag is the low 32 bits of the writer's NodeID (a
//	     hash), n counts the node's IDs within that ms (0 for the first,
//	     last n + 1 when the last ID has the same ms)
//
// Every generated ID is greater than the last ID of the stream as the
// writer sees it, so one node's IDs increase; IDs two nodes generate
// differ in their tag, so they never collide unless the two NodeIDs agree
// in their low 32 bits (for n nodes, a chance of about n²/2^33). An ID
// from a client (XADD 5-1) or with a client's ms (XADD 5-*) must be
// greater than the stream's last ID on this replica and is refused
// otherwise (ErrStreamID), as Redis does. Two nodes may still add the
// same explicit ID concurrently; both entries are kept (entries are
// ordered by ID, then by the dot that added them) and a reader sees the
// ID twice. XDEL of that ID removes both (the ones it observed).
//
// # Merge
//
// Entries are add-only: an entry is never changed, only removed. XDEL and
// trimming (XTRIM, XADD MAXLEN/MINID) remove the entries they observed,
// by ID: a removal names IDs, and removes the entries with those IDs whose
// dot lies in the transaction's Deps. So an entry another node adds
// concurrently is never removed by a trim it did not see: after a merge a
// stream may hold more than a MAXLEN a writer asked for, until the next
// trim. DEL and SET (and a write to an expired key) remove every observed
// entry and the observed last-ID entries, so a concurrent XADD survives
// with its entry, as a concurrent SADD survives a DEL.
//
// The last ID is a set of entries {dot, ID} kept like register entries:
// XADD removes the observed ones and adds its own; XDEL and trimming
// leave them (Redis keeps the last ID when the newest entry is deleted).
// Its value is the greatest ID among them and the entries. A stream
// exists (Value.Type is TypeStream) while it has a last-ID entry or an
// entry, so, as in Redis, XDEL of every entry leaves an empty stream that
// XLEN reads as 0 and TYPE as "stream"; only DEL removes it.
//
// Cost: XADD without trimming is O(1) amortized (an append); XDEL is
// O(log n) per ID plus the shift; trimming and a Get of a stream written
// earlier in the same transaction are O(n) (the entries are copied by
// reference: they are never changed in place, so copies share their
// field bytes).

// StreamID is a stream entry ID, "ms-seq".
type StreamID struct {
	Ms, Seq uint64
}

// Compare orders IDs by Ms, then Seq.
func (a StreamID) Compare(b StreamID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// IsZero reports whether a is 0-0.
func (a StreamID) IsZero() bool { return a == StreamID{} }

// String formats the ID as Redis does: "ms-seq".
func (a StreamID) String() string {
	return strconv.FormatUint(a.Ms, 10) + "-" + strconv.FormatUint(a.Seq, 10)
}

// StreamIDMode says how StreamAdd chooses the new entry's ID.
type StreamIDMode uint8

const (
	StreamIDAuto     StreamIDMode = iota // "*": generated (see Streams)
	StreamIDAutoSeq                      // "ms-*": the given ms, a generated seq
	StreamIDExplicit                     // "ms-seq": exactly the given ID
)

// Stream limits.
const (
	// MaxStreamEntries bounds the entries of one decoded stream; StreamAdd
	// past it returns ErrTooLarge.
	MaxStreamEntries = 1 << 24
	// MaxStreamFields bounds the fields plus values of one entry (so
	// MaxStreamFields/2 pairs); StreamAdd with more returns ErrTooLarge, a
	// decoder refuses more.
	MaxStreamFields = 1 << 16
	// streamTagBits is how many low bits of a generated seq hold the
	// writer's tag (see Streams).
	streamTagBits = 32
)

// Stream errors returned by the Builder's stream operations.
var (
	// ErrStreamID: the ID given to StreamAdd is not greater than the
	// stream's last ID on this replica (Redis: "equal or smaller than the
	// target stream top item").
	ErrStreamID = fmt.Errorf("crdt: stream ID not greater than the stream's last ID")
	// ErrStreamIDZero: StreamAdd with the explicit ID 0-0.
	ErrStreamIDZero = fmt.Errorf("crdt: stream ID 0-0")
)

// streamEntry is one entry: its ID, the dot of the transaction that added
// it, and its fields and values alternating. Never changed once made.
type streamEntry struct {
	id     StreamID
	dot    causal.Dot
	fields [][]byte
}

// streamMeta is one last-ID entry: the dot of the XADD that wrote it.
type streamMeta struct {
	dot  causal.Dot
	last StreamID
}

// stream is the stream component. It is present while meta or entries is
// non-empty.
type stream struct {
	entries []streamEntry // by (id, dot)
	meta    []streamMeta  // by dot
	digest  uint64        // Σ hash of entries, mod 2^64
}

func entryLess(a, b *streamEntry) int {
	if c := a.id.Compare(b.id); c != 0 {
		return c
	}
	return compareDot(a.dot, b.dot)
}

func (s *stream) empty() bool { return len(s.entries) == 0 && len(s.meta) == 0 }

// clone copies the entry and meta slices; the entries' field bytes are
// shared, which is safe because an entry is never changed in place.
func (s *stream) clone() *stream {
	return &stream{entries: slices.Clone(s.entries), meta: slices.Clone(s.meta), digest: s.digest}
}

// last is the stream's last ID: the greatest of the meta entries and the
// entries.
func (s *stream) last() StreamID {
	var out StreamID
	for _, m := range s.meta {
		if m.last.Compare(out) > 0 {
			out = m.last
		}
	}
	if n := len(s.entries); n > 0 && s.entries[n-1].id.Compare(out) > 0 {
		out = s.entries[n-1].id
	}
	return out
}

func (h *hasher) streamEntry(e *streamEntry) uint64 {
	b := appendStreamEntry(h.buf[:0], e)
	return h.sum(b)
}

// streamOp is the operation on a stream component. Its parts apply in
// this order: clear, last, removes, adds (adds carry the transaction's
// dot, which no removal touches).
type streamOp struct {
	clear   bool          // remove every observed entry and last-ID entry (DEL, SET)
	last    *StreamID     // remove the observed last-ID entries, add this one (XADD)
	removes []StreamID    // remove the observed entries with these IDs; ascending, unique
	adds    []streamEntry // new entries (dot unset: the transaction's); ascending ID, unique
}

func (o *streamOp) empty() bool {
	return !o.clear && o.last == nil && len(o.removes) == 0 && len(o.adds) == 0
}

// Value accessors.

func (v *Value) strm() *stream {
	if p := v.extParts(); p != nil {
		return p.strm
	}
	return nil
}

func (v *Value) putStream(s *stream) {
	if s != nil && s.empty() {
		s = nil
	}
	if s != nil {
		v.extSlot().strm = s
		return
	}
	if p := v.extParts(); p != nil {
		p.strm = nil
		v.tidyExt()
	}
}

// StreamEntry is one stream entry as a reader sees it. The slices alias
// state and must not be modified.
type StreamEntry struct {
	ID     StreamID
	Fields [][]byte // field, value, field, value...
}

// StreamLen is the number of entries of the stream component (0 if none).
func (v *Value) StreamLen() int {
	if v == nil || v.strm() == nil {
		return 0
	}
	return len(v.strm().entries)
}

// StreamLast is the stream's last ID (0-0 if none): the greatest ID it
// ever held as this replica sees it, deleted entries included.
func (v *Value) StreamLast() StreamID {
	if v == nil || v.strm() == nil {
		return StreamID{}
	}
	return v.strm().last()
}

// StreamRange calls fn with the entries whose ID lies in [start, end], in
// ascending order (descending if rev), until fn returns false. O(log n)
// to find the start.
func (v *Value) StreamRange(start, end StreamID, rev bool, fn func(e StreamEntry) bool) {
	if v == nil || v.strm() == nil || start.Compare(end) > 0 {
		return
	}
	es := v.strm().entries
	lo, _ := slices.BinarySearchFunc(es, start, func(e streamEntry, id StreamID) int {
		if e.id.Compare(id) < 0 {
			return -1
		}
		return 1
	})
	hi, _ := slices.BinarySearchFunc(es, end, func(e streamEntry, id StreamID) int {
		if e.id.Compare(id) <= 0 {
			return -1
		}
		return 1
	})
	if !rev {
		for i := lo; i < hi; i++ {
			if !fn(StreamEntry{ID: es[i].id, Fields: es[i].fields}) {
				return
			}
		}
		return
	}
	for i := hi - 1; i >= lo; i-- {
		if !fn(StreamEntry{ID: es[i].id, Fields: es[i].fields}) {
			return
		}
	}
}

// Applying and joining.

// applyStream applies an operation's stream part to v.
func applyStream(v *Value, op *streamOp, t *txnHeader, h *hasher) {
	if op == nil {
		return
	}
	s := v.strm()
	if s == nil {
		s = &stream{}
	}
	if op.clear {
		s.removeEntries(func(e *streamEntry) bool { return t.deps.Contains(e.dot) }, h)
		s.meta = slices.DeleteFunc(s.meta, func(m streamMeta) bool { return t.deps.Contains(m.dot) })
	}
	if op.last != nil {
		s.meta = slices.DeleteFunc(s.meta, func(m streamMeta) bool { return t.deps.Contains(m.dot) })
		m := streamMeta{dot: t.dot, last: *op.last}
		i, found := slices.BinarySearchFunc(s.meta, t.dot, func(m streamMeta, d causal.Dot) int { return compareDot(m.dot, d) })
		if found {
			s.meta[i] = m
		} else {
			s.meta = slices.Insert(s.meta, i, m)
		}
	}
	if len(op.removes) > 0 {
		s.removeIDs(op.removes, t.deps, h)
	}
	for i := range op.adds {
		e := streamEntry{id: op.adds[i].id, dot: t.dot, fields: cloneFields(op.adds[i].fields)}
		s.insert(e, h)
	}
	v.putStream(s)
}

// cloneFields copies fields into one allocation, so the stream never
// aliases a transaction's or caller's buffer.
func cloneFields(fields [][]byte) [][]byte {
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(fields))
	for i, f := range fields {
		start := len(buf)
		buf = append(buf, f...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// insert adds e in (id, dot) order; an entry with e's dot and ID already
// there (the same add twice) is left as it is.
func (s *stream) insert(e streamEntry, h *hasher) {
	n := len(s.entries)
	if n == 0 || entryLess(&s.entries[n-1], &e) < 0 {
		s.entries = append(s.entries, e) // the common case: a new last entry
		s.digest += h.streamEntry(&e)
		return
	}
	i, found := slices.BinarySearchFunc(s.entries, &e, func(a streamEntry, b *streamEntry) int { return entryLess(&a, b) })
	if found {
		return
	}
	s.entries = slices.Insert(s.entries, i, e)
	s.digest += h.streamEntry(&e)
}

// removeEntries removes the entries drop reports, in place.
func (s *stream) removeEntries(drop func(e *streamEntry) bool, h *hasher) {
	n := 0
	for i := range s.entries {
		e := &s.entries[i]
		if drop(e) {
			s.digest -= h.streamEntry(e)
			continue
		}
		s.entries[n] = *e
		n++
	}
	clear(s.entries[n:])
	s.entries = s.entries[:n]
}

// removeIDs removes the entries whose ID is in ids (ascending) and whose
// dot is in deps. A prefix of the stream (trimming) costs O(removed +
// shift), each other ID O(log n).
func (s *stream) removeIDs(ids []StreamID, deps *causal.Context, h *hasher) {
	j := 0
	s.removeEntries(func(e *streamEntry) bool {
		for j < len(ids) && ids[j].Compare(e.id) < 0 {
			j++
		}
		return j < len(ids) && ids[j] == e.id && deps.Contains(e.dot)
	}, h)
}

// joinStream is the lattice join of two stream components whose states
// have contexts actx and bctx: an entry (or last-ID entry) survives if
// both hold it, or one holds it and the other's context lacks its dot.
// a may be nil; b is not aliased.
func joinStream(a *stream, actx *causal.Context, b *stream, bctx *causal.Context, h *hasher) *stream {
	if a == nil {
		a = &stream{}
	}
	if b == nil {
		b = &stream{}
	}
	out := &stream{entries: make([]streamEntry, 0, max(len(a.entries), len(b.entries)))}
	i, j := 0, 0
	for i < len(a.entries) || j < len(b.entries) {
		var c int
		switch {
		case j == len(b.entries):
			c = -1
		case i == len(a.entries):
			c = 1
		default:
			c = entryLess(&a.entries[i], &b.entries[j])
		}
		switch {
		case c < 0:
			if !bctx.Contains(a.entries[i].dot) {
				out.entries = append(out.entries, a.entries[i])
			}
			i++
		case c > 0:
			if !actx.Contains(b.entries[j].dot) {
				e := b.entries[j]
				e.fields = cloneFields(e.fields)
				out.entries = append(out.entries, e)
			}
			j++
		default:
			out.entries = append(out.entries, a.entries[i])
			i++
			j++
		}
	}
	i, j = 0, 0
	for i < len(a.meta) || j < len(b.meta) {
		switch {
		case j == len(b.meta) || (i < len(a.meta) && a.meta[i].dot.Less(b.meta[j].dot)):
			if !bctx.Contains(a.meta[i].dot) {
				out.meta = append(out.meta, a.meta[i])
			}
			i++
		case i == len(a.meta) || b.meta[j].dot.Less(a.meta[i].dot):
			if !actx.Contains(b.meta[j].dot) {
				out.meta = append(out.meta, b.meta[j])
			}
			j++
		default:
			out.meta = append(out.meta, a.meta[i])
			i++
			j++
		}
	}
	for k := range out.entries {
		out.digest += h.streamEntry(&out.entries[k])
	}
	if out.empty() {
		return nil
	}
	return out
}

// Encoding. The stream part of a value (after expiry, ext bit extStream):
//
//	meta      count, by dot: node, counter, last ms, last seq
//	entries   count, by (ID, dot): ms, seq, node, counter, item count
//	          (even, ≥ 2), items as bytes (field, value, ...)
//
// meta and entries are not both empty. The stream part of an operation
// (after expiry, ext bit extStream):
//
//	flags     uvarint: 1 clear observed | 2 last follows | 4 removes
//	          follow | 8 adds follow; not 0
//	last      ms, seq
//	removes   count ≥ 1, IDs ascending: ms, seq
//	adds      count ≥ 1, IDs ascending: ms, seq, item count (even, ≥ 2),
//	          items as bytes

func appendStreamEntry(dst []byte, e *streamEntry) []byte {
	dst = appendStreamID(dst, e.id)
	dst = codec.AppendUvarint(dst, uint64(e.dot.Node))
	dst = codec.AppendUvarint(dst, e.dot.Counter)
	return appendFields(dst, e.fields)
}

func appendStreamID(dst []byte, id StreamID) []byte {
	dst = codec.AppendUvarint(dst, id.Ms)
	return codec.AppendUvarint(dst, id.Seq)
}

func appendFields(dst []byte, fields [][]byte) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(fields)))
	for _, f := range fields {
		dst = codec.AppendBytes(dst, f)
	}
	return dst
}

func appendStream(dst []byte, s *stream) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(s.meta)))
	for _, m := range s.meta {
		dst = codec.AppendUvarint(dst, uint64(m.dot.Node))
		dst = codec.AppendUvarint(dst, m.dot.Counter)
		dst = appendStreamID(dst, m.last)
	}
	dst = codec.AppendUvarint(dst, uint64(len(s.entries)))
	for i := range s.entries {
		dst = appendStreamEntry(dst, &s.entries[i])
	}
	return dst
}

// appendStreamDigest appends what the stream contributes to its key's
// hash: the meta entries in full and the sum of the entry hashes.
func appendStreamDigest(dst []byte, s *stream) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(s.meta)))
	for _, m := range s.meta {
		dst = codec.AppendUvarint(dst, uint64(m.dot.Node))
		dst = codec.AppendUvarint(dst, m.dot.Counter)
		dst = appendStreamID(dst, m.last)
	}
	dst = codec.AppendUvarint(dst, uint64(len(s.entries)))
	return binary.LittleEndian.AppendUint64(dst, s.digest)
}

func decodeStreamID(r *codec.Reader) StreamID {
	return StreamID{Ms: uvarint(r, "stream ID ms"), Seq: uvarint(r, "stream ID seq")}
}

// decodeFields reads an entry's items: an even count ≥ 2, each bytes.
func decodeFields(r *codec.Reader) [][]byte {
	n := count(r, "stream entry items", MaxStreamFields, 1)
	if r.Err() != nil {
		return nil
	}
	if n < 2 || n%2 != 0 {
		r.Fail("stream entry items: not field/value pairs", ErrInvalid)
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = byteString(r, "stream entry item", MaxValueBytes)
		if r.Err() != nil {
			return nil
		}
	}
	return out
}

func decodeStream(r *codec.Reader, ctx *causal.Context, h *hasher) *stream {
	s := &stream{}
	// A meta entry is at least node, counter, ms and seq: 4 bytes.
	nm := count(r, "stream meta", MaxSiblings, 4)
	for i := 0; i < nm && r.Err() == nil; i++ {
		m := streamMeta{dot: causal.Dot{Node: causal.NodeID(uvarint(r, "stream meta node")), Counter: uvarint(r, "stream meta counter")}}
		m.last = decodeStreamID(r)
		if r.Err() != nil || !checkDot(r, "stream meta", m.dot, ctx) {
			return nil
		}
		if i > 0 && !s.meta[i-1].dot.Less(m.dot) {
			r.Fail("stream meta: not ascending", ErrInvalid)
			return nil
		}
		s.meta = append(s.meta, m)
	}
	// An entry is at least ms, seq, node, counter, a count and two items.
	ne := count(r, "stream entries", MaxStreamEntries, 7)
	if r.Err() != nil {
		return nil
	}
	if nm == 0 && ne == 0 {
		r.Fail("stream: empty", ErrInvalid)
		return nil
	}
	s.entries = make([]streamEntry, 0, ne)
	for i := 0; i < ne; i++ {
		e := streamEntry{id: decodeStreamID(r)}
		e.dot = causal.Dot{Node: causal.NodeID(uvarint(r, "stream entry node")), Counter: uvarint(r, "stream entry counter")}
		e.fields = decodeFields(r)
		if r.Err() != nil || !checkDot(r, "stream entry", e.dot, ctx) {
			return nil
		}
		if i > 0 && entryLess(&s.entries[i-1], &e) >= 0 {
			r.Fail("stream entries: not ascending", ErrInvalid)
			return nil
		}
		s.entries = append(s.entries, e)
		s.digest += h.streamEntry(&e)
	}
	return s
}

// Stream operation flags (the operation's first uvarint).
const (
	streamOpClear   = 1 << 0
	streamOpLast    = 1 << 1
	streamOpRemoves = 1 << 2
	streamOpAdds    = 1 << 3
	streamOpMask    = streamOpClear | streamOpLast | streamOpRemoves | streamOpAdds
)

func appendStreamOp(dst []byte, o *streamOp) []byte {
	var flags uint64
	if o.clear {
		flags |= streamOpClear
	}
	if o.last != nil {
		flags |= streamOpLast
	}
	if len(o.removes) > 0 {
		flags |= streamOpRemoves
	}
	if len(o.adds) > 0 {
		flags |= streamOpAdds
	}
	dst = codec.AppendUvarint(dst, flags)
	if o.last != nil {
		dst = appendStreamID(dst, *o.last)
	}
	if len(o.removes) > 0 {
		dst = codec.AppendUvarint(dst, uint64(len(o.removes)))
		for _, id := range o.removes {
			dst = appendStreamID(dst, id)
		}
	}
	if len(o.adds) > 0 {
		dst = codec.AppendUvarint(dst, uint64(len(o.adds)))
		for i := range o.adds {
			dst = appendStreamID(dst, o.adds[i].id)
			dst = appendFields(dst, o.adds[i].fields)
		}
	}
	return dst
}

// decodeStreamOp reads a stream operation; removed IDs and added entries
// count against budget (MaxTxnOps).
func decodeStreamOp(r *codec.Reader, budget *int) *streamOp {
	flags := uvarint(r, "stream operation")
	if r.Err() != nil {
		return nil
	}
	if flags == 0 || flags&^streamOpMask != 0 {
		r.Fail(fmt.Sprintf("stream operation flags %#x", flags), ErrInvalid)
		return nil
	}
	o := &streamOp{clear: flags&streamOpClear != 0}
	if flags&streamOpLast != 0 {
		id := decodeStreamID(r)
		o.last = &id
	}
	ids := func(what string, minBytes int) int {
		n := count(r, what, MaxTxnOps, minBytes)
		if r.Err() != nil {
			return 0
		}
		if n == 0 || n > *budget {
			r.Fail(what, ErrTxnTooBig)
			return 0
		}
		*budget -= n
		return n
	}
	if flags&streamOpRemoves != 0 {
		n := ids("stream removes", 2)
		for i := 0; i < n && r.Err() == nil; i++ {
			id := decodeStreamID(r)
			if r.Err() == nil && i > 0 && o.removes[i-1].Compare(id) >= 0 {
				r.Fail("stream removes: not ascending", ErrInvalid)
			}
			o.removes = append(o.removes, id)
		}
	}
	if flags&streamOpAdds != 0 {
		n := ids("stream adds", 5)
		for i := 0; i < n && r.Err() == nil; i++ {
			e := streamEntry{id: decodeStreamID(r)}
			e.fields = decodeFields(r)
			if r.Err() == nil && i > 0 && o.adds[i-1].id.Compare(e.id) >= 0 {
				r.Fail("stream adds: not ascending", ErrInvalid)
			}
			o.adds = append(o.adds, e)
		}
	}
	if r.Err() != nil {
		return nil
	}
	return o
}

// Building.

// streamOpOf returns kb's stream operation, making an empty one.
func (kb *keyBuild) streamOpOf() *streamOp {
	if kb.op.stream == nil {
		kb.op.stream = &streamOp{}
	}
	return kb.op.stream
}

// baseStream is the stored stream as the transaction sees it before its
// own stream operation: nil if the key has none or it was cleared.
func (kb *keyBuild) baseStream() *stream {
	if kb.base == nil || kb.base.strm() == nil || (kb.op.stream != nil && kb.op.stream.clear) {
		return nil
	}
	return kb.base.strm()
}

// streamPresent reports whether the key holds a stream as the transaction
// sees it.
func (kb *keyBuild) streamPresent() bool {
	if o := kb.op.stream; o != nil && (o.last != nil || len(o.adds) > 0) {
		return true
	}
	return kb.baseStream() != nil
}

// streamLast is the stream's last ID as the transaction sees it.
func (kb *keyBuild) streamLast() StreamID {
	var last StreamID
	if s := kb.baseStream(); s != nil {
		last = s.last()
	}
	if o := kb.op.stream; o != nil && o.last != nil && o.last.Compare(last) > 0 {
		last = *o.last
	}
	return last
}

// nextStreamID returns the ID StreamAdd gives a new entry, or an error.
func (b *Builder) nextStreamID(last StreamID, id StreamID, mode StreamIDMode) (StreamID, error) {
	tag := uint64(uint32(b.txn.Dot.Node))
	switch mode {
	case StreamIDExplicit:
		if id.IsZero() {
			return id, ErrStreamIDZero
		}
		if id.Compare(last) <= 0 {
			return id, ErrStreamID
		}
		return id, nil
	case StreamIDAuto:
		id.Ms = max(b.Now(), last.Ms)
	}
	switch {
	case id.Ms > last.Ms:
		return StreamID{Ms: id.Ms, Seq: tag}, nil
	case id.Ms < last.Ms:
		return id, ErrStreamID
	}
	n := last.Seq>>streamTagBits + 1
	if n >= 1<<(64-streamTagBits) {
		if mode == StreamIDAutoSeq || id.Ms == ^uint64(0) {
			return id, ErrStreamID
		}
		return StreamID{Ms: id.Ms + 1, Seq: tag}, nil
	}
	return StreamID{Ms: id.Ms, Seq: n<<streamTagBits | tag}, nil
}

// StreamAdd adds an entry with fields (field, value, ...; at least one
// pair) to the stream at key, creating the stream, and returns its ID
// (Redis XADD). mode says how the ID is chosen (see Streams); id is the
// client's ID (StreamIDExplicit) or supplies its ms (StreamIDAutoSeq).
// It returns ErrStreamID or ErrStreamIDZero for an ID Redis refuses,
// ErrWrongType on a key of another type, ErrTooLarge past the limits.
func (b *Builder) StreamAdd(key []byte, mode StreamIDMode, id StreamID, fields [][]byte) (StreamID, error) {
	b.check()
	if len(fields) < 2 || len(fields)%2 != 0 || len(fields) > MaxStreamFields {
		return StreamID{}, ErrTooLarge
	}
	for _, f := range fields {
		if len(f) > MaxValueBytes {
			return StreamID{}, ErrTooLarge
		}
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return StreamID{}, err
	}
	if err := b.typed(kb, TypeStream); err != nil {
		return StreamID{}, err
	}
	if b.ops+1 > MaxTxnOps {
		return StreamID{}, ErrTxnTooBig
	}
	if b.streamLen(kb)+1 > MaxStreamEntries {
		return StreamID{}, ErrTooLarge
	}
	nid, err := b.nextStreamID(kb.streamLast(), id, mode)
	if err != nil {
		return StreamID{}, err
	}
	o := kb.streamOpOf()
	copied := make([][]byte, len(fields))
	for i, f := range fields {
		copied[i] = b.copy(f)
	}
	o.adds = append(o.adds, streamEntry{id: nid, fields: copied})
	o.last = &nid
	b.ops++
	b.commit(kb, fresh)
	return nid, nil
}

// StreamCreate makes key an empty stream if it holds nothing (a stream
// with a last ID of 0-0 and no entries); it reports whether it did.
func (b *Builder) StreamCreate(key []byte) (bool, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return false, err
	}
	if b.typeView(kb) != TypeNone {
		return false, nil
	}
	o := kb.streamOpOf()
	o.last = &StreamID{}
	b.commit(kb, fresh)
	return true, nil
}

// streamView returns the stream's entries as the transaction sees them,
// in order: the stored ones not removed, then the transaction's adds
// (which all follow: a new ID is greater than every ID the writer sees).
// The slice is new; its entries share field bytes with state.
func (kb *keyBuild) streamView() []streamEntry {
	var out []streamEntry
	o := kb.op.stream
	if s := kb.baseStream(); s != nil {
		out = make([]streamEntry, 0, len(s.entries))
		j := 0
		for _, e := range s.entries {
			if o != nil {
				for j < len(o.removes) && o.removes[j].Compare(e.id) < 0 {
					j++
				}
				if j < len(o.removes) && o.removes[j] == e.id {
					continue
				}
			}
			out = append(out, e)
		}
	}
	if o != nil {
		out = append(out, o.adds...)
	}
	return out
}

// streamLen is the stream's length as the transaction sees it.
func (b *Builder) streamLen(kb *keyBuild) int {
	o := kb.op.stream
	if o == nil || len(o.removes) == 0 {
		n := 0
		if s := kb.baseStream(); s != nil {
			n = len(s.entries)
		}
		if o != nil {
			n += len(o.adds)
		}
		return n
	}
	return len(kb.streamView())
}

// streamRemove removes the entries with the given IDs (ascending, each
// present as the transaction sees it): the transaction's own adds are
// dropped, stored entries recorded as removes.
func (b *Builder) streamRemove(kb *keyBuild, ids []StreamID) {
	o := kb.streamOpOf()
	for _, id := range ids {
		if i := slices.IndexFunc(o.adds, func(e streamEntry) bool { return e.id == id }); i >= 0 {
			o.adds = slices.Delete(o.adds, i, i+1)
			b.ops--
			continue
		}
		i, found := slices.BinarySearchFunc(o.removes, id, StreamID.Compare)
		if !found {
			o.removes = slices.Insert(o.removes, i, id)
			b.ops++
		}
	}
}

// StreamDelete removes the observed entries with the given IDs (Redis
// XDEL) and returns how many of the IDs were present. The last ID is kept.
func (b *Builder) StreamDelete(key []byte, ids ...StreamID) (int, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeStream); err != nil {
		return 0, err
	}
	if !kb.streamPresent() {
		return 0, nil
	}
	if b.ops+len(ids) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	ids = slices.Clone(ids)
	slices.SortFunc(ids, StreamID.Compare)
	ids = slices.Compact(ids)
	view := kb.streamView()
	present := ids[:0]
	for _, id := range ids {
		if _, found := slices.BinarySearchFunc(view, id, func(e streamEntry, id StreamID) int { return e.id.Compare(id) }); found {
			present = append(present, id)
		}
	}
	if len(present) == 0 {
		return 0, nil
	}
	b.streamRemove(kb, present)
	b.commit(kb, fresh)
	return len(present), nil
}

// StreamTrim says what a trim keeps (Redis XTRIM and XADD's trimming).
type StreamTrim struct {
	// MaxLen keeps the newest MaxLen entries (when ByMinID is false).
	MaxLen int64
	// ByMinID keeps the entries with an ID ≥ MinID instead.
	ByMinID bool
	MinID   StreamID
	// Approx ("~") removes only whole groups of StreamTrimChunk entries,
	// as Redis removes only whole nodes of its radix tree, and at most
	// Limit entries (0: 100 × StreamTrimChunk, Redis's default).
	Approx bool
	Limit  int64
}

// StreamTrimChunk is the group size an approximate trim removes whole
// (Redis's stream-node-max-entries default).
const StreamTrimChunk = 100

// StreamTrim removes the observed entries the trim t drops and returns
// how many. Entries added concurrently elsewhere are not removed, so after
// a merge the stream may be longer than t asked (see Streams).
func (b *Builder) StreamTrim(key []byte, t StreamTrim) (int64, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeStream); err != nil {
		return 0, err
	}
	if !kb.streamPresent() {
		return 0, nil
	}
	view := kb.streamView()
	var n int64
	if t.ByMinID {
		i, _ := slices.BinarySearchFunc(view, t.MinID, func(e streamEntry, id StreamID) int {
			if e.id.Compare(id) < 0 {
				return -1
			}
			return 1
		})
		n = int64(i)
	} else if int64(len(view)) > t.MaxLen {
		n = int64(len(view)) - max(t.MaxLen, 0)
	}
	if t.Approx {
		limit := t.Limit
		if limit <= 0 {
			limit = 100 * StreamTrimChunk
		}
		n = min(n, limit) / StreamTrimChunk * StreamTrimChunk
	}
	if n == 0 {
		return 0, nil
	}
	if b.ops+int(n) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	ids := make([]StreamID, 0, n)
	for _, e := range view[:n] {
		if len(ids) == 0 || ids[len(ids)-1] != e.id {
			ids = append(ids, e.id)
		}
	}
	b.streamRemove(kb, ids)
	b.commit(kb, fresh)
	return n, nil
}

// String renders an entry for tests and Render: ID{f=v,...}.
func (e StreamEntry) String() string {
	var buf bytes.Buffer
	buf.WriteString(e.ID.String())
	buf.WriteByte('{')
	for i := 0; i+1 < len(e.Fields); i += 2 {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, "%q=%q", e.Fields[i], e.Fields[i+1])
	}
	buf.WriteByte('}')
	return buf.String()
}

// StreamSetLast raises the stream's last ID to id if it is lower, making
// key an empty stream if it holds nothing (RENAME and COPY carry a
// stream's last ID this way). It returns ErrWrongType on another type.
func (b *Builder) StreamSetLast(key []byte, id StreamID) error {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return err
	}
	if err := b.typed(kb, TypeStream); err != nil {
		return err
	}
	if kb.streamPresent() && kb.streamLast().Compare(id) >= 0 {
		return nil
	}
	kb.streamOpOf().last = &id
	b.commit(kb, fresh)
	return nil
}

// streamExt is extStream if v has a stream component.
func streamExt(v *Value) uint8 {
	if v.strm() != nil {
		return extStream
	}
	return 0
}
