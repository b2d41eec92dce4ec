package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func init() {
	register("bench", "load a node over the Redis protocol and report throughput and latency", runBench)
}

const benchHelp = `usage: spook bench [--addr HOST:PORT] [--workload set|incr|mixed] [--clients N] [--pipeline P] [--duration D | --ops N]

Drives one node over RESP, as an application would, and prints throughput
and latency. Workloads: set (16-byte keys, 32-byte values over 100,000
keys), incr (1,000 counters), mixed (80% GET, 20% SET). Each client keeps
--pipeline commands in flight per round trip. The run stops after
--duration or --ops, whichever comes first.

For the side-by-side comparison with Redis, etcd and NATS, use the
harness: make bench (or make bench-quick).

Example:
  spook bench --addr 127.0.0.1:7001 --workload set --clients 16 --pipeline 16 --duration 5s
  set: 16 clients × pipeline 16, 5.0s: 412,345 ops/s; per round trip p50 0.61 ms p99 2.3 ms p99.9 4.1 ms
`

// Bounds on spook bench's inputs.
const (
	MaxBenchClients  = 1024
	MaxBenchPipeline = 1024
	MaxBenchDuration = 10 * time.Minute
)

func runBench(args []string) error {
	fs := newFlagSet("bench", benchHelp)
	addr := fs.String("addr", DefaultAddr, "the node's address")
	workload := fs.String("workload", "set", "set, incr or mixed")
	clients := fs.Int("clients", 16, "concurrent connections")
	pipeline := fs.Int("pipeline", 16, "commands per round trip")
	duration := fs.Duration("duration", 5*time.Second, "how long to run")
	ops := fs.Int64("ops", 0, "stop after this many commands (0: no limit)")
	password := fs.String("password", "", "AUTH password, if the node requires one")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	switch {
	case *clients < 1 || *clients > MaxBenchClients:
		return fmt.Errorf("--clients %d: give 1 to %d", *clients, MaxBenchClients)
	case *pipeline < 1 || *pipeline > MaxBenchPipeline:
		return fmt.Errorf("--pipeline %d: give 1 to %d", *pipeline, MaxBenchPipeline)
	case *duration <= 0 || *duration > MaxBenchDuration:
		return fmt.Errorf("--duration %v: give up to %v", *duration, MaxBenchDuration)
	case *workload != "set" && *workload != "incr" && *workload != "mixed":
		return fmt.Errorf("--workload %q: give set, incr or mixed", *workload)
	}
	r, err := bench(benchOptions{addr: *addr, workload: *workload, clients: *clients, pipeline: *pipeline,
		duration: *duration, ops: *ops, password: *password})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r)
	return nil
}

type benchOptions struct {
	addr, workload, password string
	clients, pipeline        int
	duration                 time.Duration
	ops                      int64
}

type benchResult struct {
	opts           benchOptions
	ops            int64
	elapsed        time.Duration
	p50, p99, p999 time.Duration
}

func (r benchResult) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("%s: %d clients × pipeline %d, %.1fs: %.0f ops/s; per round trip p50 %s p99 %s p99.9 %s",
		r.opts.workload, r.opts.clients, r.opts.pipeline, r.elapsed.Seconds(),
		float64(r.ops)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), ms(r.p999))
}

// bench runs the load and measures each pipelined round trip.
func bench(o benchOptions) (benchResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	value := make([]byte, 32)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var mu sync.Mutex
	var total int64
	var rtts []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := redis.NewClient(&redis.Options{Addr: o.addr, Password: o.password, Protocol: 2, PoolSize: 1, MaxRetries: -1})
			defer cl.Close()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var local []time.Duration
			for ctx.Err() == nil {
				mu.Lock()
				if o.ops > 0 && total >= o.ops {
					mu.Unlock()
					break
				}
				total += int64(o.pipeline)
				mu.Unlock()
				p := cl.Pipeline()
				for i := 0; i < o.pipeline; i++ {
					switch {
					case o.workload == "incr":
						p.Incr(ctx, fmt.Sprintf("counter:%d", rng.IntN(1000)))
					case o.workload == "mixed" && rng.IntN(5) != 0:
						p.Get(ctx, fmt.Sprintf("key:%011d", rng.IntN(100_000)))
					default:
						p.Set(ctx, fmt.Sprintf("key:%011d", rng.IntN(100_000)), value, 0)
					}
				}
				t0 := time.Now()
				_, err := p.Exec(ctx)
				if err != nil && !errors.Is(err, redis.Nil) {
					if ctx.Err() == nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
					break
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			rtts = append(rtts, local...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return benchResult{}, fmt.Errorf("%s: %w", o.addr, firstErr)
	}
	if len(rtts) == 0 {
		return benchResult{}, fmt.Errorf("%s: no round trip completed", o.addr)
	}
	slices.Sort(rtts)
	at := func(q float64) time.Duration { return rtts[min(len(rtts)-1, int(q*float64(len(rtts))))] }
	return benchResult{opts: o, ops: int64(len(rtts)) * int64(o.pipeline), elapsed: elapsed,
		p50: at(0.50), p99: at(0.99), p999: at(0.999)}, nil
}
