package crdt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/internal/codec"
)

// Bounded counters (TypeBCounter, extension bit extBCounter). A bounded
// counter is an integer that never goes below its floor on any replica,
// without coordination: the room above the floor is split into rights
// that nodes hold, a node decrements only with rights it holds, and a node
// gives rights only from what it holds (escrow, as AntidoteDB's bounded
// counter).
//
// # State
//
// A generation is made by one BCOUNTER.CREATE: its dot (the creating
// transaction's; its node is the creator), its floor and its initial
// value. Each node n has an account in it, all cumulative and grow-only:
//
//	inc_n      what n added (INCRBY)
//	dec_n      what n took (DECRBY)
//	want_n     the received total n asks to reach, plus withdrawn_n (a
//	           request for rights)
//	withdrawn_n  the part of want_n that n no longer asks for
//	give_n[m]  what n gave m
//
// and, with recv_n = Σ_m give_m[n] and give_n = Σ_m give_n[m],
//
//	value      = initial + Σ inc − Σ dec
//	rights(n)  = [n is the creator](initial − floor) + inc_n − dec_n + recv_n − give_n
//
// so Σ_n rights(n) = value − floor by construction, and n's outstanding
// request is
//
//	need_n     = max(0, want_n − withdrawn_n − recv_n)
//
// want_n and withdrawn_n enter no right: they only steer the policy (see
// Moving rights). The operations keep
// rights(n) ≥ 0: only n changes its own account, and the Builder refuses a
// decrement or a gift larger than rights(n) as n sees it. Another replica
// holding n's account as of some transaction also holds that
// transaction's causal past, so it sees at least the receipts n saw and
// no more of n's decrements and gifts: rights(n) there is at least what n
// checked. So value ≥ floor on every replica, under any partition.
//
// # Merge
//
// A key holds generations like register entries: CREATE adds one, DEL
// (and SET, expiry) removes the observed ones. The visible generation is
// the one with the greatest dot; the others are kept, their rights void
// while a greater one exists (CREATE refuses when a counter is visible,
// so two generations exist only after concurrent creates on two nodes).
// Two states' generations join as register entries do, and an account
// present in both joins component-wise by maximum, which is a lattice
// join. An update names its generation; one whose generation was removed
// is dropped (its transaction's past holds the generation, so a replica
// that lacks it has seen the removal).
//
// # Moving rights
//
// BCounterRebalance is the policy, a pure function of the state and the
// node: a holder first answers wants (need_n above), the
// largest holders first — a node gives only the part of a need that the
// holders ranked above it cannot cover — then gives its surplus over its
// demand-weighted target (value − floor) · d_n / Σ d_m, with demand
// d_n = dec_n + 1 (what n took), to the node
// furthest below its own target, when the surplus and the deficit both
// exceed 1/BCounterHysteresis of the total. A node with a want of its own
// outstanding answers wants but gives no surplus. At most
// MaxBCounterGifts gifts per call. The replica runs it on its Tick.
//
// Rights a node was given may move on by the policy if it does not use
// them: a waiting BCOUNTER.DECRBY retries on the change that brings them,
// well within the tick after.
//
// # Withdrawing a want
//
// A want outlives the decrement that made it: the client gives up after
// a bounded wait, and an unanswered need would keep drawing rights from
// the nodes that use them. BCounterWithdraw raises withdrawn_n to
// want_n − recv_n, so need_n is 0 from then on (recv_n only grows); a
// later want is recorded above it (want_n = withdrawn_n + recv_n +
// short). Both totals are n's own and grow only, so the account still
// joins by maximum; withdrawn_n ≤ want_n always. The replica withdraws a
// want of its node that stayed unmet for Config.BCounterWantTicks
// (replica/bcounter.go).

// Bounded-counter limits.
const (
	// MaxBCounterNodes bounds the accounts of one generation, the gifts
	// of one account and the generations of one key, in a decoded value;
	// an operation that would add an account past it returns ErrTooLarge.
	// One account per node that ever used the counter.
	MaxBCounterNodes = 1 << 10
	// MaxBCounterAmount bounds |floor|, |initial| and every cumulative
	// amount (inc, dec, want, a gift), in units; an operation past it
	// returns ErrOverflow, a decoder refuses more. Sums over
	// MaxBCounterNodes accounts stay within int64.
	MaxBCounterAmount = 1 << 50
	// MaxBCounterGifts bounds the gifts one BCounterRebalance records
	// for one key (the rest waits for the next call).
	MaxBCounterGifts = 8
	// BCounterHysteresis: the proactive part of the policy moves rights
	// only when the giver's surplus and the receiver's deficit both exceed
	// (value − floor)/BCounterHysteresis, so rights do not shuttle.
	BCounterHysteresis = 16
)

