package crdt

import (
	"bytes"
	"math"
	"math/bits"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
	"github.com/tidwall/btree"
)

// Sorted sets (TypeZSet, extension bit extZSet). A sorted set maps members
// to float64 scores. Each member is two parts, joined independently:
//
//   - Membership and the set score (ZADD): score entries {dot, time,
//     score}, kept and removed exactly as register entries are. ZADD
//     removes the member's observed entries and adds one; ZREM removes the
//     observed ones. Concurrent ZADDs keep their entries side by side and
//     the set score is the last-writer-wins one by (time, node, counter),
//     the register's rule. A concurrent ZREM cannot remove an entry it did
//     not observe: add-wins, as for sets.
//   - Increments (ZINCRBY, ZADD INCR): a counter of float64 with observed
//     resets, one entry per incrementing node {k, sum, base, kr, sumr}, as
//     the integer counter (counter.go). ZADD and ZREM reset the entries
//     they observed, so concurrent increments survive them with exactly
//     their own amounts, and concurrent increments add.
//
// A member is visible while it has a score entry or a live increment
// entry; its score is the set score (0 without one) plus the live
// contributions in node order. A member whose parts are all removed but
// which has reset increment entries stays as a hidden member (its resets
// must outlive it, as a deleted counter's do: see doc.go).
//
// Float sums are exact for integers below 2^53 and otherwise rounded as
// float64 addition rounds; the order of additions is fixed (set score,
// then nodes ascending), so every replica computes the same bits. To keep
// a long-lived node's running sum from carrying history (and reaching
// ±Inf on its own), a node whose entry is fully reset starts a new sum:
// base records the k of the reset entry it starts after, and a reset at or
// before base no longer applies to it. A total that is NaN (concurrent
// increments of +Inf and -Inf) reads as 0.
//
// The component keeps an order-statistic index of the visible members by
// (score, member) in a B-tree with subtree counts, so ranks and ranges
// cost O(log n + k).

// zscore is one score entry written by ZADD.
type zscore struct {
	dot   causal.Dot
	time  causal.Timestamp
	score float64
}

// zinc is one node's increment entry of a member (see counterNode): the
// node's running sum since entry base at its latest increment k, and the
// (kr, sumr) of its entry the latest observed reset saw. Invariants:
// base < k, kr ≤ k.
type zinc struct {
	node causal.NodeID
	k    uint64
	sum  float64
	base uint64
	kr   uint64
	sumr float64
}

func (z *zinc) live() bool { return z.k > z.kr }

// contribution is the entry's part of the score.
func (z *zinc) contribution() float64 {
	switch {
	case !z.live():
		return 0
	case z.kr <= z.base:
		return z.sum
	}
	return z.sum - z.sumr
}

// zmember is one member's state.
type zmember struct {
	scores []zscore // by dot
	incs   []zinc   // by node
}

func (m *zmember) empty() bool { return len(m.scores) == 0 && len(m.incs) == 0 }

// score returns the member's score and whether it is visible.
func (m *zmember) score() (float64, bool) {
	var s float64
	visible := len(m.scores) > 0
	if visible {
		best := m.scores[0]
		for _, e := range m.scores[1:] {
			if lwwLess(regEntry{dot: best.dot, time: best.time}, regEntry{dot: e.dot, time: e.time}) {
				best = e
			}
		}
		s = best.score
	}
	for i := range m.incs {
		if m.incs[i].live() {
			visible = true
			s += m.incs[i].contribution()
		}
	}
	if s != s {
		s = 0 // NaN: concurrent +Inf and -Inf increments
	}
	if s == 0 {
		s = 0 // no negative zero
	}
	return s, visible
}

func finite(f float64) bool { return !math.IsInf(f, 0) && f == f }

// finite reports whether every part of m is finite.
func (m *zmember) finite() bool {
	for _, e := range m.scores {
		if !finite(e.score) {
			return false
		}
	}
	for _, e := range m.incs {
		if !finite(e.sum) || !finite(e.sumr) {
			return false
		}
	}
	return true
}

func (m *zmember) clone() *zmember {
	return &zmember{scores: slices.Clone(m.scores), incs: slices.Clone(m.incs)}
}

func (m *zmember) findInc(n causal.NodeID) (int, bool) {
	return slices.BinarySearchFunc(m.incs, n, func(e zinc, n causal.NodeID) int { return cmpNode(e.node, n) })
}

