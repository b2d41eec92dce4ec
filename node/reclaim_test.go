package node

import (
	"testing"

	"github.com/spooksystems/spook/causal"
)

// TestReclaimRule: the deadline's writer reclaims at once; if it is gone,
// only the smallest alive member does, and only after the grace period.
func TestReclaimRule(t *testing.T) {
	alive := map[causal.NodeID]bool{1: true, 2: true, 3: true}
	const grace, d = 1000, 5000
	cases := []struct {
		name        string
		self, owner causal.NodeID
		now         uint64
		want        bool
	}{
		{"owner at the deadline", 2, 2, d, true},
		{"other member, owner alive", 1, 2, d + 10*grace, false},
		{"smallest alive, owner gone, in grace", 1, 9, d + grace - 1, false},
		{"smallest alive, owner gone, after grace", 1, 9, d + grace, true},
		{"not the smallest, owner gone", 3, 9, d + 10*grace, false},
	}
	for _, c := range cases {
		if got := reclaims(c.self, c.owner, alive, 1, d, grace, c.now); got != c.want {
			t.Errorf("%s: reclaims = %v, want %v", c.name, got, c.want)
		}
	}
}