// Bounded-counter errors.
var (
	// ErrBCounterInsufficient: a decrement or a gift larger than this
	// node's rights.
	ErrBCounterInsufficient = errors.New("crdt: insufficient bounded-counter rights on this node")
	// ErrBCounterExists: BCounterCreate on a key holding a bounded counter.
	ErrBCounterExists = errors.New("crdt: bounded counter exists")
	// ErrBCounterRange: a negative amount, or an initial value below the
	// floor.
	ErrBCounterRange = errors.New("crdt: bounded-counter amount out of range")
	// ErrBCounterMissing: an update of a key that holds no bounded counter.
	ErrBCounterMissing = errors.New("crdt: no bounded counter at key")
)

// bcGift is one cumulative gift: to whom and how much in all.
type bcGift struct {
	to  causal.NodeID
	amt uint64
}

// bcAccount is one node's cumulative account in a generation.
type bcAccount struct {
	node           causal.NodeID
	inc, dec, want uint64
	withdrawn      uint64   // ≤ want
	gifts          []bcGift // by to ascending; to ≠ node, amt ≥ 1
}

func (a *bcAccount) empty() bool {
	return a.inc == 0 && a.dec == 0 && a.want == 0 && a.withdrawn == 0 && len(a.gifts) == 0
}

func (a *bcAccount) given() uint64 {
	var s uint64
	for _, g := range a.gifts {
		s += g.amt
	}
	return s
}

func (a *bcAccount) giftTo(to causal.NodeID) uint64 {
	i, ok := slices.BinarySearchFunc(a.gifts, to, func(g bcGift, n causal.NodeID) int { return cmp.Compare(g.to, n) })
	if ok {
		return a.gifts[i].amt
	}
	return 0
}

// join raises a to the maxima of a and b (same node).
func (a *bcAccount) join(b *bcAccount) {
	a.inc, a.dec, a.want = max(a.inc, b.inc), max(a.dec, b.dec), max(a.want, b.want)
	a.withdrawn = max(a.withdrawn, b.withdrawn)
	for _, g := range b.gifts {
		a.raiseGift(g)
	}
}

func (a *bcAccount) raiseGift(g bcGift) {
	i, ok := slices.BinarySearchFunc(a.gifts, g.to, func(x bcGift, n causal.NodeID) int { return cmp.Compare(x.to, n) })
	if ok {
		a.gifts[i].amt = max(a.gifts[i].amt, g.amt)
		return
	}
	a.gifts = slices.Insert(a.gifts, i, g)
}

// bcGen is one generation: a CREATE and the accounts made in it.
type bcGen struct {
	dot            causal.Dot
	floor, initial int64
	accts          []bcAccount // by node ascending, none empty
}

func (g *bcGen) clone() bcGen {
	out := *g
	out.accts = make([]bcAccount, len(g.accts))
	for i := range g.accts {
		out.accts[i] = g.accts[i]
		out.accts[i].gifts = slices.Clone(g.accts[i].gifts)
	}
	return out
}

func (g *bcGen) find(n causal.NodeID) (int, bool) {
	return slices.BinarySearchFunc(g.accts, n, func(a bcAccount, n causal.NodeID) int { return cmp.Compare(a.node, n) })
}

// account returns n's account (zero if none); not to be modified.
func (g *bcGen) account(n causal.NodeID) bcAccount {
	if i, ok := g.find(n); ok {
		return g.accts[i]
	}
	return bcAccount{node: n}
}

// joinAccount raises n's account to b.
func (g *bcGen) joinAccount(b *bcAccount) {
	if b.empty() {
		return
	}
	i, ok := g.find(b.node)
	if !ok {
		g.accts = slices.Insert(g.accts, i, bcAccount{node: b.node})
	}
	g.accts[i].join(b)
}

func (g *bcGen) value() int64 {
	v := g.initial
	for i := range g.accts {
		v += int64(g.accts[i].inc) - int64(g.accts[i].dec)
	}
	return v
}

func (g *bcGen) received(n causal.NodeID) uint64 {
	var s uint64
	for i := range g.accts {
		s += g.accts[i].giftTo(n)
	}
	return s
}

// need is need_n (see Bounded counters): what n still asks for.
func (g *bcGen) need(n causal.NodeID) int64 {
	a := g.account(n)
	return max(0, int64(a.want)-int64(a.withdrawn)-int64(g.received(n)))
}

// rights is rights(n) (see Bounded counters).
func (g *bcGen) rights(n causal.NodeID) int64 {
	a := g.account(n)
	r := int64(a.inc) - int64(a.dec) + int64(g.received(n)) - int64(a.given())
	if n == g.dot.Node {
		r += g.initial - g.floor
	}
	return r
}

// bcounter is the component: generations by dot ascending, never empty.
type bcounter struct {
	gens []bcGen
}

func (c *bcounter) clone() *bcounter {
	out := &bcounter{gens: make([]bcGen, len(c.gens))}
	for i := range c.gens {
		out.gens[i] = c.gens[i].clone()
	}
	return out
}