// joinInc joins an increment entry by max k (ties, which only hostile
// input makes, by larger sum then base, so the join commutes).
func (m *zmember) joinInc(d zinc) {
	i, ok := m.findInc(d.node)
	if !ok {
		m.incs = slices.Insert(m.incs, i, zinc{node: d.node, k: d.k, sum: d.sum, base: d.base})
		return
	}
	e := &m.incs[i]
	if d.k > e.k || (d.k == e.k && (d.sum > e.sum || (d.sum == e.sum && d.base > e.base))) {
		e.k, e.sum, e.base = d.k, d.sum, d.base
	}
}

// resetInc joins an observed reset (see counter.reset).
func (m *zmember) resetInc(r zreset) {
	m.joinInc(zinc{node: r.node, k: r.k, sum: r.sum})
	i, _ := m.findInc(r.node)
	e := &m.incs[i]
	if r.k > e.kr || (r.k == e.kr && r.sum > e.sumr) {
		e.kr, e.sumr = r.k, r.sum
	}
}

// observedResets appends a reset of every live increment entry.
func (m *zmember) observedResets(dst []zreset) []zreset {
	if m == nil {
		return dst
	}
	for i := range m.incs {
		if e := &m.incs[i]; e.live() {
			dst = append(dst, zreset{node: e.node, k: e.k, sum: e.sum})
		}
	}
	return dst
}

// zitem is one visible member in the index.
type zitem struct {
	score  float64
	member string
}

func zitemLess(a, b zitem) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.member < b.member
}

// zset is the sorted-set component. index holds the visible members;
// digest is the sum of member hashes (hasher.zmember).
type zset struct {
	members map[string]*zmember // never empty members
	index   *btree.BTreeG[zitem]
	digest  uint64
}

func newZSet() *zset {
	return &zset{members: make(map[string]*zmember, 1), index: btree.NewBTreeGOptions(zitemLess, btree.Options{NoLocks: true})}
}

func (z *zset) clone() *zset {
	out := &zset{members: make(map[string]*zmember, len(z.members)), index: z.index.Copy(), digest: z.digest}
	for name, m := range z.members {
		out.members[name] = m.clone()
	}
	return out
}

