package replica

import (
	"github.com/spooksystems/spook/crdt"
)

// MaxBCounterRebalanceKeys bounds the bounded-counter keys one Tick runs
// the transfer policy on (crdt.Builder.BCounterRebalance), all in one
// transaction; the next Tick goes on from the key after the last one, so
// k keys are each visited every ⌈k/MaxBCounterRebalanceKeys⌉ ticks.
const MaxBCounterRebalanceKeys = 64

// tickBCounters moves this node's bounded-counter rights where the
// policy says (answering wants, then toward demand): one transaction of
// gifts, or nothing when no key asks for any. A failure is not an error
// of the tick: the gifts wait for the next one.
func (r *Replica) tickBCounters() {
	if r.state != NodeMember || r.cfg.BCounterRebalanceTicks < 0 || r.tick%uint64(r.cfg.BCounterRebalanceTicks) != 0 {
		return
	}
	keys := r.ks.BCounterKeys()
	if len(keys) == 0 {
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
	if r.checkOwnDots() != nil {
		return
	}
	_, _ = r.propose(func(b *crdt.Builder) error {
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