// visible is the generation with the greatest dot.
func (c *bcounter) visible() *bcGen { return &c.gens[len(c.gens)-1] }

func (c *bcounter) findGen(d causal.Dot) *bcGen {
	for i := range c.gens {
		if c.gens[i].dot == d {
			return &c.gens[i]
		}
	}
	return nil
}

// bcounterOp is the operation on a bounded counter. The writer is the
// transaction's node; its amounts are its new cumulative ones.
type bcounterOp struct {
	clear  bool // remove the observed generations
	create bool // add a generation with the transaction's dot
	floor  int64
	init   int64
	acct   *bcAccount // the writer's raised account (node = writer)
	gen    causal.Dot // the generation acct belongs to
}

func (o *bcounterOp) empty() bool { return o == nil || (!o.clear && !o.create && o.acct == nil) }

func (v *Value) bc() *bcounter {
	if p := v.extParts(); p != nil {
		return p.bc
	}
	return nil
}

func (v *Value) putBCounter(c *bcounter) {
	if c != nil && len(c.gens) == 0 {
		c = nil
	}
	if c != nil {
		v.extSlot().bc = c
		return
	}
	if p := v.extParts(); p != nil {
		p.bc = nil
		v.tidyExt()
	}
}

// bcounterExt is extBCounter if v has a bounded counter.
func bcounterExt(v *Value) uint8 {
	if v.bc() != nil {
		return extBCounter
	}
	return 0
}

// applyBCounter applies op to v.
func applyBCounter(v *Value, op *bcounterOp, t *txnHeader) {
	if op == nil {
		return
	}
	c := v.bc()
	if c != nil {
		c = &bcounter{gens: c.gens}
	}
	if op.clear && c != nil {
		c.gens = slices.DeleteFunc(slices.Clone(c.gens), func(g bcGen) bool { return t.deps.Contains(g.dot) })
	}
	if op.create {
		if c == nil {
			c = &bcounter{}
		}
		g := bcGen{dot: t.dot, floor: op.floor, initial: op.init}
		i, _ := slices.BinarySearchFunc(c.gens, g.dot, func(x bcGen, d causal.Dot) int { return dotCompare(x.dot, d) })
		c.gens = slices.Insert(slices.Clone(c.gens), i, g)
	}
	if op.acct != nil && c != nil {
		if g := c.findGen(op.gen); g != nil {
			g.joinAccount(op.acct)
		}
	}
	v.putBCounter(c)
}

func dotCompare(a, b causal.Dot) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// bcounterOpValid reports whether op names only generations a writer can
// have observed: its own dot, or one in deps.
func bcounterOpValid(op *valueOp, deps *causal.Context, dot causal.Dot) bool {
	o := op.bcounter
	if o == nil || o.acct == nil {
		return true
	}
	return o.gen == dot && o.create || o.gen != dot && deps.Contains(o.gen)
}

// joinBCounter joins two components: a generation survives if both hold
// it (accounts joined) or one holds it and the other's context lacks its
// dot. b is not aliased.
func joinBCounter(a *bcounter, actx *causal.Context, b *bcounter, bctx *causal.Context) *bcounter {
	if a == nil {
		a = &bcounter{}
	}
	if b == nil {
		b = &bcounter{}
	}
	out := &bcounter{}
	i, j := 0, 0
	for i < len(a.gens) || j < len(b.gens) {
		switch {
		case j == len(b.gens) || (i < len(a.gens) && a.gens[i].dot.Less(b.gens[j].dot)):
			if !bctx.Contains(a.gens[i].dot) {
				out.gens = append(out.gens, a.gens[i])
			}
			i++
		case i == len(a.gens) || b.gens[j].dot.Less(a.gens[i].dot):
			if !actx.Contains(b.gens[j].dot) {
				out.gens = append(out.gens, b.gens[j].clone())
			}
			j++
		default:
			g := a.gens[i].clone()
			for k := range b.gens[j].accts {
				g.joinAccount(&b.gens[j].accts[k])
			}
			out.gens = append(out.gens, g)
			i++
			j++
		}
	}
	if len(out.gens) == 0 {
		return nil
	}
	return out
}

// Reading.

// BCounter is a bounded counter as a reader sees it (the visible
// generation).
type BCounter struct {
	Creator causal.NodeID
	Floor   int64
	Initial int64
	Value   int64
}

// BCounter returns the key's bounded counter and whether it holds one.
func (v *Value) BCounter() (BCounter, bool) {
	if v == nil || v.bc() == nil {
		return BCounter{}, false
	}
	g := v.bc().visible()
	return BCounter{Creator: g.dot.Node, Floor: g.floor, Initial: g.initial, Value: g.value()}, true
}

