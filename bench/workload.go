package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Workload names one operation mix.
type Workload string

const (
	// WorkloadSet is SET of 16-byte keys (KeySpace of them) to 32-byte values.
	WorkloadSet Workload = "SET"
	// WorkloadIncr is INCR over CounterSpace counters.
	WorkloadIncr Workload = "INCR"
	// WorkloadMixed is 80 % GET, 20 % SET over the SET keys.
	WorkloadMixed Workload = "80% GET / 20% SET"
)

const (
	// KeySpace is the number of distinct keys SET and GET draw from.
	KeySpace = 100_000
	// CounterSpace is the number of counters INCR draws from.
	CounterSpace = 1000
	// KeyBytes and ValueBytes are the sizes of every key and value.
	KeyBytes   = 16
	ValueBytes = 32
)

// Key formats key i of a family ('s' strings, 'c' counters, 'm' memory
// load) as exactly KeyBytes bytes; dots and digits only, so every peer
// (NATS KV included) accepts it.
func Key(dst []byte, family byte, i int) []byte {
	dst = append(dst[:0], family, '.')
	s := strconv.Itoa(i)
	for n := len(s); n < KeyBytes-2; n++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Cell is one measured point: a workload against a system with a number of
// closed-loop clients, each keeping Pipeline operations in flight.
type Cell struct {
	Workload Workload
	Clients  int
	Pipeline int
}

func (c Cell) String() string {
	return fmt.Sprintf("%s c=%d P=%d", c.Workload, c.Clients, c.Pipeline)
}

// Result is one run of a cell.
type Result struct {
	Ops       uint64
	Errors    uint64
	Elapsed   time.Duration
	Lat       *Hist // per operation: the round trip of its pipelined batch
	PeerBytes int64 // bytes between nodes during the run; -1 if unknown
	FirstErr  error
}

// OpsPerSec is the throughput.
func (r Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Limits bound one run.
type Limits struct {
	Duration time.Duration
	MaxOps   uint64
}

// RunCell drives cell against node 0 of sys until the limits: each client
// has its own connection and sends one batch of Pipeline operations, waits
// for all replies, and repeats. The reported latency of each operation is
// its batch's round trip.
func RunCell(ctx context.Context, sys System, cell Cell, lim Limits, seed uint64) (Result, error) {
	clients := make([]Client, 0, cell.Clients)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := 0; i < cell.Clients; i++ {
		c, err := sys.Client(0)
		if err != nil {
			return Result{}, fmt.Errorf("connect client %d: %w", i, err)
		}
		clients = append(clients, c)
	}
	before, berr := sys.PeerBytes()
	var (
		total, errs atomic.Uint64
		wg          sync.WaitGroup
		mu          sync.Mutex
		merged      = &Hist{}
		firstErr    error
	)
	start := time.Now()
	deadline := start.Add(lim.Duration)
	for i, c := range clients {
		wg.Add(1)
		go func(i int, c Client) {
			defer wg.Done()
			h := &Hist{}
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			ops := make([]Op, cell.Pipeline)
			keys := make([][]byte, cell.Pipeline)
			value := make([]byte, ValueBytes)
			for j := range value {
				value[j] = 'a' + byte((i+j)%26)
			}
			for j := range keys {
				keys[j] = make([]byte, 0, KeyBytes)
			}
			for ctx.Err() == nil && time.Now().Before(deadline) && total.Load() < lim.MaxOps {
				for j := range ops {
					ops[j] = nextOp(cell.Workload, rng, keys[j], value)
					keys[j] = ops[j].Key
				}
				t0 := time.Now()
				err := c.Do(ops)
				h.Record(time.Since(t0), len(ops))
				total.Add(uint64(len(ops)))
				if err != nil {
					errs.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					var re RESPError
					if !errors.As(err, &re) {
						return // connection broken
					}
				}
			}
			mu.Lock()
			merged.Merge(h)
			mu.Unlock()
		}(i, c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := Result{Ops: total.Load(), Errors: errs.Load(), Elapsed: elapsed, Lat: merged, PeerBytes: -1, FirstErr: firstErr}
	// Let replication of the last writes finish before reading counters.
	time.Sleep(200 * time.Millisecond)
	if after, aerr := sys.PeerBytes(); berr == nil && aerr == nil {
		res.PeerBytes = after - before
	}
	return res, nil
}

// nextOp draws the next operation of w, formatting its key into key.
func nextOp(w Workload, rng *rand.Rand, key, value []byte) Op {
	switch w {
	case WorkloadIncr:
		return Op{Kind: OpIncr, Key: Key(key, 'c', rng.IntN(CounterSpace))}
	case WorkloadMixed:
		k := Key(key, 's', rng.IntN(KeySpace))
		if rng.IntN(10) < 2 {
			return Op{Kind: OpSet, Key: k, Value: value}
		}
		return Op{Kind: OpGet, Key: k}
	default:
		return Op{Kind: OpSet, Key: Key(key, 's', rng.IntN(KeySpace)), Value: value}
	}
}

// LagProber is implemented by systems measuring replication lag and
// all-replica latency themselves (etcd, NATS); RESP systems use the
// RESP functions below.
type LagProber interface {
	MeasureLag(ctx context.Context, n int) (*Hist, error)
	MeasureAllReplica(ctx context.Context, n int) (*Hist, error)
}

// RESPLag writes n keys one at a time on node 0 and times each from just
// before its SET is sent until node 1's keyspace notification for it
// arrives (a subscriber goroutine timestamps each message on receipt).
func RESPLag(ctx context.Context, sys RESPSystem, n int) (*Hist, error) {
	if err := sys.PrepareNotify(1); err != nil {
		return nil, fmt.Errorf("enable notifications: %w", err)
	}
	sub, err := DialRESP(sys.Addr(1))
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	sub.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := sub.Do("PSUBSCRIBE", "__keyspace@0__:lag.*"); err != nil {
		return nil, err
	}
	sub.SetDeadline(time.Time{})
	arrivals := make(chan string, 1024)
	go func() {
		for {
			r, err := sub.Read()
			if err != nil {
				close(arrivals)
				return
			}
			now := time.Now()
			// pmessage pattern channel event
			if r.Kind == '*' && len(r.Array) == 4 && r.Array[0].Str == "pmessage" {
				key := strings.TrimPrefix(r.Array[2].Str, "__keyspace@0__:")
				arrivals <- key + "\x00" + strconv.FormatInt(now.UnixNano(), 10)
			}
		}
	}()
	w, err := DialRESP(sys.Addr(0))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(time.Minute + time.Duration(n)*100*time.Millisecond))
	h := &Hist{}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		key := fmt.Sprintf("lag.%012d", i)
		t0 := time.Now()
		if _, err := w.Do("SET", key, "v"); err != nil {
			return nil, err
		}
		if err := awaitArrival(arrivals, key, t0, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// RESPAllReplica times SET followed by WAIT 2 1000 (pipelined together),
// n times on one connection, and counts WAITs that answered fewer than 2.
func RESPAllReplica(ctx context.Context, sys RESPSystem, n int) (*Hist, int, error) {
	w, err := DialRESP(sys.Addr(0))
	if err != nil {
		return nil, 0, err
	}
	defer w.Close()
	w.SetDeadline(time.Now().Add(time.Minute + time.Duration(n)*time.Second))
	h := &Hist{}
	short := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		w.AppendStrings("SET", fmt.Sprintf("all.%012d", i), "v")
		w.AppendStrings("WAIT", "2", "1000")
		if err := w.Flush(); err != nil {
			return nil, 0, err
		}
		if _, err := w.Read(); err != nil {
			return nil, 0, err
		}
		r, err := w.Read()
		if err != nil {
			return nil, 0, err
		}
		h.Record(time.Since(t0), 1)
		if r.Int < 2 {
			short++
		}
	}
	return h, short, nil
}

// RedisBenchmark runs `redis-benchmark -t set,incr -P 16 -c 16 -n n --csv`
// against addr and returns requests per second by test name.
func RedisBenchmark(ctx context.Context, bin, addr string, n int) (map[string]float64, error) {
	host, port, _ := strings.Cut(addr, ":")
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, bin, "-h", host, "-p", port, "-t", "set,incr", "-P", "16", "-c", "16",
		"-n", strconv.Itoa(n), "-r", strconv.Itoa(KeySpace), "-d", strconv.Itoa(ValueBytes), "--csv").Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark: %w", err)
	}
	return parseBenchmarkCSV(string(out))
}

// parseBenchmarkCSV reads redis-benchmark --csv output: a header line, then
// "TEST","rps",... per test.
func parseBenchmarkCSV(out string) (map[string]float64, error) {
	res := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) < 2 {
			continue
		}
		name := strings.Trim(f[0], `"`)
		v, err := strconv.ParseFloat(strings.Trim(f[1], `"`), 64)
		if err != nil {
			continue // the header
		}
		res[name] = v
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("redis-benchmark: no results in %q", out)
	}
	return res, nil
}

