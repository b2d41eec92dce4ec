package node

import (
	"testing"
	"time"

	"github.com/spooksystems/spook/api/resp"
)

// TestBCounterWantTicks: a want outlives the longest wait of the
// decrement that made it at any tick length, and a configured value
// stands.
func TestBCounterWantTicks(t *testing.T) {
	for _, tick := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second} {
		n := bcounterWantTicks(0, tick)
		if n < 1 || time.Duration(n)*tick <= resp.MaxBCounterWait {
			t.Errorf("tick %v: %d ticks, not past MaxBCounterWait %v", tick, n, resp.MaxBCounterWait)
		}
	}
	if n := bcounterWantTicks(0, DefaultTickInterval); n != 100 {
		t.Errorf("default tick: %d ticks, want 100 (replica.DefaultBCounterWantTicks)", n)
	}
	if n := bcounterWantTicks(-1, DefaultTickInterval); n != -1 {
		t.Errorf("configured -1 became %d", n)
	}
}