// BCounterRights returns node's rights in the visible generation (0 when
// there is no bounded counter).
func (v *Value) BCounterRights(node causal.NodeID) int64 {
	if v == nil || v.bc() == nil {
		return 0
	}
	return v.bc().visible().rights(node)
}

// BCounterNodes calls fn with each node that has an account in the
// visible generation, is its creator or received a gift in it, and its
// rights, by node.
func (v *Value) BCounterNodes(fn func(node causal.NodeID, rights int64) bool) {
	if v == nil || v.bc() == nil {
		return
	}
	g := v.bc().visible()
	for _, n := range g.nodes() {
		if !fn(n, g.rights(n)) {
			return
		}
	}
}

// BCounterNeed returns node's outstanding want in the visible
// generation: want − withdrawn − received, or 0.
func (v *Value) BCounterNeed(node causal.NodeID) int64 {
	if v == nil || v.bc() == nil {
		return 0
	}
	return v.bc().visible().need(node)
}

// nodes lists the creator, every account's node and every gift's
// recipient, ascending: every node whose rights may be non-zero.
func (g *bcGen) nodes() []causal.NodeID {
	out := make([]causal.NodeID, 0, len(g.accts)+1)
	out = append(out, g.dot.Node)
	for i := range g.accts {
		out = append(out, g.accts[i].node)
		for _, gf := range g.accts[i].gifts {
			out = append(out, gf.to)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Encoding. The bounded-counter part of a value (after the stream, ext
// bit extBCounter), in one of two versions:
//
//	version 0 (no account has withdrawn anything; the format before
//	          withdrawals, unchanged):
//	gens      count ≥ 1, by dot ascending: node, counter, floor (zig-zag),
//	          initial (zig-zag, ≥ floor), accounts
//	accounts  count, by node ascending: node, inc, dec, want, gifts
//	          (count, by to ascending: to ≠ node, amount ≥ 1); not all
//	          zero and empty
//
//	version 1 (some account has withdrawn > 0; only then):
//	marker    uvarint 0 (a version-0 generation count is ≥ 1), then
//	          uvarint 1, the version
//	gens      as version 0, each account followed by withdrawn
//	          (≤ want)
//
// The operation (after the stream part, ext bit extBCounter):
//
//	flags     uvarint: 1 clear observed | 2 create | 4 account |
//	          8 withdrawn (with 4, only when withdrawn > 0); not 0
//	create    floor (zig-zag), initial (zig-zag, ≥ floor)
//	account   generation node, counter; inc, dec, want; gifts as above;
//	          withdrawn (≤ want) if flag 8 (the writer is the
//	          transaction's node)
//
// A state or an operation without a withdrawal encodes as before
// withdrawals existed, so old states and logs decode and hash alike; a
// decoder from before refuses version 1 and flag 8.

const (
	bcOpClear     = 1 << 0
	bcOpCreate    = 1 << 1
	bcOpAccount   = 1 << 2
	bcOpWithdrawn = 1 << 3
	bcOpMask      = bcOpClear | bcOpCreate | bcOpAccount | bcOpWithdrawn
)

// bcStateWithdrawn is the version of a state encoding whose accounts
// carry withdrawn (version 0 has no version field).
const bcStateWithdrawn = 1

func appendBCAccount(dst []byte, a *bcAccount, withNode, withWithdrawn bool) []byte {
	if withNode {
		dst = codec.AppendUvarint(dst, uint64(a.node))
	}
	dst = codec.AppendUvarint(dst, a.inc)
	dst = codec.AppendUvarint(dst, a.dec)
	dst = codec.AppendUvarint(dst, a.want)
	dst = codec.AppendUvarint(dst, uint64(len(a.gifts)))
	for _, g := range a.gifts {
		dst = codec.AppendUvarint(dst, uint64(g.to))
		dst = codec.AppendUvarint(dst, g.amt)
	}
	if withWithdrawn {
		dst = codec.AppendUvarint(dst, a.withdrawn)
	}
	return dst
}

// withdrawn reports whether some account of c has withdrawn a want (the
// state then encodes as version 1).
func (c *bcounter) withdrawn() bool {
	for i := range c.gens {
		for k := range c.gens[i].accts {
			if c.gens[i].accts[k].withdrawn > 0 {
				return true
			}
		}
	}
	return false
}

func appendBCounter(dst []byte, c *bcounter) []byte {
	v1 := c.withdrawn()
	if v1 {
		dst = codec.AppendUvarint(dst, 0)
		dst = codec.AppendUvarint(dst, bcStateWithdrawn)
	}
	dst = codec.AppendUvarint(dst, uint64(len(c.gens)))
	for i := range c.gens {
		g := &c.gens[i]
		dst = codec.AppendUvarint(dst, uint64(g.dot.Node))
		dst = codec.AppendUvarint(dst, g.dot.Counter)
		dst = codec.AppendVarint(dst, g.floor)
		dst = codec.AppendVarint(dst, g.initial)
		dst = codec.AppendUvarint(dst, uint64(len(g.accts)))
		for k := range g.accts {
			dst = appendBCAccount(dst, &g.accts[k], true, v1)
		}
	}
	return dst
}

// appendBCounterDigest appends what the bounded counter contributes to
// its key's hash: its encoding's hash (it is small).
func appendBCounterDigest(dst []byte, c *bcounter) []byte {
	return binary.LittleEndian.AppendUint64(dst, xxhash.Sum64(appendBCounter(nil, c)))
}

func bcAmount(r *codec.Reader, what string) uint64 {
	n := uvarint(r, what)
	if r.Err() == nil && n > MaxBCounterAmount {
		r.Fail(what+": over MaxBCounterAmount", ErrInvalid)
	}
	return n
}

func bcBound(r *codec.Reader, what string) int64 {
	n := varint(r, what)
	if r.Err() == nil && (n > MaxBCounterAmount || n < -MaxBCounterAmount) {
		r.Fail(what+": over MaxBCounterAmount", ErrInvalid)
	}
	return n
}

// decodeBCAccount reads an account (its node already set, or read when
// withNode; withdrawn read when withWithdrawn).
func decodeBCAccount(r *codec.Reader, a *bcAccount, withNode, withWithdrawn bool) {
	if withNode {
		a.node = causal.NodeID(uvarint(r, "bcounter account node"))
		if r.Err() == nil && a.node == 0 {
			r.Fail("bcounter account: zero node", ErrInvalid)
		}
	}
	a.inc = bcAmount(r, "bcounter inc")
	a.dec = bcAmount(r, "bcounter dec")
	a.want = bcAmount(r, "bcounter want")
	// A gift is at least to and amount: 2 bytes.
	n := count(r, "bcounter gifts", MaxBCounterNodes, 2)
	for i := 0; i < n && r.Err() == nil; i++ {
		g := bcGift{to: causal.NodeID(uvarint(r, "bcounter gift to")), amt: bcAmount(r, "bcounter gift")}
		if r.Err() != nil {
			return
		}
		if g.to == 0 || g.to == a.node || g.amt == 0 || (i > 0 && a.gifts[i-1].to >= g.to) {
			r.Fail("bcounter gifts: not canonical", ErrInvalid)
			return
		}
		a.gifts = append(a.gifts, g)
	}
	if withWithdrawn {
		a.withdrawn = bcAmount(r, "bcounter withdrawn")
		if r.Err() == nil && a.withdrawn > a.want {
			r.Fail("bcounter withdrawn: above want", ErrInvalid)
		}
	}
	if r.Err() == nil && a.empty() {
		r.Fail("bcounter account: empty", ErrInvalid)
	}
}

func decodeBCounter(r *codec.Reader, ctx *causal.Context) *bcounter {
	// A generation is at least node, counter, floor, initial, accounts.
	n := count(r, "bcounter generations", MaxBCounterNodes, 5)
	v1 := false
	if r.Err() == nil && n == 0 { // the version marker, or nothing
		if ver := uvarint(r, "bcounter version"); r.Err() == nil && ver != bcStateWithdrawn {
			r.Fail(fmt.Sprintf("bcounter: version %d", ver), ErrInvalid)
		}
		v1 = true
		n = count(r, "bcounter generations", MaxBCounterNodes, 5)
	}
	if r.Err() == nil && n == 0 {
		r.Fail("bcounter: empty", ErrInvalid)
	}
	c := &bcounter{}
	for i := 0; i < n && r.Err() == nil; i++ {
		g := bcGen{dot: causal.Dot{Node: causal.NodeID(uvarint(r, "bcounter node")), Counter: uvarint(r, "bcounter counter")}}
		g.floor = bcBound(r, "bcounter floor")
		g.initial = bcBound(r, "bcounter initial")
		if r.Err() != nil || !checkDot(r, "bcounter generation", g.dot, ctx) {
			return nil
		}
		if g.initial < g.floor {
			r.Fail("bcounter: initial below floor", ErrInvalid)
			return nil
		}
		if i > 0 && !c.gens[i-1].dot.Less(g.dot) {
			r.Fail("bcounter generations: not ascending", ErrInvalid)
			return nil
		}
		// An account is at least node, inc, dec, want and a gift count.
		na := count(r, "bcounter accounts", MaxBCounterNodes, 5)
		for k := 0; k < na && r.Err() == nil; k++ {
			var a bcAccount
			decodeBCAccount(r, &a, true, v1)
			if r.Err() == nil && k > 0 && g.accts[k-1].node >= a.node {
				r.Fail("bcounter accounts: not ascending", ErrInvalid)
			}
			g.accts = append(g.accts, a)
		}
		c.gens = append(c.gens, g)
	}
	if r.Err() == nil && v1 != c.withdrawn() {
		r.Fail("bcounter: version 1 without a withdrawal", ErrInvalid)
	}
	if r.Err() != nil {
		return nil
	}
	return c
}

func appendBCounterOp(dst []byte, o *bcounterOp) []byte {
	var flags uint64
	if o.clear {
		flags |= bcOpClear
	}
	if o.create {
		flags |= bcOpCreate
	}
	if o.acct != nil {
		flags |= bcOpAccount
		if o.acct.withdrawn > 0 {
			flags |= bcOpWithdrawn
		}
	}
	dst = codec.AppendUvarint(dst, flags)
	if o.create {
		dst = codec.AppendVarint(dst, o.floor)
		dst = codec.AppendVarint(dst, o.init)
	}
	if o.acct != nil {
		dst = codec.AppendUvarint(dst, uint64(o.gen.Node))
		dst = codec.AppendUvarint(dst, o.gen.Counter)
		dst = appendBCAccount(dst, o.acct, false, o.acct.withdrawn > 0)
	}
	return dst
}

// decodeBCounterOp reads a bounded-counter operation written by the
// transaction's node dot.Node.
func decodeBCounterOp(r *codec.Reader, dot causal.Dot) *bcounterOp {
	flags := uvarint(r, "bcounter operation")
	if r.Err() != nil {
		return nil
	}
	if flags == 0 || flags&^bcOpMask != 0 || flags&bcOpWithdrawn != 0 && flags&bcOpAccount == 0 {
		r.Fail(fmt.Sprintf("bcounter operation flags %#x", flags), ErrInvalid)
		return nil
	}
	o := &bcounterOp{clear: flags&bcOpClear != 0, create: flags&bcOpCreate != 0}
	if o.create {
		o.floor = bcBound(r, "bcounter floor")
		o.init = bcBound(r, "bcounter initial")
		if r.Err() == nil && o.init < o.floor {
			r.Fail("bcounter: initial below floor", ErrInvalid)
		}
	}
	if flags&bcOpAccount != 0 {
		o.gen = causal.Dot{Node: causal.NodeID(uvarint(r, "bcounter generation node")), Counter: uvarint(r, "bcounter generation counter")}
		if r.Err() == nil && (o.gen.Node == 0 || o.gen.Counter == 0) {
			r.Fail("bcounter generation: zero dot", ErrInvalid)
		}
		o.acct = &bcAccount{node: dot.Node}
		decodeBCAccount(r, o.acct, false, flags&bcOpWithdrawn != 0)
		if r.Err() == nil && flags&bcOpWithdrawn != 0 && o.acct.withdrawn == 0 {
			r.Fail("bcounter operation: flag withdrawn with none", ErrInvalid)
		}
	}
	if r.Err() != nil {
		return nil
	}
	return o
}

// Building.

// bcView is the visible generation as the transaction sees it (a copy),
// nil if the key holds no bounded counter then.
func (b *Builder) bcView(kb *keyBuild) *bcGen {
	var c *bcounter
	if kb.base != nil && kb.base.bc() != nil {
		c = kb.base.bc()
	}
	if o := kb.op.bcounter; o != nil {
		v := &Value{}
		if c != nil {
			v.putBCounter(c.clone())
		}
		applyBCounter(v, o, &b.hdr)
		c = v.bc()
	}
	if c == nil {
		return nil
	}
	g := c.visible().clone()
	return &g
}

// bcOpOf returns kb's bounded-counter operation, making an empty one.
func (kb *keyBuild) bcOpOf() *bcounterOp {
	if kb.op.bcounter == nil {
		kb.op.bcounter = &bcounterOp{}
	}
	return kb.op.bcounter
}

// BCounterCreate makes key a bounded counter with floor and initial value
// initial ≥ floor; the creating node holds initial − floor rights.
// ErrBCounterExists if key holds one, ErrWrongType if it holds another
// type, ErrBCounterRange if initial < floor, ErrOverflow past
// MaxBCounterAmount.
func (b *Builder) BCounterCreate(key []byte, floor, initial int64) error {
	b.check()
	if initial < floor {
		return ErrBCounterRange
	}
	if floor < -MaxBCounterAmount || initial > MaxBCounterAmount {
		return ErrOverflow
	}
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return err
	}
	switch b.typeView(kb) {
	case TypeNone:
	case TypeBCounter:
		return ErrBCounterExists
	default:
		return ErrWrongType
	}
	o := kb.bcOpOf()
	o.create, o.floor, o.init = true, floor, initial
	if o.acct != nil && o.gen != b.txn.Dot {
		o.acct = nil // an update of a generation this transaction removed
	}
	b.commit(kb, fresh)
	return nil
}

// bcUpdate runs fn on the writer's account in the visible generation as
// the transaction sees it and records the raised account.
func (b *Builder) bcUpdate(key []byte, fn func(g *bcGen, a *bcAccount) error) error {
	b.check()
	kb, fresh, err := b.prepare(key)
	if err != nil {
		return err
	}
	switch b.typeView(kb) {
	case TypeBCounter:
	case TypeNone:
		return ErrBCounterMissing
	default:
		return ErrWrongType
	}
	g := b.bcView(kb)
	self := b.txn.Dot.Node
	if _, ok := g.find(self); !ok && len(g.accts) >= MaxBCounterNodes {
		return ErrTooLarge
	}
	before := g.account(self)
	before.gifts = slices.Clone(before.gifts) // fn raises g's own copy
	a := before
	a.gifts = slices.Clone(a.gifts)
	if err := fn(g, &a); err != nil {
		return err
	}
	if a.inc == before.inc && a.dec == before.dec && a.want == before.want && a.withdrawn == before.withdrawn &&
		slices.Equal(a.gifts, before.gifts) {
		return nil // nothing to record
	}
	o := kb.bcOpOf()
	o.gen = g.dot
	o.acct = &a
	b.commit(kb, fresh)
	return nil
}

// BCounterIncrement adds n ≥ 0 to the bounded counter at key; the rights
// go to this node. It returns the new value.
func (b *Builder) BCounterIncrement(key []byte, n int64) (int64, error) {
	var out int64
	err := b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		if n < 0 {
			return ErrBCounterRange
		}
		if a.inc+uint64(n) > MaxBCounterAmount || g.value()+n > MaxBCounterAmount {
			return ErrOverflow
		}
		a.inc += uint64(n)
		out = g.value() + n
		return nil
	})
	return out, err
}

// BCounterDecrement takes n ≥ 0 from the bounded counter at key, from
// this node's rights: ErrBCounterInsufficient (nothing recorded) if they
// are fewer than n. It returns the new value.
func (b *Builder) BCounterDecrement(key []byte, n int64) (int64, error) {
	var out int64
	err := b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		if n < 0 {
			return ErrBCounterRange
		}
		if g.rights(a.node) < n {
			return ErrBCounterInsufficient
		}
		if a.dec+uint64(n) > MaxBCounterAmount {
			return ErrOverflow
		}
		a.dec += uint64(n)
		out = g.value() - n
		return nil
	})
	return out, err
}

