package sim

import (
	"fmt"
	"strings"

	"github.com/spooksystems/spook/limits"
	"github.com/spooksystems/spook/replica"
)

// Named limits and defaults of a run.
const (
	// ReplicasMin and ReplicasMax bound the replica count drawn from the
	// seed when Options.Replicas is zero.
	ReplicasMin = 3
	ReplicasMax = 5
	// ReplicasLimit is the largest count Options.Replicas may ask for.
	// Memory grows with the links used (a full mesh uses n·(n−1), each
	// with its two codecs): about 2 GiB at 1,000 replicas; beyond it the
	// partition matrices (n² bytes) and the full mesh outgrow a small
	// machine.
	ReplicasLimit = 2000
	// DenseReplicasMax is the largest cluster the simulator runs with
	// its dense per-link loops (every link visited every step, a draw
	// per link for breaks): the sequence the default seeds have always
	// had. Larger clusters keep only the links in use and visit only
	// those with frames in flight, and draw link breaks by geometric
	// gaps, so a step costs what the traffic costs, not n².
	DenseReplicasMax = 16
	// RegionsLimit is the largest count Options.Regions may ask for.
	RegionsLimit = 16
	// InterRegionLatencyTicks is added to every frame that crosses a
	// region boundary (Options.Regions > 1): 100 ms one way, the order
	// of a transatlantic link, ten times the default local tick.
	InterRegionLatencyTicks = 10

	// TickMs is the simulated physical time one step (one tick of every
	// node) represents, in milliseconds.
	TickMs = 10

	// DefaultSteps is the length of the fault phase when Options.Steps is zero.
	DefaultSteps = 1000

	// ConvergenceTicksMax is the tick budget after heal: every live replica
	// must have converged (equal state hashes, every acknowledged write
	// applied and collapsed) within this many ticks, or the run fails with
	// a liveness failure. 3,000 ticks is 30 simulated seconds: several
	// suspicion timeouts, digest rounds and repair round trips at the
	// slowest latency a seed can draw.
	ConvergenceTicksMax = 3000

	// LatencyTicksMax caps one frame's network latency.
	LatencyTicksMax = 200
	// PauseTicksMax caps one pause of a node.
	PauseTicksMax = 300
	// DownTicksMax caps how long a crashed node stays down before restart.
	DownTicksMax = 300
	// PartitionTicksMax caps how long one partition lasts.
	PartitionTicksMax = 400
	// ClockSkewMsMax caps a node's initial clock offset. With the jumps
	// (ClockJumpMsMax, clamped to ClockOffsetMsMax) two clocks stay
	// within 50 s, under the replica's default bound on remote clocks
	// (causal.DefaultMaxAheadMs, 60 s); seeds that draw a tighter
	// MaxClockAheadMs exercise the refusal path, and heal resets every
	// clock (NTP comes back), so refused writes become acceptable within
	// the convergence budget.
	ClockSkewMsMax = 20_000
	// ClockJumpMsMax caps one jump of a node's clock (either direction).
	ClockJumpMsMax = 15_000
	// SessionsMax caps the client sessions of a run.
	SessionsMax = 8
	// OpsPerStepMax caps the client operations started in one step.
	OpsPerStepMax = 8

	// LargeValuesMin is the smallest size of a drawn large value: above a
	// snapshot and repair chunk, so one value spans several.
	LargeValuesMin = 2 * limits.MaxSnapshotChunkBytes
	// LargeWritesMax caps the writes with a large value in one run: each
	// costs megabytes on every node, and a few suffice to exceed the
	// chunk, batch and record sizes that the large-value seeds exercise.
	// Above DenseReplicasMax replicas the cap shrinks in proportion
	// (Params.largeWritesMax).
	LargeWritesMax = 16
)

// Partition shapes. A partition blocks the directed links between groups;
// one-way shapes block one direction only.
type shape uint8

const (
	shapeIsolate  shape = iota // one node cut off from all others
	shapeMinority              // a minority cut off from the majority
	shapeRing                  // each node reaches only its ring neighbours
	shapeBridge                // two halves that reach each other only through one node
	shapeOneWay                // a random node's outbound (or inbound) links cut
	shapeCount                 // the shapes every seed draws from (the loop in drawParams)

	// shapeRegion cuts one whole region off from the others, both ways.
	// It is not among the drawn shapes: a run with Options.Regions > 1
	// always adds it, so the default seeds draw what they always drew.
	shapeRegion = shapeCount
)

var shapeNames = [shapeCount + 1]string{"isolate", "minority", "ring", "bridge", "oneway", "region"}

func (s shape) String() string { return shapeNames[s] }

