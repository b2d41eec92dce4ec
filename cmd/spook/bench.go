package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func init() {
	register("bench", "load a node over the Redis protocol and report throughput and latency", runBench)
}

const benchHelp = `usage: spook bench [--addr HOST:PORT] [--workload set|incr|mixed] [--clients N] [--pipeline P] [--duration D | --ops N] [--prefix P] [--cleanup]

Drives one node over RESP, as an application would, and prints throughput
and latency. Workloads: set (32-byte values over 100,000 keys), incr
(1,000 counters), mixed (80% GET, 20% SET). Each client keeps --pipeline
commands in flight per round trip. The run stops after --duration or
--ops, whichever comes first.

The keys are written into the node's live keyspace and replicate to every
member: all of them are under --prefix (default "spook-bench:"), which the
command names before it starts, and --cleanup deletes them afterwards.
Nodes that require TLS take --tls-cert, --tls-key and --tls-ca (or
SPOOK_TLS_*), as the other commands do.

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
	prefix := fs.String("prefix", DefaultBenchPrefix, "every key written starts with this")
	cleanup := fs.Bool("cleanup", false, "delete the keys under --prefix afterwards")
	tlsCert := fs.String("tls-cert", "", "client certificate (PEM) for a node that requires TLS (default $"+EnvTLSCert+")")
	tlsKey := fs.String("tls-key", "", "the certificate's private key (PEM) (default $"+EnvTLSKey+")")
	tlsCA := fs.String("tls-ca", "", "cluster CA certificate (PEM) (default $"+EnvTLSCA+")")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	tlsCfg, err := tlsConfig(orEnv(*tlsCert, EnvTLSCert), orEnv(*tlsKey, EnvTLSKey), orEnv(*tlsCA, EnvTLSCA))
	if err != nil {
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
	o := benchOptions{addr: *addr, workload: *workload, clients: *clients, pipeline: *pipeline,
		duration: *duration, ops: *ops, password: *password, prefix: *prefix, tls: tlsCfg}
	fmt.Fprintf(stderr, "writing into the live keyspace of %s (replicated to every member), keys under %q; ", o.addr, o.prefix)
	if *cleanup {
		fmt.Fprintln(stderr, "they are deleted afterwards")
	} else {
		fmt.Fprintln(stderr, "--cleanup deletes them afterwards")
	}
	r, err := bench(o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, r)
	if *cleanup {
		n, err := benchCleanup(o)
		if err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		fmt.Fprintf(stderr, "deleted %s keys under %q\n", thousands(n), o.prefix)
	}
	return nil
}

// DefaultBenchPrefix starts every key spook bench writes, so its load is
// easy to find and delete in a live keyspace.
const DefaultBenchPrefix = "spook-bench:"

type benchOptions struct {
	addr, workload, password string
	prefix                   string
	tls                      *tls.Config
	clients, pipeline        int
	duration                 time.Duration
	ops                      int64
}

// redisClient is one connection's client for o.
func (o benchOptions) redisClient(poolSize int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: o.addr, Password: o.password, Protocol: 2, PoolSize: poolSize,
		MaxRetries: -1, TLSConfig: o.tls})
}

// benchCleanupBatch is how many keys one DEL of the cleanup names.
const benchCleanupBatch = 512

// benchCleanup deletes every key under o.prefix (SCAN MATCH, then DEL in
// batches) and returns how many it deleted.
func benchCleanup(o benchOptions) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), MaxBenchDuration)
	defer cancel()
	cl := o.redisClient(1)
	defer cl.Close()
	var keys []string
	iter := cl.Scan(ctx, 0, globEscape(o.prefix)+"*", benchCleanupBatch).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	var deleted int64
	for len(keys) > 0 {
		batch := keys[:min(len(keys), benchCleanupBatch)]
		keys = keys[len(batch):]
		n, err := cl.Del(ctx, batch...).Result()
		if err != nil {
			return deleted, err
		}
		deleted += n
	}
	return deleted, nil
}

// globEscape escapes the Redis glob metacharacters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// thousands formats n with comma separators: 412345 → "412,345".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

type benchResult struct {
	opts           benchOptions
	ops            int64
	elapsed        time.Duration
	p50, p99, p999 time.Duration
}

func (r benchResult) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("%s: %d clients × pipeline %d, %.1fs: %s ops/s; per round trip p50 %s p99 %s p99.9 %s",
		r.opts.workload, r.opts.clients, r.opts.pipeline, r.elapsed.Seconds(),
		thousands(int64(float64(r.ops)/r.elapsed.Seconds())), ms(r.p50), ms(r.p99), ms(r.p999))
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
			cl := o.redisClient(1)
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
						p.Incr(ctx, fmt.Sprintf("%scounter:%d", o.prefix, rng.IntN(1000)))
					case o.workload == "mixed" && rng.IntN(5) != 0:
						p.Get(ctx, fmt.Sprintf("%skey:%011d", o.prefix, rng.IntN(100_000)))
					default:
						p.Set(ctx, fmt.Sprintf("%skey:%011d", o.prefix, rng.IntN(100_000)), value, 0)
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
