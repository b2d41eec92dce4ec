package replica

import (
	"fmt"
	"maps"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// MaxBCounterRebalanceKeys bounds the bounded-counter keys one Tick runs
// the transfer policy on (crdt.Builder.BCounterRebalance), all in one
// transaction; the next Tick goes on from the key after the last one, so
// k keys are each visited every ⌈k/MaxBCounterRebalanceKeys⌉ ticks. It
// also bounds the wants one Tick withdraws (the rest wait for the next).
const MaxBCounterRebalanceKeys = 64

// DefaultBCounterWantTicks is Config.BCounterWantTicks' default: 100
// ticks, one second at the node's default 10-ms tick, twice the
// 500 ms a BCOUNTER.DECRBY waits (the node derives its own from its tick
// length).
const DefaultBCounterWantTicks = 100

// bcWantSeen is an unmet want of this node at one key, as tickBCounters
// last saw it: the rights still asked for, and the tick from which the
// node has asked for at least that much.
type bcWantSeen struct {
	need  int64
	since uint64
}

// tickBCounters moves this node's bounded-counter rights where the
// policy says (answering wants, then toward demand), and withdraws this
// node's wants that stayed unmet for Config.BCounterWantTicks: one
// transaction, or nothing when no key asks for any. A failure is not an
// error of the tick: the gifts and withdrawals wait for the next one.
func (r *Replica) tickBCounters() {
	if r.state != NodeMember || r.cfg.BCounterRebalanceTicks < 0 || r.tick%uint64(r.cfg.BCounterRebalanceTicks) != 0 {
		return
	}
	keys := r.ks.BCounterKeys()
	if len(keys) == 0 {
		clear(r.bcWants)
		return
	}
	start := 0
	for start < len(keys) && string(keys[start]) <= r.bcCursor && r.bcCursor != "" {
		start++
	}
	if start == len(keys) {
		start = 0
	}
	n := min(len(keys), MaxBCounterRebalanceKeys)
	batch := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		batch = append(batch, keys[(start+i)%len(keys)])
	}
	r.bcCursor = string(batch[len(batch)-1])
	withdraw := r.expiredBCounterWants(batch)
	if r.checkOwnDots() != nil {
		return
	}
	_, _ = r.propose(func(b *crdt.Builder) error {
		// Withdrawals first: a node that asks for rights gives no
		// surplus, so the policy below sees the want gone.
		for _, k := range withdraw {
			_, _ = b.BCounterWithdraw(k)
		}
		for _, k := range batch {
			if IsInternalKey(k) {
				continue
			}
			// A key whose gifts fail (a limit) leaves the builder as it
			// was; the others still go.
			_, _ = b.BCounterRebalance(k)
		}
		return nil
	}, false)
}

// expiredBCounterWants updates the wants this node is seen to have (the
// ones it knows of, and new ones among batch, the keys this tick visits)
// and returns the keys, in bytewise order and at most
// MaxBCounterRebalanceKeys, whose want has been unmet for
// Config.BCounterWantTicks: the decrement that made it has given up by
// then (resp.MaxBCounterWait), and a need left standing would draw rights
// away from the nodes that use them. A want that grows (asked again,
// for more) starts its time again; one partly answered keeps it. With
// BCounterWantTicks negative it returns nothing.
//
// The tick notices a new want when the rotation visits its key, so a
// want is withdrawn between BCounterWantTicks and BCounterWantTicks +
// ⌈k/MaxBCounterRebalanceKeys⌉ ticks after it was made, for k
// bounded-counter keys. The tracking is in memory only: after a restart
// an unmet want is withdrawn BCounterWantTicks after the restart.
func (r *Replica) expiredBCounterWants(batch [][]byte) [][]byte {
	if r.cfg.BCounterWantTicks < 0 {
		return nil
	}
	if r.bcWants == nil {
		r.bcWants = map[string]bcWantSeen{}
	}
	for _, k := range batch {
		if _, ok := r.bcWants[string(k)]; ok || IsInternalKey(k) {
			continue
		}
		if need := r.ks.Get(k).BCounterNeed(r.id); need > 0 {
			r.bcWants[string(k)] = bcWantSeen{need: need, since: r.tick}
		}
	}
	var out [][]byte
	for _, k := range slices.Sorted(maps.Keys(r.bcWants)) {
		w := r.bcWants[k]
		need := r.ks.Get([]byte(k)).BCounterNeed(r.id)
		switch {
		case need == 0: // answered, withdrawn, or the key is gone
			delete(r.bcWants, k)
		case need > w.need: // asked again for more: a new want
			r.bcWants[k] = bcWantSeen{need: need, since: r.tick}
		case r.tick-w.since >= uint64(r.cfg.BCounterWantTicks) && len(out) < MaxBCounterRebalanceKeys:
			out = append(out, []byte(k))
		default:
			r.bcWants[k] = bcWantSeen{need: need, since: w.since}
		}
	}
	return out
}

// holdOverdrawn keeps a remote transaction out of the keyspace while a
// bounded-counter operation in it takes more rights than its writer
// holds as this replica sees them (crdt.Txn.BCounterOverdrawn), in audit
// mode, where a transaction's writer is authenticated. An honest writer's
// transaction never is (the Builder checked its rights on its causal
// past, which this replica holds, and anything else can only have given
// it more), so only a compromised member's can be. It waits in the
// causal buffer until gifts cover it (drainPending checks again), and is
// never applied if nothing does; its origin's later transactions wait
// behind it. It reports whether the transaction was held (or dropped: the
// buffer full), raising EventRightsRefused once, when first held.
func (r *Replica) holdOverdrawn(from causal.NodeID, e txnEntry, drop *dropCount) bool {
	key, rights, takes, over := e.txn.BCounterOverdrawn(r.ks)
	if !over {
		return false
	}
	if r.buffer(e, drop) {
		r.refuseRights(from, e.txn.Dot, fmt.Errorf("%w: bounded counter %s: %s holds %d rights here, the transaction takes %d: held until rights cover it",
			ErrNoRights, quoteKey(key), e.txn.Dot.Node, rights, takes))
	}
	return true
}