// LoadKeys SETs n keys of family 'm' on node 0 with conns connections, each
// pipelining batch commands, and returns the elapsed time.
func LoadKeys(ctx context.Context, sys RESPSystem, n, conns, batch int) (time.Duration, error) {
	return LoadKeysAt(ctx, sys.Addr(0), n, conns, batch)
}

// LoadKeysAt is LoadKeys against the RESP server at addr.
func LoadKeysAt(ctx context.Context, addr string, n, conns, batch int) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	per := (n + conns - 1) / conns
	for c := 0; c < conns; c++ {
		lo, hi := c*per, min((c+1)*per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := DialRESP(addr)
			if err != nil {
				errc <- err
				return
			}
			defer w.Close()
			w.SetDeadline(time.Now().Add(10 * time.Minute))
			key := make([]byte, 0, KeyBytes)
			value := []byte(strings.Repeat("v", ValueBytes))
			for i := lo; i < hi && ctx.Err() == nil; i += batch {
				m := 0
				for j := i; j < min(i+batch, hi); j++ {
					key = Key(key, 'm', j)
					w.Append(cmdSet, key, value)
					m++
				}
				if err := w.Flush(); err != nil {
					errc <- err
					return
				}
				if err := w.Skip(m); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return time.Since(start), ctx.Err()
}

// TimeRestart kills node 0, restarts it on the same data, and measures
// until GET of key answers want (polling every 5 ms, bounded by timeout).
func TimeRestart(sys RESPSystem, key, want string, timeout time.Duration) (time.Duration, error) {
	if err := sys.Restart(); err != nil {
		return 0, err
	}
	restarted := time.Now()
	deadline := restarted.Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := DialRESP(sys.Addr(0))
		if err == nil {
			for time.Now().Before(deadline) {
				c.SetDeadline(time.Now().Add(time.Second))
				r, err := c.Do("GET", key)
				if err == nil && r.Str == want {
					c.Close()
					return time.Since(restarted), nil
				}
				last = err
				if err != nil {
					var re RESPError
					if !errors.As(err, &re) {
						break // reconnect
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			c.Close()
		} else {
			last = err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("node did not serve %s within %v: %v", key, timeout, last)
}
