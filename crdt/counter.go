package crdt

import (
	"math"
	"math/bits"
	"slices"

	"github.com/spooksystems/spook/causal"
)

// counterNode is one node's part of a counter.
//
// (k, sum): k is the counter of the node's latest transaction that
// incremented this counter, sum the node's cumulative signed sum of its
// increments at that point. (kr, sumr): the latest (k, sum) of this node a
// clear (DEL, SET, overwrite) observed. The node contributes sum − sumr
// while k > kr, and nothing once a clear saw its latest increment.
//
// Both pairs join by max of k: a node numbers its own transactions, so the
// sum at a given k is unique (ties between hostile inputs are broken by the
// larger sum so the join stays commutative). Invariant: kr ≤ k.
type counterNode struct {
	node causal.NodeID
	k    uint64
	sum  int64
	kr   uint64
	sumr int64
}

// live reports whether the node contributes to the value.
func (n *counterNode) live() bool { return n.k > n.kr }

// counter is a PN counter of int64 with observed resets. nodes is sorted
// by node and never empty while the component is present.
type counter struct {
	nodes []counterNode
}

// counterDelta is the delta of one increment: the incrementing node, the
// counter of its transaction and its new cumulative sum. On the wire only
// sum is written; node and k are the transaction's dot.
type counterDelta struct {
	node causal.NodeID
	k    uint64
	sum  int64
}

// counterReset is one node's observed (k, sum) carried by a clear.
type counterReset struct {
	node causal.NodeID
	k    uint64
	sum  int64
}

func (c *counter) find(n causal.NodeID) (int, bool) {
	return slices.BinarySearchFunc(c.nodes, n, func(e counterNode, n causal.NodeID) int {
		switch {
		case e.node < n:
			return -1
		case e.node > n:
			return 1
		}
		return 0
	})
}

// live reports whether some node contributes: the counter is visible.
func (c *counter) live() bool {
	for i := range c.nodes {
		if c.nodes[i].live() {
			return true
		}
	}
	return false
}

// value is the exact sum over live nodes of sum − sumr, in 128 bits so
// concurrent increments past int64 are detected rather than wrapped.
func (c *counter) value() int128 {
	var v int128
	for i := range c.nodes {
		if n := &c.nodes[i]; n.live() {
			v.add(n.sum)
			v.sub(n.sumr)
		}
	}
	return v
}

// sumOf returns node n's cumulative sum (0 if it never incremented). A
// node's next increment continues from it, across resets.
func (c *counter) sumOf(n causal.NodeID) int64 {
	if c == nil {
		return 0
	}
	if i, ok := c.find(n); ok {
		return c.nodes[i].sum
	}
	return 0
}

// incrementDelta makes the delta of node's increment by `by` in the
// transaction with counter k. It returns ErrOverflow if the node's
// cumulative sum or the visible value would leave int64. c may be nil (a
// new counter). This is the counter's fast path together with join.
func (c *counter) incrementDelta(node causal.NodeID, k uint64, by int64) (counterDelta, error) {
	var sum int64
	var cur int128
	if c != nil {
		sum = c.sumOf(node)
		cur = c.value()
	}
	next, ok := addInt64(sum, by)
	if !ok {
		return counterDelta{}, ErrOverflow
	}
	cur.add(by)
	if _, ok := cur.int64(); !ok {
		return counterDelta{}, ErrOverflow
	}
	return counterDelta{node: node, k: k, sum: next}, nil
}

// increment joins an increment delta: the node's entry becomes (k, sum)
// if k is later than what it holds.
func (c *counter) increment(d counterDelta) {
	i, ok := c.find(d.node)
	if !ok {
		c.nodes = slices.Insert(c.nodes, i, counterNode{node: d.node, k: d.k, sum: d.sum})
		return
	}
	n := &c.nodes[i]
	if d.k > n.k || (d.k == n.k && d.sum > n.sum) {
		n.k, n.sum = d.k, d.sum
	}
}

// reset joins an observed reset. The observed (k, sum) was the node's
// entry at the clearing writer, so it is joined into the entry too: that
// keeps kr ≤ k even for a reset that arrives by a partial state join.
func (c *counter) reset(r counterReset) {
	c.increment(counterDelta(r))
	i, _ := c.find(r.node)
	n := &c.nodes[i]
	if r.k > n.kr || (r.k == n.kr && r.sum > n.sumr) {
		n.kr, n.sumr = r.k, r.sum
	}
}

// observedResets appends the resets a clear of c must carry: the entry of
// every live node (entries already reset were reset at every receiver).
func (c *counter) observedResets(dst []counterReset) []counterReset {
	if c == nil {
		return dst
	}
	for i := range c.nodes {
		if n := &c.nodes[i]; n.live() {
			dst = append(dst, counterReset{node: n.node, k: n.k, sum: n.sum})
		}
	}
	return dst
}

// join joins o into c: per node, max of the entry and max of the reset.
func (c *counter) join(o *counter) {
	for i := range o.nodes {
		n := &o.nodes[i]
		c.increment(counterDelta{node: n.node, k: n.k, sum: n.sum})
		if n.kr > 0 {
			c.reset(counterReset{node: n.node, k: n.kr, sum: n.sumr})
		}
	}
}

// addInt64 returns a+b and whether it did not overflow.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// int128 is a signed 128-bit accumulator: hi is the high word (two's
// complement), lo the low word.
type int128 struct {
	hi int64
	lo uint64
}

func (a *int128) add(x int64) {
	lo, carry := bits.Add64(a.lo, uint64(x), 0)
	a.lo = lo
	a.hi += int64(carry) + (x >> 63)
}

func (a *int128) sub(x int64) {
	lo, borrow := bits.Sub64(a.lo, uint64(x), 0)
	a.lo = lo
	a.hi = a.hi - int64(borrow) - (x >> 63)
}

// int64 returns the value and whether it fits in int64.
func (a int128) int64() (int64, bool) {
	switch {
	case a.hi == 0 && a.lo <= math.MaxInt64:
		return int64(a.lo), true
	case a.hi == -1 && a.lo > math.MaxInt64:
		return int64(a.lo), true
	}
	return 0, false
}

// saturate returns the value clamped to int64.
func (a int128) saturate() int64 {
	if v, ok := a.int64(); ok {
		return v
	}
	if a.hi < 0 {
		return math.MinInt64
	}
	return math.MaxInt64
}
