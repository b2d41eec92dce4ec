package main

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spooksystems/spook/sim"
)

func init() { register("sim", "run the deterministic simulator", runSim) }

// runSim runs the simulator over a range of seeds and prints one line per
// failing seed (with the command that replays it) and a summary line. It
// returns an error, and so exits non-zero, when any seed failed.
const simHelp = `usage: spook sim [--seeds N] [--steps N] [--seed S] [--replicas R] [--regions K]
                 [--calm] [--figures] [--trace-hash] [-v] [--jobs J]

Runs the deterministic simulator (package sim): the same replica core as
spookd on a simulated network, clocks and disks, with every fault
(partitions, link breaks, pauses, crashes and restarts, clock jumps,
joins, leaves, operator removals) and every client operation drawn from
one seed. Each seed runs a fault phase of --steps steps, then heals and
must converge; the checkers (package check) then verify convergence, no
acknowledged write lost, exact counters, atomic and causal visibility,
session guarantees and collapse. The same seed always gives the same run
(and the same --trace-hash).

Prints one line per failing seed with the command that replays it, then a
summary line; exits 1 when any seed failed. Without --seed a random first
seed is drawn and printed, so any run can be repeated.

Example:
  spook sim --seeds 1000                  # 1000 seeds from a random first one
  spook sim --seed 42 --steps 2000 -v     # replay one seed with its event log
  spook sim --seed 1 --seeds 300 --audit  # the same seeds in audit mode
  spook sim --seed 1 --seeds 100 --forge  # audit mode, write rights and a forging member
  make sim-long                           # 100,000 seeds (about 2 h on 2 cores)
  spook sim --seed 1 --replicas 100 --regions 3 --calm --figures   # per-update costs
  make sim-scale                          # the scale table of docs/BENCHMARKS.md
`

func runSim(args []string) error {
	fs := newFlagSet("sim", simHelp)
	seeds := fs.Int("seeds", 1, "number of seeds to run (consecutive, starting at --seed)")
	steps := fs.Int("steps", sim.DefaultSteps, "fault-phase steps per seed (each step is one tick of every node)")
	seedFlag := fs.Uint64("seed", 0, "first seed; without it a random first seed is drawn and printed")
	replicas := fs.Int("replicas", 0, "replica count (0: drawn from each seed, 3..5)")
	regions := fs.Int("regions", 0, "split the replicas into this many regions (inter-region latency, region partitions)")
	calm := fs.Bool("calm", false, "switch every fault off (latencies stay): the per-update cost of a healthy cluster")
	figures := fs.Bool("figures", false, "print each seed's per-update figures (messages, copies, bytes, convergence, collapse)")
	traceHash := fs.Bool("trace-hash", false, "print each seed's trace hash")
	verbose := fs.Bool("v", false, "log every simulated event (use with one seed)")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "seeds run in parallel")
	auditMode := fs.Bool("audit", false, "run the replicas in audit mode (signed, chained history; docs/audit.md)")
	forge := fs.Bool("forge", false, "audit mode with write rights and a member forging transactions (sim/forge.go)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
	}
	if *seeds < 1 || *steps < 1 || *jobs < 1 {
		return usageErrorf("--seeds, --steps and --jobs must be positive")
	}
	if *replicas != 0 && (*replicas < 2 || *replicas > sim.ReplicasLimit) {
		return usageErrorf("--replicas must be between 2 and %d", sim.ReplicasLimit)
	}
	if *regions < 0 || *regions > sim.RegionsLimit {
		return usageErrorf("--regions must be between 0 and %d", sim.RegionsLimit)
	}
	base := *seedFlag
	seedGiven := false
	fs.Visit(func(f *flag.Flag) { seedGiven = seedGiven || f.Name == "seed" })
	if !seedGiven {
		// The simulation itself never reads time or global randomness; only
		// the choice of which seeds to explore does, and it is printed.
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		base = binary.LittleEndian.Uint64(b[:]) >> 1 // keep room for + seeds
	}
	if *seeds == 1 {
		*jobs = 1
	}

	replay := func(seed uint64) string {
		cmd := fmt.Sprintf("go run ./cmd/spook sim --seed %d --steps %d", seed, *steps)
		if *replicas != 0 {
			cmd += fmt.Sprintf(" --replicas %d", *replicas)
		}
		if *auditMode {
			cmd += " --audit"
		}
		if *forge {
			cmd += " --forge"
		}
		if *regions > 1 {
			cmd += fmt.Sprintf(" --regions %d", *regions)
		}
		if *calm {
			cmd += " --calm"
		}
		return cmd + " -v"
	}

	start := time.Now()
	var (
		mu          sync.Mutex
		failures    int
		totalSteps  int64
		convergence []int
		next        = uint64(0)
	)
	var wg sync.WaitGroup
	for range *jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= uint64(*seeds) {
					mu.Unlock()
					return
				}
				seed := base + next
				next++
				mu.Unlock()

				opts := sim.Options{Seed: seed, Steps: *steps, Replicas: *replicas, Regions: *regions, Calm: *calm, Audit: *auditMode, Forge: *forge}
				if *verbose {
					opts.Log = os.Stdout
				}
				res := sim.Run(opts)

				mu.Lock()
				totalSteps += int64(res.StepsRun)
				if res.ConvergenceTicks >= 0 {
					convergence = append(convergence, res.ConvergenceTicks)
				}
				if *figures {
					fmt.Printf("seed=%d replicas=%d regions=%d ok=%t %s\n", seed, res.Params.Replicas,
						max(1, res.Params.Regions), res.OK(), &res.Figures)
				}
				if *traceHash {
					fmt.Printf("seed=%d trace_hash=%016x events=%d\n", seed, res.TraceHash, res.Events)
				}
				if !res.OK() {
					failures++
					// One line per failing seed: the replay command first,
					// then the first failure.
					fmt.Printf("FAIL seed=%d replay=%q failures=%d checks=%s first: %s\n",
						seed, replay(seed), len(res.Report.Failures)+res.Report.Dropped,
						strings.Join(res.Report.Checks(), ","), res.Report.First())
					if *verbose || *seeds == 1 {
						fmt.Printf("params: %s\nrun: %s\n%s", res.Params, res.Summary(), res.Report.String())
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	elapsed := time.Since(start)
	slices.Sort(convergence)
	fmt.Printf("seeds=%d failures=%d steps=%d first_seed=%d simulated_steps=%d steps_per_s=%.0f convergence_ticks_p50=%d p99=%d max=%d elapsed=%s\n",
		*seeds, failures, *steps, base, totalSteps, float64(totalSteps)/elapsed.Seconds(),
		percentile(convergence, 50), percentile(convergence, 99), percentile(convergence, 100), elapsed.Round(time.Millisecond))
	if failures > 0 {
		return fmt.Errorf("%d of %d seeds failed", failures, *seeds)
	}
	return nil
}

// percentile returns the p-th percentile of sorted values (nearest rank),
// or -1 for none.
func percentile(sorted []int, p int) int {
	if len(sorted) == 0 {
		return -1
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}