func (z *zset) sortedMembers() []string {
	out := make([]string, 0, len(z.members))
	for name := range z.members {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// forget withdraws member m's hash and index item before a change;
// remember puts them back after it, dropping m if it is empty.
func (z *zset) forget(name string, m *zmember, h *hasher) {
	z.digest -= h.zmember(name, m)
	if s, ok := m.score(); ok {
		z.index.Delete(zitem{score: s, member: name})
	}
}

func (z *zset) remember(name string, m *zmember, h *hasher) {
	if m.empty() {
		delete(z.members, name)
		return
	}
	z.members[name] = m
	z.digest += h.zmember(name, m)
	if s, ok := m.score(); ok {
		z.index.Set(zitem{score: s, member: name})
	}
}

// zreset is one node's observed increment entry, carried by a ZADD, ZREM,
// DEL or SET that removes it.
type zreset struct {
	node causal.NodeID
	k    uint64
	sum  float64
}

// zsetOp is the operation on a sorted-set component.
type zsetOp struct {
	observed bool        // remove every observed score entry (DEL, SET)
	members  []zmemberOp // sorted by member once finished
}

// zmemberOp is the operation on one member: remove its observed score
// entries, reset its observed increment entries, add a score entry, and/or
// record the writer's new increment entry, applied in that order.
type zmemberOp struct {
	member   []byte
	observed bool
	resets   []zreset // by node
	set      bool
	score    float64 // set
	inc      bool
	sum      float64 // inc: the writer's new running sum
	base     uint64  // inc: the k its sum starts after (0: from nothing)
}

func (m *zmemberOp) empty() bool { return !m.observed && len(m.resets) == 0 && !m.set && !m.inc }

// Member operation bits (the flag byte of an encoded member operation).
const (
	zopSet      = 1 << 0
	zopObserved = 1 << 1
	zopResets   = 1 << 2
	zopInc      = 1 << 3
	zopMask     = zopSet | zopObserved | zopResets | zopInc
)

func (m *zmemberOp) flags() uint8 {
	var f uint8
	if m.set {
		f |= zopSet
	}
	if m.observed {
		f |= zopObserved
	}
	if len(m.resets) > 0 {
		f |= zopResets
	}
	if m.inc {
		f |= zopInc
	}
	return f
}

// apply applies one member operation of transaction t to m (which
// it changes in place).
func (m *zmember) apply(op *zmemberOp, t *txnHeader) {
	if op.observed {
		m.scores = slices.DeleteFunc(m.scores, func(e zscore) bool { return t.deps.Contains(e.dot) })
	}
	for _, r := range op.resets {
		m.resetInc(r)
	}
	if op.set {
		e := zscore{dot: t.dot, time: t.time, score: op.score}
		i, found := slices.BinarySearchFunc(m.scores, t.dot, func(e zscore, d causal.Dot) int { return compareDot(e.dot, d) })
		if found {
			m.scores[i] = e
		} else {
			m.scores = slices.Insert(m.scores, i, e)
		}
	}
	if op.inc {
		m.joinInc(zinc{node: t.dot.Node, k: t.dot.Counter, sum: op.sum, base: op.base})
	}
}

func (v *Value) zs() *zset {
	if p := v.extParts(); p != nil {
		return p.zs
	}
	return nil
}

func (v *Value) putZSet(z *zset) {
	if z != nil {
		v.extSlot().zs = z
		return
	}
	if p := v.extParts(); p != nil {
		p.zs = nil
		v.tidyExt()
	}
}

// zsetVisible reports whether the sorted set has a visible member.
func (v *Value) zsetVisible() bool { return v.zs() != nil && v.zs().index.Len() > 0 }

// applyZSet applies an operation's sorted-set part to v.
func applyZSet(v *Value, op *valueOp, t *txnHeader, h *hasher) {
	zo := op.zset
	if zo == nil {
		return
	}
	z := v.zs()
	if z == nil {
		z = newZSet()
	}
	if zo.observed {
		for name, m := range z.members {
			if !slices.ContainsFunc(m.scores, func(e zscore) bool { return t.deps.Contains(e.dot) }) {
				continue
			}
			z.forget(name, m, h)
			m.scores = slices.DeleteFunc(m.scores, func(e zscore) bool { return t.deps.Contains(e.dot) })
			z.remember(name, m, h)
		}
	}
	for i := range zo.members {
		mo := &zo.members[i]
		m, ok := z.members[string(mo.member)]
		name := string(mo.member)
		if ok {
			z.forget(name, m, h)
		} else {
			m = &zmember{}
		}
		m.apply(mo, t)
		z.remember(name, m, h)
	}
	if len(z.members) == 0 {
		z = nil
	}
	v.putZSet(z)
}

// joinZSet joins b (context bctx) into a (context actx), member by
// member: score entries by the register join, increment entries by max.
// a may be nil; the result is nil if no member remains.
func joinZSet(a *zset, actx *causal.Context, b *zset, bctx *causal.Context, h *hasher) *zset {
	if a == nil {
		if b == nil {
			return nil
		}
		a = newZSet()
	}
	var bm map[string]*zmember
	if b != nil {
		bm = b.members
	}
	for name, m := range a.members {
		o := bm[name]
		a.forget(name, m, h)
		joinZMember(m, actx, o, bctx)
		a.remember(name, m, h)
	}
	for name, o := range bm {
		if _, ok := a.members[name]; ok {
			continue
		}
		m := &zmember{}
		joinZMember(m, actx, o, bctx)
		a.remember(name, m, h)
	}
	if len(a.members) == 0 {
		return nil
	}
	return a
}

// joinZMember joins o (may be nil) into m.
func joinZMember(m *zmember, actx *causal.Context, o *zmember, bctx *causal.Context) {
	var os []zscore
	if o != nil {
		os = o.scores
	}
	out := make([]zscore, 0, len(m.scores)+len(os))
	i, j := 0, 0
	for i < len(m.scores) || j < len(os) {
		switch {
		case j == len(os) || (i < len(m.scores) && m.scores[i].dot.Less(os[j].dot)):
			if !bctx.Contains(m.scores[i].dot) {
				out = append(out, m.scores[i])
			}
			i++
		case i == len(m.scores) || os[j].dot.Less(m.scores[i].dot):
			if !actx.Contains(os[j].dot) {
				out = append(out, os[j])
			}
			j++
		default:
			out = append(out, m.scores[i])
			i++
			j++
		}
	}
	m.scores = out
	if o != nil {
		for _, e := range o.incs {
			m.joinInc(zinc{node: e.node, k: e.k, sum: e.sum, base: e.base})
			if e.kr > 0 {
				m.resetInc(zreset{node: e.node, k: e.kr, sum: e.sumr})
			}
		}
	}
}

// zsetResetsIn reports whether every reset and increment base of op names
// an increment in deps (Txn.resetsObserved).
func zsetResetsIn(op *valueOp, deps *causal.Context, node causal.NodeID) bool {
	if op.zset == nil {
		return true
	}
	for i := range op.zset.members {
		mo := &op.zset.members[i]
		for _, r := range mo.resets {
			if !deps.Contains(causal.Dot{Node: r.node, Counter: r.k}) {
				return false
			}
		}
		if mo.inc && mo.base != 0 && !deps.Contains(causal.Dot{Node: node, Counter: mo.base}) {
			return false
		}
	}
	return true
}

// Encoding. A score is a float64 as a uvarint of its bits with the bytes
// reversed, so integers and short fractions (whose low mantissa bytes are
// zero) take few bytes; NaN is refused.
//
// State (after the expiry part, when the extension byte has extZSet):
//
//	count ≥ 1, members ascending: member bytes,
//	  score entries: count, by dot: node, counter, wall ms, logical, score
//	  increment entries: count, nodes ascending: node delta (first
//	    absolute, then > 0), k ≥ 1, sum, base (< k), kr (≤ k), sumr (if kr > 0)
//	  (a member has at least one entry of either kind)
//
// Operation (after the expiry part, when the extension byte has extZSet):
//
//	header = count<<1 | clear-observed; members ascending: member bytes,
//	flag byte (1 set, 2 remove observed score entries (not when the whole
//	set is cleared), 4 resets, 8 increment), then in bit order:
//	  1  score
//	  4  count ≥ 1, nodes ascending: node delta, k ≥ 1, sum
//	  8  the writer's new sum, its base

func appendScore(dst []byte, f float64) []byte {
	return codec.AppendUvarint(dst, bits.ReverseBytes64(math.Float64bits(f)))
}

func decodeScore(r *codec.Reader, what string) float64 {
	f := math.Float64frombits(bits.ReverseBytes64(uvarint(r, what)))
	if r.Err() == nil && f != f {
		r.Fail(what+": NaN", ErrInvalid)
	}
	return f
}

func appendZMember(dst []byte, m *zmember) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(m.scores)))
	for _, e := range m.scores {
		dst = codec.AppendUvarint(dst, uint64(e.dot.Node))
		dst = codec.AppendUvarint(dst, e.dot.Counter)
		dst = e.time.AppendBinary(dst)
		dst = appendScore(dst, e.score)
	}
	dst = codec.AppendUvarint(dst, uint64(len(m.incs)))
	var prev causal.NodeID
	for _, e := range m.incs {
		dst = codec.AppendUvarint(dst, uint64(e.node-prev))
		prev = e.node
		dst = codec.AppendUvarint(dst, e.k)
		dst = appendScore(dst, e.sum)
		dst = codec.AppendUvarint(dst, e.base)
		dst = codec.AppendUvarint(dst, e.kr)
		if e.kr > 0 {
			dst = appendScore(dst, e.sumr)
		}
	}
	return dst
}