// Params are the fault and workload parameters of one run, all drawn from
// the seed (swarm testing: each seed explores a different mix, and some
// switch a fault kind off entirely). They are printed with the seed so a
// failure report says what the run was doing.
type Params struct {
	Replicas int
	// Regions splits the replicas into regions (node i is in region
	// i mod Regions); frames between regions take
	// InterRegionLatencyTicks more, and partitions may cut a region off.
	// 0 or 1: one region.
	Regions int
	// Calm switches every fault off (Options.Calm): latencies stay, the
	// workload is drawn as usual. The scale figures are taken calm.
	Calm bool

	// Network.
	LatencyMinTicks  int     // every frame takes at least this long
	LatencyMeanTicks float64 // mean of the exponential tail above the minimum
	SpikeRate        float64 // probability a frame is delayed by a long spike
	LinkBreakRate    float64 // per link per step: the session breaks, in-flight frames are lost
	DropRate         float64 // per frame: lost, modelled as a break of its link (TCP)
	// Datagram replaces byte-stream links by datagrams: every message is
	// encoded on its own (a fresh codec), may overtake others, and is
	// duplicated with DuplicateRate. The replica's messages are values
	// that do not assume the order of the stream, so it must cope.
	Datagram      bool
	DuplicateRate float64

	// Partitions.
	PartitionRate     float64 // per step, when none is active
	PartitionTicksAvg float64
	Shapes            []shape // the shapes this seed may draw

	// Node faults.
	PauseRate      float64 // per node per step
	PauseTicksAvg  float64
	CrashRate      float64 // per node per step
	DownTicksAvg   float64
	SyncEveryTicks int  // group commit: records become durable every so many ticks (1 = every tick)
	KillOne        bool // one node crashes for good mid-run and is removed by an operator
	// JoinOne adds a node that is not in the initial membership and joins
	// mid-run (snapshot from a peer, then its membership record); it is
	// subject to every fault once started.
	JoinOne bool
	// LeaveOne has one initial member leave gracefully mid-run: it
	// proposes its departure, runs until every other member shows it as
	// left (so they hold everything it wrote), then stops for good. Its
	// acknowledged writes must survive it.
	LeaveOne bool
	// StorageLog keeps each node's records in package storage's log over
	// its crash-simulating MemFS (torn bytes, real recovery) instead of
	// the faster whole-record model.
	StorageLog bool

	// Clocks.
	ClockSkewMs   int     // offsets drawn from [-ClockSkewMs, +ClockSkewMs]
	ClockJumpRate float64 // per node per step
	// MaxClockAheadMs is the replica's bound on remote clocks; zero keeps
	// the default (60 s). Some seeds draw 10–30 s, which skew and jumps
	// cross, so remote writes get refused until clocks agree again.
	MaxClockAheadMs int

	// Replica limits: zero keeps the replica's defaults; small values
	// force the causal buffer to overflow, the retained log to fall short
	// (catch-up by reconciliation), batches to split and snapshots to
	// travel in many chunks (MaxBatchBytes is also the chunk size).
	MaxPendingTxns  int
	MaxRetainedTxns int
	MaxBatchBytes   int
	// MaxWindowBytes bounds the driver core's pushed bytes in flight per
	// peer; zero keeps the default.
	MaxWindowBytes int

	// Workload.
	Sessions    int
	OpsPerStep  float64 // mean client operations per step during the fault phase
	KeysPerKind int     // key pool per workload kind: small pools mean contention
	MigrateRate float64 // per operation: the session moves to another node
	ReadRate    float64 // fraction of operations that are reads
	TxnRate     float64 // fraction of writes that are multi-key transactions

	// Large values (some seeds): a write's value is large with
	// probability LargeValueRate, drawn from LargeValuesMin up to
	// ValueBytesMax (at most limits.MaxValueBytes, which some seeds
	// draw exactly). A transaction pair with two of them can exceed
	// limits.MaxTxnBytes and must be refused, never acknowledged and
	// lost; states reach tens of MiB, beyond snapshot and repair chunks.
	LargeValueRate float64
	ValueBytesMax  int
	// MaxRetainedBytes (large-value seeds only; zero keeps the default)
	// makes the retained log drop large transactions soon, so lagging
	// members are repaired by reconciliation of large states.
	MaxRetainedBytes int
}

// drawParams draws a run's parameters. replicas > 0 fixes the count.
func drawParams(seed uint64, replicas int) Params {
	return drawScaledParams(seed, replicas, 0, false)
}

