package sim

import (
	"testing"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/check"
)

// TestBCounterWorkloadExercised runs a seed and checks that its bounded
// counters were really used: decrements from several nodes, rights moved
// between nodes, and the checker holding at the end. It proves the
// bcounter checker judges real output, not empty keys.
func TestBCounterWorkloadExercised(t *testing.T) {
	s := newSimulator(Options{Seed: 3, Steps: 600})
	s.run()
	if !s.res.OK() {
		t.Fatalf("seed 3: %s", s.res.Report.String())
	}
	states := s.finalStates()
	if len(states) == 0 {
		t.Fatal("no final state")
	}
	ks := states[0].Keyspace
	keys, decrementers, moved := 0, 0, false
	for _, k := range ks.BCounterKeys() {
		v := ks.Get(k)
		c, ok := v.BCounter()
		if !ok {
			continue
		}
		keys++
		v.BCounterNodes(func(n causal.NodeID, r int64) bool {
			if n != c.Creator && r > 0 {
				moved = true
			}
			return true
		})
		if c.Value < c.Initial {
			decrementers++
		}
	}
	if keys == 0 || decrementers == 0 || !moved {
		t.Fatalf("bounded counters not exercised: %d keys, %d decremented, rights moved %v", keys, decrementers, moved)
	}
	var rep check.Report
	check.BCounters(&rep, s.step, states)
	if len(rep.Failures) != 0 {
		t.Fatal(rep.First())
	}
}