func appendZSet(dst []byte, z *zset) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(z.members)))
	for _, name := range z.sortedMembers() {
		dst = codec.AppendString(dst, name)
		dst = appendZMember(dst, z.members[name])
	}
	return dst
}

func decodeZSet(r *codec.Reader, ctx *causal.Context, h *hasher) *zset {
	// A member is at least a length and two counts.
	n := count(r, "zset members", MaxZSetMembers, 3)
	if r.Err() != nil {
		return nil
	}
	if n == 0 {
		r.Fail("zset members: empty", ErrInvalid)
		return nil
	}
	z := newZSet()
	var prev []byte
	for i := 0; i < n; i++ {
		name := byteString(r, "zset member", MaxValueBytes)
		if r.Err() != nil {
			return nil
		}
		if i > 0 && bytes.Compare(prev, name) >= 0 {
			r.Fail("zset members: not ascending", ErrInvalid)
			return nil
		}
		prev = name
		m := decodeZMember(r, ctx)
		if r.Err() != nil {
			return nil
		}
		z.remember(string(name), m, h)
	}
	return z
}

func decodeZMember(r *codec.Reader, ctx *causal.Context) *zmember {
	m := &zmember{}
	// A score entry is at least node, counter, wall, logical and a score.
	n := count(r, "zset score entries", MaxSiblings, 5)
	for i := 0; i < n && r.Err() == nil; i++ {
		d := causal.Dot{Node: causal.NodeID(uvarint(r, "zset score node")), Counter: uvarint(r, "zset score counter")}
		ts := decodeTimestamp(r)
		s := decodeScore(r, "zset score")
		if r.Err() != nil || !checkDot(r, "zset score entry", d, ctx) {
			return nil
		}
		if i > 0 && !m.scores[i-1].dot.Less(d) {
			r.Fail("zset score entries: not ascending", ErrInvalid)
			return nil
		}
		m.scores = append(m.scores, zscore{dot: d, time: ts, score: s})
	}
	// An increment entry is at least node, k, sum, base and kr.
	n = count(r, "zset increment entries", MaxCounterNodes, 5)
	var prev causal.NodeID
	for i := 0; i < n && r.Err() == nil; i++ {
		delta := uvarint(r, "zset increment node")
		e := zinc{node: prev + causal.NodeID(delta), k: uvarint(r, "zset increment k"), sum: decodeScore(r, "zset increment sum")}
		e.base = uvarint(r, "zset increment base")
		e.kr = uvarint(r, "zset increment kr")
		if e.kr > 0 {
			e.sumr = decodeScore(r, "zset increment sumr")
		}
		if r.Err() != nil {
			return nil
		}
		if (i > 0 && delta == 0) || e.node < prev || e.base >= e.k || e.kr > e.k {
			r.Fail("zset increment entries: not canonical", ErrInvalid)
			return nil
		}
		if !checkDot(r, "zset increment entry", causal.Dot{Node: e.node, Counter: e.k}, ctx) {
			return nil
		}
		m.incs = append(m.incs, e)
		prev = e.node
	}
	if r.Err() == nil && m.empty() {
		r.Fail("zset member: no entries", ErrInvalid)
	}
	if r.Err() != nil {
		return nil
	}
	return m
}