// drawScaledParams draws a run's parameters for a cluster of replicas
// (zero: drawn) in regions, faults switched off if calm. Above
// ReplicasMax the per-node fault rates are scaled by ReplicasMax/n and
// the per-link break rate by (ReplicasMax/n)², so the cluster sees the
// faults per step a default-sized one does, not n or n² times as many.
// Nothing here draws more than drawParams always did, so a seed's default
// parameters do not change.
func drawScaledParams(seed uint64, replicas, regions int, calm bool) Params {
	p := drawFaultParams(seed, replicas)
	if n := p.Replicas; n > ReplicasMax {
		f := float64(ReplicasMax) / float64(n)
		p.PauseRate *= f
		p.CrashRate *= f
		p.ClockJumpRate *= f
		p.LinkBreakRate *= f * f
	}
	if regions > 1 {
		p.Regions = regions
		p.Shapes = append(p.Shapes, shapeRegion)
	}
	if calm {
		p.Calm = true
		p.SpikeRate, p.LinkBreakRate, p.DropRate = 0, 0, 0
		p.Datagram, p.DuplicateRate = false, 0
		p.PartitionRate = 0
		p.PauseRate, p.CrashRate, p.ClockJumpRate = 0, 0, 0
		p.ClockSkewMs, p.MaxClockAheadMs = 0, 0
		p.KillOne, p.JoinOne, p.LeaveOne = false, false, false
		p.MaxPendingTxns, p.MaxRetainedTxns, p.MaxBatchBytes, p.MaxWindowBytes = 0, 0, 0, 0
		p.LargeValueRate, p.ValueBytesMax, p.MaxRetainedBytes = 0, 0, 0
	}
	return p
}

// drawFaultParams draws the parameters every seed has drawn since the
// first release, in their order.
func drawFaultParams(seed uint64, replicas int) Params {
	g := newRNG(seed, streamParams)
	p := Params{Replicas: replicas}
	if p.Replicas <= 0 {
		p.Replicas = g.between(ReplicasMin, ReplicasMax)
	}
	p.LatencyMinTicks = g.between(0, 3)
	p.LatencyMeanTicks = 0.5 + 10*g.float()*g.float()
	p.SpikeRate = g.rate(0.0005, 0.02, 0.5)
	p.LinkBreakRate = g.rate(0.0001, 0.005, 0.4)
	p.DropRate = g.rate(0.0005, 0.02, 0.5)
	if g.chance(0.2) {
		p.Datagram = true
		p.DuplicateRate = g.rate(0.001, 0.05, 0.2)
	}

	p.PartitionRate = g.rate(0.001, 0.02, 0.3)
	p.PartitionTicksAvg = float64(g.between(10, 200))
	for s := shape(0); s < shapeCount; s++ {
		if g.chance(0.6) {
			p.Shapes = append(p.Shapes, s)
		}
	}
	if len(p.Shapes) == 0 {
		p.Shapes = []shape{shape(g.intn(int(shapeCount)))}
	}

	p.PauseRate = g.rate(0.0002, 0.005, 0.4)
	p.PauseTicksAvg = float64(g.between(5, 100))
	p.CrashRate = g.rate(0.0001, 0.003, 0.4)
	p.DownTicksAvg = float64(g.between(5, 150))
	p.SyncEveryTicks = g.between(1, 6)
	p.KillOne = g.chance(0.2)
	p.JoinOne = g.chance(0.2)
	p.LeaveOne = g.chance(0.15)
	p.StorageLog = g.chance(0.25)

	p.ClockSkewMs = g.intn(ClockSkewMsMax + 1)
	p.ClockJumpRate = g.rate(0.0001, 0.002, 0.5)
	if g.chance(0.2) {
		p.MaxClockAheadMs = g.between(10_000, 30_000)
	}

	if g.chance(0.3) {
		p.MaxPendingTxns = g.between(4, 256)
		p.MaxRetainedTxns = g.between(8, 512)
		p.MaxBatchBytes = g.between(256, 8192)
		// A flow-control window of a few batches: pushes are dropped
		// and the peers catch up by fetching (no draw: the seed's
		// sequence stays as it was).
		p.MaxWindowBytes = 4 * p.MaxBatchBytes
	}

	p.Sessions = g.between(2, SessionsMax)
	p.OpsPerStep = 0.2 + 3*g.float()
	p.KeysPerKind = g.between(2, 12)
	p.MigrateRate = g.rate(0.001, 0.05, 0.3)
	p.ReadRate = 0.1 + 0.4*g.float()
	p.TxnRate = 0.1 + 0.4*g.float()
	if g.chance(0.025) {
		p.LargeValueRate = g.rate(0.01, 0.03, 0)
		p.ValueBytesMax = limits.MaxValueBytes
		if g.chance(0.5) {
			p.ValueBytesMax = g.between(LargeValuesMin, limits.MaxValueBytes)
		}
		if g.chance(0.7) {
			p.MaxRetainedBytes = g.between(1<<20, 24<<20)
		}
	}
	return p
}

