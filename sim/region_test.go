package sim

import (
	"testing"

	"github.com/spooksystems/spook/causal"
)

// TestRegionRunsCheckRegionCollapse: seeds with regions and faults pass
// every checker, and the region collapse check judged region cuts that
// ran ahead of what every node had applied.
func TestRegionRunsCheckRegionCollapse(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		s := newSimulator(Options{Seed: seed, Replicas: 6, Regions: 2, Steps: 400})
		s.run()
		if !s.res.OK() {
			t.Fatalf("seed %d: %s", seed, s.res.Report.String())
		}
		if s.region.advanced == 0 {
			t.Fatalf("seed %d: no region cut ran ahead of the up nodes (%d checked)", seed, s.region.checks)
		}
	}
}

// TestRegionCutOffKeepsWorking cuts region r1 (nodes n1, n3, n5) off
// from r2 for 300 steps under load: writes in r1 collapse in r1 while
// the cluster cut stays behind them, and after the heal the cluster
// converges, every checker passes, and the bytes sent to reconcile are
// compared with the transactions the two sides lacked.
func TestRegionCutOffKeepsWorking(t *testing.T) {
	const idleSteps, loadSteps, cutSteps = 50, 50, 300
	s := newSimulator(Options{Seed: 11, Replicas: 6, Regions: 2, Calm: true, Steps: idleSteps + loadSteps + cutSteps})
	for _, n := range s.nodes {
		if !s.start(n) {
			t.Fatal(s.res.Report.String())
		}
	}
	steps := func(k int, load bool) {
		for i := 0; i < k; i++ {
			if load {
				s.workload()
			}
			s.advance()
			s.step++
		}
	}
	steps(idleSteps, false)
	idleBytesPerStep := float64(s.meter.f.Bytes) / idleSteps
	steps(loadSteps, true)

	n := len(s.nodes)
	cut := make([]bool, n*n)
	for a := 0; a < n; a++ {
		for b := 0; b < n; b++ {
			cut[a*n+b] = s.p.region(a) != s.p.region(b)
		}
	}
	cutAt := s.step
	s.links.partition(cut, func(l *link) { s.breakLink(l) })
	s.partitionUntil = cutAt + cutSteps
	steps(cutSteps, true)

	// r1 kept working: some write proposed in r1 during the cut is below
	// n1's region cut and not below its cluster cut.
	n1 := s.nodes[0]
	regionCut, clusterCut := n1.r.RegionCollapsedVector(), n1.r.CollapsedVector()
	local := 0
	for _, w := range s.hist.Writes {
		if i, ok := s.byID[w.Dot.Node]; ok && w.Step >= cutAt && s.p.region(i) == 0 &&
			regionCut.Contains(w.Dot) && !clusterCut.Contains(w.Dot) {
			local++
		}
	}
	if local == 0 {
		t.Fatalf("no write of r1 during the cut collapsed in r1 (region cut %v, cluster cut %v)", regionCut, clusterCut)
	}

	// The difference: each side's transactions the other lacks, times
	// the nodes lacking them, in encoded bytes.
	appliedOf := func(region int) causal.VersionVector {
		for i, nd := range s.nodes {
			if s.p.region(i) == region {
				return nd.r.Applied()
			}
		}
		return causal.VersionVector{}
	}
	a1, a2 := appliedOf(0), appliedOf(1)
	var diffTxns, diffBytes int64
	for _, w := range s.hist.Writes {
		if w.Txn == nil {
			continue
		}
		in1, in2 := a1.Contains(w.Dot), a2.Contains(w.Dot)
		if in1 != in2 {
			diffTxns++
			diffBytes += int64(len(w.Txn.AppendBinary(nil))) * int64(n/2) // n/2 nodes on the other side
		}
	}

	before, beforeCross := s.meter.f.Bytes, s.meter.f.CrossRegionBytes
	s.heal()
	healTicks := 0
	for ; healTicks < ConvergenceTicksMax && !s.converged(); healTicks++ {
		s.advance()
		s.step++
	}
	if !s.converged() {
		t.Fatalf("not converged %d ticks after the heal: %s", healTicks, s.notConverged())
	}
	s.res.ConvergenceTicks = healTicks
	s.finish()
	if !s.res.OK() {
		t.Fatal(s.res.Report.String())
	}
	reconcile := float64(s.meter.f.Bytes-before) - idleBytesPerStep*float64(healTicks)
	t.Logf("region cut off for %d steps: %d writes collapsed in r1 meanwhile; difference %d txns, %d bytes to deliver; "+
		"after heal %d ticks to converge, %d bytes sent (%d across regions), %.0f above idle: %.2f× the difference",
		cutSteps, local, diffTxns, diffBytes, healTicks, s.meter.f.Bytes-before, s.meter.f.CrossRegionBytes-beforeCross,
		reconcile, reconcile/float64(max(diffBytes, 1)))
	if diffTxns == 0 {
		t.Fatal("the two sides did not differ: the test measured nothing")
	}
	// Catch-up ships what each side lacks, and little else: the bytes
	// above idle stay within twice the difference (link dictionaries make
	// them smaller than the transactions' own encoding).
	if reconcile > 2*float64(diffBytes) {
		t.Fatalf("%.0f bytes to reconcile a difference of %d bytes", reconcile, diffBytes)
	}
}