// BCounterWant records that this node needs n more rights than it holds
// at key now (a request the holders answer, see Moving rights). It
// records nothing when the node already holds n.
func (b *Builder) BCounterWant(key []byte, n int64) error {
	return b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		short := n - g.rights(a.node)
		if n < 0 {
			return ErrBCounterRange
		}
		if short <= 0 {
			return nil
		}
		w := a.withdrawn + g.received(a.node) + uint64(short)
		if w > MaxBCounterAmount {
			return ErrOverflow
		}
		a.want = max(a.want, w)
		return nil
	})
}

// BCounterWithdraw withdraws this node's outstanding want at key (see
// Withdrawing a want) and returns how much it withdrew: 0, recording
// nothing, when the node asks for nothing.
func (b *Builder) BCounterWithdraw(key []byte) (int64, error) {
	var out int64
	err := b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		out = g.need(a.node)
		if out > 0 {
			a.withdrawn += uint64(out) // = want − received: ≤ want
		}
		return nil
	})
	return out, err
}

// BCounterTransfer gives n ≥ 0 of this node's rights at key to node to:
// ErrBCounterInsufficient if this node holds fewer.
func (b *Builder) BCounterTransfer(key []byte, to causal.NodeID, n int64) error {
	return b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		return bcGive(g, a, to, n)
	})
}