// String prints the parameters on one line, key=value.
func (p Params) String() string {
	var b strings.Builder
	shapes := make([]string, len(p.Shapes))
	for i, s := range p.Shapes {
		shapes[i] = s.String()
	}
	fmt.Fprintf(&b, "replicas=%d", p.Replicas)
	if p.Regions > 1 {
		fmt.Fprintf(&b, " regions=%d+%dticks", p.Regions, InterRegionLatencyTicks)
	}
	if p.Calm {
		b.WriteString(" calm")
	}
	fmt.Fprintf(&b, " latency=%d+exp(%.1f)ticks spike=%.4f break=%.4f drop=%.4f",
		p.LatencyMinTicks, p.LatencyMeanTicks, p.SpikeRate, p.LinkBreakRate, p.DropRate)
	if p.Datagram {
		fmt.Fprintf(&b, " datagram dup=%.4f", p.DuplicateRate)
	}
	fmt.Fprintf(&b, " partition=%.4f/%.0fticks shapes=%s", p.PartitionRate, p.PartitionTicksAvg, strings.Join(shapes, ","))
	fmt.Fprintf(&b, " pause=%.4f/%.0fticks crash=%.4f/%.0fticks sync_every=%dticks kill_one=%t join_one=%t leave_one=%t storage_log=%t",
		p.PauseRate, p.PauseTicksAvg, p.CrashRate, p.DownTicksAvg, p.SyncEveryTicks, p.KillOne, p.JoinOne, p.LeaveOne, p.StorageLog)
	fmt.Fprintf(&b, " skew=±%dms jump=%.4f", p.ClockSkewMs, p.ClockJumpRate)
	if p.MaxClockAheadMs > 0 {
		fmt.Fprintf(&b, " max_clock_ahead=%dms", p.MaxClockAheadMs)
	}
	if p.MaxPendingTxns > 0 {
		fmt.Fprintf(&b, " max_pending=%d max_retained=%d max_batch=%dB", p.MaxPendingTxns, p.MaxRetainedTxns, p.MaxBatchBytes)
		fmt.Fprintf(&b, " max_window=%dB", p.MaxWindowBytes)
	}
	fmt.Fprintf(&b, " sessions=%d ops=%.2f/step keys=%d migrate=%.3f reads=%.2f txns=%.2f",
		p.Sessions, p.OpsPerStep, p.KeysPerKind, p.MigrateRate, p.ReadRate, p.TxnRate)
	if p.LargeValueRate > 0 {
		fmt.Fprintf(&b, " large_values=%.3f/%dB max_retained_bytes=%d", p.LargeValueRate, p.ValueBytesMax, p.MaxRetainedBytes)
	}
	return b.String()
}

// largeWritesMax is the run's cap on writes with a large value:
// LargeWritesMax up to DenseReplicasMax replicas, then
// LargeWritesMax·DenseReplicasMax/Replicas (rounded down, so none above
// 256 replicas). Each large value ends up in every node's keyspace and
// in its in-memory disk (the simulator's records are never compacted),
// so the copies a run holds, the bulk of its memory, are at most those
// of a 16-replica run (256 node copies of a write of up to
// limits.MaxValueBytes, or of two in a transaction pair) whatever the
// replica count: at 100 replicas, the writes of up to 8 MiB that seed 20
// drew took its heap past 24 GB.
func (p *Params) largeWritesMax() int {
	if p.Replicas <= DenseReplicasMax {
		return LargeWritesMax
	}
	return LargeWritesMax * DenseReplicasMax / p.Replicas
}

// region is the region of node i (0 when there is one region).
func (p *Params) region(i int) int {
	if p.Regions <= 1 {
		return 0
	}
	return i % p.Regions
}

// tune applies the drawn replica limits to cfg.
func (p *Params) tune(cfg *replica.Config) {
	cfg.MaxPendingTxns = p.MaxPendingTxns
	cfg.MaxRetainedTxns = p.MaxRetainedTxns
	cfg.MaxBatchBytes = p.MaxBatchBytes
	if p.LargeValueRate == 0 {
		// Small batches come with small snapshot chunks: a join or a
		// repair transfer then takes many chunks, pulled a few at a
		// time. Not with large values: tens of MiB in chunks of a few
		// KiB, a few per round trip, would outlast the convergence
		// budget (production chunks are limits.MaxSnapshotChunkBytes).
		cfg.SnapshotChunkBytes = p.MaxBatchBytes
	}
	cfg.MaxRetainedBytes = p.MaxRetainedBytes
	cfg.MaxClockAheadMs = uint64(p.MaxClockAheadMs)
}
