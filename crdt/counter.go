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
		return cmpNode(e.node, n)
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

// value is the exact sum of the nodes' contributions, in 128 bits so
// concurrent increments past int64 are detected rather than wrapped.
func (c *counter) value() int128 {
	var v int128
	for i := range c.nodes {
		v.add(c.nodes[i].contribution())
	}
	return v
}

// contribution is the entry's part of the value: sum − sumr while live.
// Cumulative sums wrap (two's complement) on purpose: a sum is only ever
// read relative to the node's reset, and plan keeps every contribution
// within int64, so the wrapped difference is exact. A node's history
// before a clear therefore never limits what it can add after it.
func (n *counterNode) contribution() int64 {
	if !n.live() {
		return 0
	}
	return n.sum - n.sumr
}

// counterPlan is how node records an increment: its new cumulative sum,
// the visible value after the increment, and whether the other nodes'
// live entries must be reset in the same transaction (rebase).
type counterPlan struct {
	sum    int64
	value  int64
	rebase bool
}

// plan computes node's increment of c (as the transaction sees it; nil
// for a new counter) by start+by, start being a converted register's
// value. The only error is ErrOverflow, when the visible value would leave
// int64: the check is on what a client can read, never on hidden history.
//
// Normally the node's contribution grows by start+by. If that would leave
// int64 while the value does not (other nodes hold large opposite
// contributions), the increment rebases: it resets every other live node
// it observed and takes the whole value as its own contribution. That is
// the same value, and concurrent increments it did not observe survive as
// they would have. The new sum is the node's reset sum plus its new
// contribution, wrapping.
func (c *counter) plan(node causal.NodeID, start, by int64) (counterPlan, error) {
	var cur, own int128
	var base int64
	if c != nil {
		// One pass for the value and the node's own entry: value is
		// O(nodes) anyway, and a search would cost as much again.
		for i := range c.nodes {
			n := &c.nodes[i]
			x := n.contribution()
			cur.add(x)
			if n.node == node {
				own.add(x)
				base = n.sumr
			}
		}
	}
	cur.add(start)
	cur.add(by)
	own.add(start)
	own.add(by)
	value, ok := cur.int64()
	if !ok {
		return counterPlan{}, ErrOverflow
	}
	p := counterPlan{value: value}
	target, ok := own.int64()
	if !ok {
		target, p.rebase = value, true
	}
	p.sum = base + target
	return p, nil
}

// rebaseResets merges into resets (sorted by node) a reset of every live
// entry of c except node's own: the resets of a rebasing increment.
func (c *counter) rebaseResets(resets []counterReset, node causal.NodeID) []counterReset {
	for i := range c.nodes {
		n := &c.nodes[i]
		if !n.live() || n.node == node {
			continue
		}
		r := counterReset{node: n.node, k: n.k, sum: n.sum}
		j, found := slices.BinarySearchFunc(resets, n.node, func(e counterReset, id causal.NodeID) int {
			return cmpNode(e.node, id)
		})
		if found {
			resets[j] = r
		} else {
			resets = slices.Insert(resets, j, r)
		}
	}
	return resets
}

func cmpNode(a, b causal.NodeID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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
