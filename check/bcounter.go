package check

import (
	"github.com/spooksystems/spook/causal"
)

// BCounters checks every bounded counter of every state at one step:
//
//   - value ≥ floor;
//   - rights(n) ≥ 0 for every node n with an account or the creator: no
//     node took (decremented or gave) more than it held, which is what
//     "no decrement acknowledged without rights" means on a replica that
//     holds the decrement;
//   - Σ rights = value − floor (the accounting identity; a failure is an
//     arithmetic defect, not a coordination one).
//
// It reports at most one failure per state and key.
func BCounters(rep *Report, step int, states []State) {
	for _, st := range states {
		ks := st.Keyspace
		for _, key := range ks.BCounterKeys() {
			v := ks.Get(key)
			c, ok := v.BCounter()
			if !ok {
				continue
			}
			var sum int64
			var bad causal.NodeID
			var badRights int64
			v.BCounterNodes(func(n causal.NodeID, r int64) bool {
				sum += r
				if r < 0 && bad == 0 {
					bad, badRights = n, r
				}
				return true
			})
			switch {
			case c.Value < c.Floor:
				rep.Addf(CheckBCounter, "step %d: %s: %q value %d below floor %d", step, st.Name, key, c.Value, c.Floor)
			case bad != 0:
				rep.Addf(CheckBCounter, "step %d: %s: %q rights of %v are %d", step, st.Name, key, bad, badRights)
			case sum != c.Value-c.Floor:
				rep.Addf(CheckBCounter, "step %d: %s: %q rights sum to %d, value − floor is %d", step, st.Name, key, sum, c.Value-c.Floor)
			}
		}
	}
}