func appendZSetOp(dst []byte, zo *zsetOp) []byte {
	dst = codec.AppendUvarint(dst, uint64(len(zo.members))<<1|b2u(zo.observed))
	for i := range zo.members {
		mo := &zo.members[i]
		dst = codec.AppendBytes(dst, mo.member)
		dst = append(dst, mo.flags())
		if mo.set {
			dst = appendScore(dst, mo.score)
		}
		if len(mo.resets) > 0 {
			dst = codec.AppendUvarint(dst, uint64(len(mo.resets)))
			var prev causal.NodeID
			for _, rs := range mo.resets {
				dst = codec.AppendUvarint(dst, uint64(rs.node-prev))
				prev = rs.node
				dst = codec.AppendUvarint(dst, rs.k)
				dst = appendScore(dst, rs.sum)
			}
		}
		if mo.inc {
			dst = appendScore(dst, mo.sum)
			dst = codec.AppendUvarint(dst, mo.base)
		}
	}
	return dst
}

func decodeZSetOp(r *codec.Reader, budget *int) *zsetOp {
	n, observed := opCount(r, "zset operation", budget)
	if r.Err() != nil {
		return nil
	}
	zo := &zsetOp{observed: observed, members: make([]zmemberOp, 0, n)}
	for i := 0; i < n; i++ {
		name := byteString(r, "zset member", MaxValueBytes)
		f := r.Byte("zset member operation")
		if r.Err() != nil {
			return nil
		}
		if f == 0 || f&^zopMask != 0 || (observed && f&zopObserved != 0) {
			r.Fail("zset member operation", ErrInvalid)
			return nil
		}
		if i > 0 && bytes.Compare(zo.members[i-1].member, name) >= 0 {
			r.Fail("zset operation: members not ascending", ErrInvalid)
			return nil
		}
		mo := zmemberOp{member: name, set: f&zopSet != 0, observed: f&zopObserved != 0, inc: f&zopInc != 0}
		if mo.set {
			mo.score = decodeScore(r, "zset score")
		}
		if f&zopResets != 0 {
			// A reset is at least node delta, k and sum.
			c := count(r, "zset resets", MaxCounterNodes, 3)
			if r.Err() == nil && c == 0 {
				r.Fail("zset resets: none", ErrInvalid)
			}
			var prev causal.NodeID
			for j := 0; j < c && r.Err() == nil; j++ {
				delta := uvarint(r, "zset reset node")
				rs := zreset{node: prev + causal.NodeID(delta), k: uvarint(r, "zset reset k"), sum: decodeScore(r, "zset reset sum")}
				if r.Err() != nil {
					return nil
				}
				if (j > 0 && delta == 0) || rs.node == 0 || rs.node < prev || rs.k == 0 {
					r.Fail("zset resets: not canonical", ErrInvalid)
					return nil
				}
				mo.resets = append(mo.resets, rs)
				prev = rs.node
			}
		}
		if mo.inc {
			mo.sum = decodeScore(r, "zset increment sum")
			mo.base = uvarint(r, "zset increment base")
		}
		if r.Err() != nil {
			return nil
		}
		zo.members = append(zo.members, mo)
	}
	return zo
}