func bcGive(g *bcGen, a *bcAccount, to causal.NodeID, n int64) error {
	switch {
	case n < 0 || to == 0:
		return ErrBCounterRange
	case n == 0 || to == a.node:
		return nil
	case g.rights(a.node) < n:
		return ErrBCounterInsufficient
	}
	amt := a.giftTo(to) + uint64(n)
	if amt > MaxBCounterAmount {
		return ErrOverflow
	}
	if _, ok := g.find(to); !ok && len(g.accts) >= MaxBCounterNodes {
		return ErrTooLarge
	}
	a.raiseGift(bcGift{to: to, amt: amt})
	g.joinAccount(a)
	return nil
}

// BCounterRebalance records the gifts the policy (see Moving rights)
// asks of this node at key, and returns how many rights it gave. A key
// without a bounded counter gives nothing.
func (b *Builder) BCounterRebalance(key []byte) (int64, error) {
	var total int64
	err := b.bcUpdate(key, func(g *bcGen, a *bcAccount) error {
		for _, p := range bcPlan(g, a.node) {
			if err := bcGive(g, a, p.to, p.n); err != nil {
				return err
			}
			total += p.n
		}
		return nil
	})
	if errors.Is(err, ErrBCounterMissing) || errors.Is(err, ErrWrongType) {
		return 0, nil
	}
	return total, err
}

