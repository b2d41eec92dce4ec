package sim

import (
	"testing"

	"github.com/spooksystems/spook/replica"
)

// TestScaleRunWithRegions runs a calm 40-replica cluster in three
// regions (a sparse link table: above DenseReplicasMax, and above
// replica.DefaultOverlayThreshold, so the overlay carries transactions)
// and checks that every checker passes and the figures say what the
// overlay costs: the origin sends about OverlayFanout copies, the cluster
// about one copy per other member, some bytes cross regions, and every
// replica's collapsed cut reaches the writes.
func TestScaleRunWithRegions(t *testing.T) {
	const n = 40
	res := Run(Options{Seed: 3, Replicas: n, Regions: 3, Steps: 200, Calm: true})
	if !res.OK() {
		t.Fatalf("%s\n%s", res.Summary(), res.Report.String())
	}
	f := res.Figures
	t.Logf("%s", &f)
	if f.Updates == 0 || f.Measured == 0 {
		t.Fatalf("no updates measured: %s", &f)
	}
	// The member list names every replica's region, so no replica writes
	// a membership record for it: the only transactions are the updates.
	txns := float64(f.Updates)
	if per := float64(f.OriginSends) / txns; per > replica.DefaultOverlayFanout+1 {
		t.Errorf("origin sends per transaction %.1f, want about %d (the overlay's fanout)", per, replica.DefaultOverlayFanout)
	}
	if per := float64(f.PayloadCopies) / txns; per < n-1 || per > 1.2*(n-1) {
		t.Errorf("payload copies per transaction %.1f, want %d to %.1f", per, n-1, 1.2*(n-1))
	}
	if f.CrossRegionBytes == 0 || f.CrossRegionBytes >= f.Bytes {
		t.Errorf("cross-region bytes %d of %d", f.CrossRegionBytes, f.Bytes)
	}
	if f.ConvergenceTicksP99 < InterRegionLatencyTicks {
		t.Errorf("convergence p99 %d ticks is below the inter-region latency %d", f.ConvergenceTicksP99, InterRegionLatencyTicks)
	}
	if f.CollapseTicksP99 < 0 {
		t.Errorf("some write never collapsed everywhere: %s", &f)
	}
}

// TestScaleRunFullMeshBelowThreshold: a calm 24-replica cluster (at
// most replica.DefaultOverlayThreshold) keeps direct push: the origin
// sends one copy to each other member.
func TestScaleRunFullMeshBelowThreshold(t *testing.T) {
	const n = 24
	res := Run(Options{Seed: 3, Replicas: n, Steps: 150, Calm: true})
	if !res.OK() {
		t.Fatalf("%s\n%s", res.Summary(), res.Report.String())
	}
	f := res.Figures
	if per := f.per(f.OriginSends); per < 0.9*(n-1) || per > n-1 {
		t.Errorf("origin sends per update %.1f, want about %d (full mesh)", per, n-1)
	}
}

// TestScaleRunWithFaults runs 24 replicas (sparse links) with the seed's
// faults, region partitions among them: every checker must pass.
func TestScaleRunWithFaults(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		res := Run(Options{Seed: seed, Replicas: 24, Regions: 2, Steps: 300})
		if !res.OK() {
			t.Fatalf("seed %d: %s\n%s\n%s", seed, res.Params, res.Summary(), res.Report.String())
		}
	}
}

// TestRegionPartitionCutsOneRegion: shape region cuts every link between
// one region and the others, both ways, and nothing else.
func TestRegionPartitionCutsOneRegion(t *testing.T) {
	const n, regions = 9, 3
	g := newRNG(1, streamFaults)
	for range 10 {
		cut := partitionMatrix(g, shapeRegion, n, regions)
		matches := 0
		for region := 0; region < regions; region++ {
			same := true
			for a := 0; a < n; a++ {
				for b := 0; b < n; b++ {
					same = same && cut[a*n+b] == ((a%regions == region) != (b%regions == region))
				}
			}
			if same {
				matches++
			}
		}
		if matches != 1 {
			t.Fatalf("the cut is not one region against the others: %v", cut)
		}
	}
}

// TestScaledParamsKeepTheDefaultSeeds: the default draw is unchanged by
// the scale options, and above ReplicasMax the per-node rates shrink.
func TestScaledParamsKeepTheDefaultSeeds(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		if a, b := drawParams(seed, 0), drawScaledParams(seed, 0, 1, false); a.String() != b.String() {
			t.Fatalf("seed %d: %s\n%s", seed, a, b)
		}
		small, big := drawParams(seed, ReplicasMax), drawScaledParams(seed, 10*ReplicasMax, 0, false)
		if big.CrashRate > small.CrashRate/9 || big.LinkBreakRate > small.LinkBreakRate/99 {
			t.Fatalf("seed %d: rates not scaled: %s\n%s", seed, small, big)
		}
	}
	calm := drawScaledParams(7, 50, 3, true)
	if calm.CrashRate+calm.DropRate+calm.PartitionRate+calm.LinkBreakRate != 0 || calm.KillOne || calm.JoinOne {
		t.Fatalf("calm params draw faults: %s", calm)
	}
}

// TestLargeWritesBoundedAtScale: every large value is copied into each
// node's keyspace and in-memory disk, so the run's cap on large writes
// shrinks with the replica count above DenseReplicasMax: the large-value
// copies a 100-replica run holds are at most those of a 16-replica run.
// (Seed 20 at 100 replicas drew up to LargeWritesMax values of up to
// 8 MiB, 100 copies each, and ran out of memory on a 24 GB machine.) At
// 16 replicas and below the cap, and so the draws, are unchanged; above
// 256 a run draws no large value (one would already cost more copies).
func TestLargeWritesBoundedAtScale(t *testing.T) {
	for _, n := range []int{5, DenseReplicasMax, 17, 100, 1000} {
		p := drawScaledParams(20, n, 3, false)
		if p.LargeValueRate == 0 {
			t.Fatalf("seed 20 at %d replicas draws no large values", n)
		}
		// Every write draws a large value while the run has any left,
		// each as small as large values come.
		p.LargeValueRate, p.ValueBytesMax = 1, LargeValuesMin
		g := newRNG(20, streamWorkload)
		s := newSession(0, 0)
		large := 0
		for step := range 4 * LargeWritesMax {
			drawOp(g, &p, s, step, &large)
		}
		switch {
		case large == 0 && n <= LargeWritesMax*DenseReplicasMax:
			t.Errorf("%d replicas: no large write drawn", n)
		case n <= DenseReplicasMax && large != LargeWritesMax:
			t.Errorf("%d replicas: %d large writes, want LargeWritesMax (%d) as always", n, large, LargeWritesMax)
		case n > DenseReplicasMax && large*n > LargeWritesMax*DenseReplicasMax:
			t.Errorf("%d replicas: %d large writes, %d node copies, want at most %d",
				n, large, large*n, LargeWritesMax*DenseReplicasMax)
		}
	}
}
