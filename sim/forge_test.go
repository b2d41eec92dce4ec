package sim

import "testing"

// TestForgingMember: with write rights on and a member forging
// transactions (outside its rights, and under another member's dot with
// its own key) and holding forged state that its peers repair from,
// every seed passes every check (no forged write or state is ever
// applied on any correct replica, no honest transaction refused),
// forgeries are sent and refused, repairs carrying the forged state are
// refused, and a run stays a function of its seed.
func TestForgingMember(t *testing.T) {
	forged, refused, repairs := 0, 0, 0
	for seed := uint64(1); seed <= 6; seed++ {
		res := Run(Options{Seed: seed, Steps: 600, Forge: true})
		if !res.OK() {
			t.Fatalf("seed %d: %s", seed, res.Report.String())
		}
		forged += res.Forged
		refused += res.Refused
		repairs += res.RepairsRefused
		if seed == 1 {
			if again := Run(Options{Seed: seed, Steps: 600, Forge: true}); again.TraceHash != res.TraceHash {
				t.Fatalf("seed 1: trace hash %x then %x", res.TraceHash, again.TraceHash)
			}
		}
	}
	if forged == 0 || refused == 0 || repairs == 0 {
		t.Fatalf("forged %d, refused %d, repairs refused %d: the forging member did nothing", forged, refused, repairs)
	}
	t.Logf("forged %d transactions, %d refusals, %d of them repairs", forged, refused, repairs)
}