type bcPlanned struct {
	to causal.NodeID
	n  int64
}

// bcPlan is the policy: the gifts self makes in g (see Moving rights).
func bcPlan(g *bcGen, self causal.NodeID) []bcPlanned {
	mine := g.rights(self)
	if mine <= 0 {
		return nil
	}
	nodes := g.nodes()
	rights := make(map[causal.NodeID]int64, len(nodes))
	for _, n := range nodes {
		rights[n] = g.rights(n)
	}
	// Holders by rights descending, then node.
	holders := slices.Clone(nodes)
	slices.SortFunc(holders, func(x, y causal.NodeID) int {
		if c := cmp.Compare(rights[y], rights[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	var out []bcPlanned
	give := func(to causal.NodeID, n int64) {
		n = min(n, mine)
		if n <= 0 || len(out) >= MaxBCounterGifts {
			return
		}
		out = append(out, bcPlanned{to: to, n: n})
		mine -= n
		rights[self] -= n
		rights[to] += n
	}
	// Wants, the neediest first.
	type need struct {
		node causal.NodeID
		n    int64
	}
	var needs []need
	for _, n := range nodes {
		if n == self {
			continue
		}
		if w := g.need(n); w > 0 {
			needs = append(needs, need{n, w})
		}
	}
	slices.SortFunc(needs, func(x, y need) int {
		if c := cmp.Compare(y.n, x.n); c != 0 {
			return c
		}
		return cmp.Compare(x.node, y.node)
	})
	for _, nd := range needs {
		// The part of the need the holders ranked above self cannot cover.
		rest := nd.n
		for _, h := range holders {
			if h == self {
				break
			}
			if h != nd.node {
				rest -= max(0, rights[h])
			}
		}
		give(nd.node, rest)
	}
	// Surplus over the demand-weighted target; none while this node
	// waits for rights itself.
	total := g.value() - g.floor
	if total <= 0 || mine <= 0 || g.need(self) > 0 {
		return out
	}
	demand := func(n causal.NodeID) int64 {
		return int64(g.account(n).dec) + 1
	}
	var weights int64
	for _, n := range nodes {
		weights += demand(n)
	}
	target := func(n causal.NodeID) int64 {
		w := demand(n)
		hi, lo := bits.Mul64(uint64(total), uint64(w))
		q, _ := bits.Div64(hi, lo, uint64(weights)) // w ≤ weights: no overflow
		return int64(q)
	}
	band := total / BCounterHysteresis
	for len(out) < MaxBCounterGifts {
		surplus := min(mine, rights[self]-target(self))
		if surplus <= band || surplus <= 0 {
			break
		}
		var best causal.NodeID
		var deficit int64
		for _, n := range nodes {
			if d := target(n) - rights[n]; n != self && d > deficit {
				best, deficit = n, d
			}
		}
		if deficit <= band {
			break
		}
		before := len(out)
		give(best, min(surplus, deficit))
		if len(out) == before {
			break
		}
	}
	return out
}

// noteBCounter files or drops e's key in the keyspace's bounded-counter
// key set after a change.
func (ks *Keyspace) noteBCounter(e *keyEntry) {
	switch {
	case e.v.bc() != nil:
		if _, ok := ks.bcKeys[e.key]; !ok {
			if ks.bcKeys == nil {
				ks.bcKeys = map[string]struct{}{}
			}
			ks.bcKeys[e.key] = struct{}{}
		}
	case ks.bcKeys != nil:
		delete(ks.bcKeys, e.key)
	}
}

// BCounterKeys returns the keys holding a bounded counter, in bytewise
// order: O(k log k) for k such keys, nothing else scanned.
func (ks *Keyspace) BCounterKeys() [][]byte {
	out := make([][]byte, 0, len(ks.bcKeys))
	for k := range ks.bcKeys {
		out = append(out, []byte(k))
	}
	slices.SortFunc(out, bytes.Compare)
	return out
}

// BCounterRights returns this node's rights at key as the transaction
// sees it, and whether key holds a bounded counter (ErrWrongType if it
// holds another type). It records nothing.
func (b *Builder) BCounterRights(key []byte) (int64, bool, error) {
	b.check()
	kb := b.find(key)
	if kb == nil {
		v := b.ks.Get(key)
		if v == nil || v.Expired(b.txn.Time.WallMs) || v.Type() == TypeNone {
			return 0, false, nil
		}
		if v.Type() != TypeBCounter {
			return 0, false, ErrWrongType
		}
		return v.BCounterRights(b.txn.Dot.Node), true, nil
	}
	switch b.typeView(kb) {
	case TypeNone:
		return 0, false, nil
	case TypeBCounter:
		return b.bcView(kb).rights(b.txn.Dot.Node), true, nil
	}
	return 0, false, ErrWrongType
}