// zmember hashes one member: xxhash64 of its name and its encoding.
func (h *hasher) zmember(name string, m *zmember) uint64 {
	b := codec.AppendString(h.buf[:0], name)
	b = appendZMember(b, m)
	return h.sum(b)
}

// Reads.

// ZCard is the number of visible members of the sorted set component.
func (v *Value) ZCard() int {
	if z := v.zs(); z != nil {
		return z.index.Len()
	}
	return 0
}

// ZScore returns member's score and whether it is a visible member.
func (v *Value) ZScore(member []byte) (float64, bool) {
	z := v.zs()
	if z == nil {
		return 0, false
	}
	m := z.members[string(member)]
	if m == nil {
		return 0, false
	}
	return m.score()
}

// ZRank returns member's ascending rank and whether it is a visible
// member. O(log² n).
func (v *Value) ZRank(member []byte) (int, bool) {
	s, ok := v.ZScore(member)
	if !ok {
		return 0, false
	}
	it := zitem{score: s, member: string(member)}
	return v.ZCountBefore(func(score float64, m []byte) bool { return zitemLess(zitem{score: score, member: string(m)}, it) }), true
}

// ZCountBefore returns how many members satisfy before, which must hold
// for a prefix of the members in rank order (a lower bound). O(log² n).
func (v *Value) ZCountBefore(before func(score float64, member []byte) bool) int {
	z := v.zs()
	if z == nil {
		return 0
	}
	lo, hi := 0, z.index.Len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		it, _ := z.index.GetAt(mid)
		if before(it.score, bytesOf(it.member)) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// ZAscend calls fn with the members from rank i upward, ascending, until
// fn returns false. O(log n) to start, O(1) amortized per member.
func (v *Value) ZAscend(i int, fn func(member []byte, score float64) bool) {
	z := v.zs()
	if z == nil || i < 0 || i >= z.index.Len() {
		return
	}
	start, _ := z.index.GetAt(i)
	z.index.Ascend(start, func(it zitem) bool { return fn(bytesOf(it.member), it.score) })
}

// ZDescend calls fn with the members from rank i downward until fn
// returns false.
func (v *Value) ZDescend(i int, fn func(member []byte, score float64) bool) {
	z := v.zs()
	if z == nil || i < 0 || i >= z.index.Len() {
		return
	}
	start, _ := z.index.GetAt(i)
	z.index.Descend(start, func(it zitem) bool { return fn(bytesOf(it.member), it.score) })
}

// Builder operations.

// zsetMembersLimit is the Builder's bound on a sorted set's stored
// members: MaxZSetMembers, lowered by tests.
var zsetMembersLimit = MaxZSetMembers

// zsBuild is what the Builder tracks about a sorted-set key.
type zsBuild struct {
	members nameIndex // op.zset.members by member
	live    int       // visible members as the transaction sees it
	// stored bounds the members the key will store, hidden ones
	// included: the base's plus every slot for a member the base lacks
	// (an upper bound: a removed member may yet be dropped).
	stored int
}

func (kb *keyBuild) zsLive() int {
	if kb.zs == nil {
		return 0
	}
	return kb.zs.live
}

// initZSet fills kb's sorted-set bookkeeping from its base (prepare).
func (kb *keyBuild) initZSet() {
	if z := kb.base.zs(); z != nil {
		kb.zs = &zsBuild{live: z.index.Len(), stored: len(z.members)}
	}
}

// zroom returns ErrTooLarge if adding member to kb's sorted set would
// take its stored members past zsetMembersLimit.
func (kb *keyBuild) zroom(member []byte) error {
	if kb.zslot(member) != nil || kb.baseZMember(member) != nil {
		return nil // stored already, or counted when its slot was made
	}
	stored := 0
	if kb.zs != nil {
		stored = kb.zs.stored
	} else if z := kb.base.zs(); z != nil {
		stored = len(z.members)
	}
	if stored+1 > zsetMembersLimit {
		return ErrTooLarge
	}
	return nil
}

// clearZSet makes op remove every observed part of base's sorted set:
// score entries by the clear flag, increment entries by explicit resets
// (one member slot each).
func clearZSet(op *valueOp, base *Value) {
	z := base.zs()
	if z == nil {
		return
	}
	op.zset = &zsetOp{observed: true}
	for name, m := range z.members {
		if rs := m.observedResets(nil); len(rs) > 0 {
			op.zset.members = append(op.zset.members, zmemberOp{member: bytesOf(name), resets: rs})
		}
	}
}

// liveZSetIncs counts the members a clear of base must list.
func liveZSetIncs(base *Value) int {
	n := 0
	if z := base.zs(); z != nil {
		for _, m := range z.members {
			if len(m.observedResets(nil)) > 0 {
				n++
			}
		}
	}
	return n
}

func zmemberName(m *zmemberOp) []byte { return m.member }

// zslot returns kb's pending operation on member, or nil.
func (kb *keyBuild) zslot(member []byte) *zmemberOp {
	if kb.op.zset == nil {
		return nil
	}
	var idx nameIndex
	if kb.zs != nil {
		idx = kb.zs.members
	}
	if i := findSlot(kb.op.zset.members, idx, member, zmemberName); i >= 0 {
		return &kb.op.zset.members[i]
	}
	return nil
}

// zslotAdd returns member's slot, adding one if absent.
func (b *Builder) zslotAdd(kb *keyBuild, member []byte) *zmemberOp {
	if kb.zs == nil {
		// After a clear of the key: the base's members are still stored
		// (hidden, or dropped once applied), and so are the slots.
		kb.zs = &zsBuild{}
		if z := kb.base.zs(); z != nil {
			kb.zs.stored = len(z.members)
		}
		if kb.op.zset != nil {
			for i := range kb.op.zset.members {
				if kb.baseZMember(kb.op.zset.members[i].member) == nil {
					kb.zs.stored++
				}
			}
		}
	}
	if s := kb.zslot(member); s != nil {
		return s
	}
	if kb.baseZMember(member) == nil {
		kb.zs.stored++
	}
	if kb.op.zset == nil {
		kb.op.zset = &zsetOp{}
	}
	i := appendSlot(&kb.op.zset.members, &kb.zs.members, zmemberOp{member: b.copy(member)}, zmemberName)
	b.ops++
	return &kb.op.zset.members[i]
}

// baseZMember is member's stored state, or nil.
func (kb *keyBuild) baseZMember(member []byte) *zmember {
	if z := kb.base.zs(); z != nil {
		return z.members[string(member)]
	}
	return nil
}

// zview materializes member as the transaction sees it.
func (b *Builder) zview(kb *keyBuild, member []byte) *zmember {
	m := &zmember{}
	if bm := kb.baseZMember(member); bm != nil {
		m = bm.clone()
	}
	if kb.op.zset != nil && kb.op.zset.observed {
		m.scores = slices.DeleteFunc(m.scores, func(e zscore) bool { return b.hdr.deps.Contains(e.dot) })
	}
	if s := kb.zslot(member); s != nil {
		m.apply(s, &b.hdr)
	}
	return m
}

// zprepare prepares key for a sorted-set write.
func (b *Builder) zprepare(key, member []byte) (*keyBuild, bool, error) {
	if len(member) > MaxValueBytes {
		return nil, false, ErrTooLarge
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return nil, false, err
	}
	if err := b.typed(kb, TypeZSet); err != nil {
		return nil, false, err
	}
	if b.ops+1 > MaxTxnOps {
		return nil, false, ErrTxnTooBig
	}
	return kb, fresh, nil
}

// zclearMember makes member's slot remove everything of it the
// transaction observed, forgetting the transaction's own pending parts.
func (b *Builder) zclearMember(kb *keyBuild, slot *zmemberOp) {
	bm := kb.baseZMember(slot.member)
	slot.set, slot.inc, slot.score, slot.sum, slot.base = false, false, 0, 0, 0
	slot.observed = bm != nil && len(bm.scores) > 0 && !kb.op.zset.observed
	slot.resets = bm.observedResets(slot.resets[:0])
}

// ZScore returns member's score at key as the transaction sees it, and
// whether it is a visible member. A key of another type returns
// ErrWrongType.
func (b *Builder) ZScore(key, member []byte) (float64, bool, error) {
	b.check()
	kb := b.find(key)
	if kb == nil {
		v := b.Get(key)
		if v != nil && v.Type() != TypeZSet {
			return 0, false, ErrWrongType
		}
		s, ok := v.ZScore(member)
		return s, ok, nil
	}
	if err := b.typed(kb, TypeZSet); err != nil {
		return 0, false, err
	}
	s, ok := b.zview(kb, member).score()
	return s, ok, nil
}

// ZAdd sets member's score at key (Redis ZADD): it removes the member's
// observed score and increments and adds a score entry. It reports whether
// the member was absent. A NaN score returns ErrNotFloat.
func (b *Builder) ZAdd(key, member []byte, score float64) (bool, error) {
	b.check()
	if score != score {
		return false, ErrNotFloat
	}
	kb, fresh, err := b.zprepare(key, member)
	if err != nil {
		return false, err
	}
	_, was := b.zview(kb, member).score()
	if err := kb.zroom(member); err != nil {
		return false, err
	}
	slot := b.zslotAdd(kb, member)
	b.zclearMember(kb, slot)
	slot.set, slot.score = true, score+0 // no negative zero
	if !was {
		kb.zs.live++
	}
	b.commit(kb, fresh)
	return !was, nil
}

// ZIncrement adds by to member's score at key (Redis ZINCRBY), adding the
// member with score by if absent, and returns the new score. A result
// that is NaN returns ErrNotFloat and changes nothing.
func (b *Builder) ZIncrement(key, member []byte, by float64) (float64, error) {
	b.check()
	if by != by {
		return 0, ErrNotFloat
	}
	kb, fresh, err := b.zprepare(key, member)
	if err != nil {
		return 0, err
	}
	view := b.zview(kb, member)
	cur, was := view.score()
	next := cur + by
	if next != next {
		return 0, ErrNotFloat
	}
	if err := kb.zroom(member); err != nil {
		return 0, err
	}
	node := b.txn.Dot.Node
	sum, base := by, uint64(0)
	if i, ok := view.findInc(node); ok {
		e := &view.incs[i]
		if e.live() { // includes the transaction's own earlier increment
			sum, base = e.sum+by, e.base
		} else { // fully reset: start a new sum after it
			base = e.k
		}
	}
	slot := b.zslotAdd(kb, member)
	slot.inc, slot.sum, slot.base = true, sum, base
	if !finite(by) || !finite(next) || !finite(sum) || !view.finite() {
		// Infinities do not survive sums and differences (the running
		// sum could become NaN, or the parts would not give the client's
		// result): rebase, writing the result as a ZADD does.
		b.zclearMember(kb, slot)
		slot.set, slot.score = true, next+0
	}
	if !was {
		kb.zs.live++
	}
	b.commit(kb, fresh)
	after, _ := b.zview(kb, member).score()
	return after, nil
}

// ZRemove removes members from the sorted set at key (Redis ZREM): their
// observed score entries and increments. It returns how many were
// visible.
func (b *Builder) ZRemove(key []byte, members ...[]byte) (int, error) {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return 0, err
	}
	if err := b.typed(kb, TypeZSet); err != nil {
		return 0, err
	}
	if b.ops+len(members) > MaxTxnOps {
		return 0, ErrTxnTooBig
	}
	removed := 0
	for _, m := range members {
		if _, ok := b.zview(kb, m).score(); !ok {
			continue
		}
		b.zclearMember(kb, b.zslotAdd(kb, m))
		kb.zs.live--
		removed++
	}
	if removed > 0 {
		b.commit(kb, fresh)
	}
	return removed, nil
}

// normalizeZSet puts a sorted-set operation in canonical form.
func normalizeZSet(op *valueOp) {
	zo := op.zset
	if zo == nil {
		return
	}
	for i := range zo.members {
		if len(zo.members[i].resets) == 0 {
			zo.members[i].resets = nil
		}
	}
	zo.members = slices.DeleteFunc(zo.members, func(m zmemberOp) bool { return m.empty() })
	slices.SortFunc(zo.members, func(x, y zmemberOp) int { return bytes.Compare(x.member, y.member) })
	if !zo.observed && len(zo.members) == 0 {
		op.zset = nil
	}
}

// zsetOpEmpty reports whether a sorted-set operation changes nothing.
func zsetOpEmpty(zo *zsetOp) bool {
	if zo == nil {
		return true
	}
	if zo.observed {
		return false
	}
	for i := range zo.members {
		if !zo.members[i].empty() {
			return false
		}
	}
	return true
}
