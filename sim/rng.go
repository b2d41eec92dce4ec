package sim

import (
	"math"
	"math/rand/v2"
)

// rng is the simulator's source of every random choice. It is a PCG
// stream seeded from the run's seed and a stream label, so the workload,
// the network and the fault injector draw from independent streams: a
// change in how often the workload draws does not shift every fault.
// Never seeded from time.
type rng struct {
	r *rand.Rand
}

// Stream labels: the second PCG seed word of each independent stream.
const (
	streamParams   = 0x7061_7261_6d73_0001 // swarm parameters
	streamNetwork  = 0x6e65_7477_6f72_6b02 // latencies, drops, duplicates
	streamFaults   = 0x6661_756c_7473_0003 // partitions, pauses, crashes, clocks
	streamWorkload = 0x776f_726b_6c6f_6104 // client operations
	streamReplica  = 0x7265_706c_6963_6105 // seeds handed to replicas
	streamDisk     = 0x6469_736b_0000_0006 // torn writes at a crash
)

func newRNG(seed, stream uint64) *rng {
	return &rng{r: rand.New(rand.NewPCG(seed, stream))}
}

// intn returns a uniform int in [0, n); n ≤ 0 returns 0.
func (g *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return g.r.IntN(n)
}

// between returns a uniform int in [lo, hi].
func (g *rng) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + g.r.IntN(hi-lo+1)
}

// chance reports true with probability p.
func (g *rng) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	return g.r.Float64() < p
}

// float returns a uniform float64 in [0, 1).
func (g *rng) float() float64 { return g.r.Float64() }

// uint64 returns 64 random bits.
func (g *rng) uint64() uint64 { return g.r.Uint64() }

// exp returns an exponentially distributed int with the given mean,
// capped at limit: the shape of network latency and pause lengths.
func (g *rng) exp(mean float64, limit int) int {
	if mean <= 0 {
		return 0
	}
	v := g.r.ExpFloat64() * mean
	if v >= float64(limit) || math.IsInf(v, 0) {
		return limit
	}
	return int(v)
}

// rate draws a per-step probability log-uniformly between lo and hi, or
// zero with probability pOff: swarm testing switches whole fault kinds off
// in some seeds so the interactions of the remaining ones get exercised.
func (g *rng) rate(lo, hi, pOff float64) float64 {
	if g.chance(pOff) {
		return 0
	}
	return lo * math.Pow(hi/lo, g.float())
}
