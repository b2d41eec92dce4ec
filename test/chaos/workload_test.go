package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Workload shape. Keys are shared between sessions where the type merges
// (counters, sets, transaction groups) and unique where a lost write must
// be visible (registers).
const (
	counterKeys = 4 // ctr:0..3
	setKeys     = 4 // set:0..3
	txnGroups   = 3 // txn:0..2, each three keys
	waitTimeout = 500 * time.Millisecond
	// opPause is the pause between a session's operations: 5 nodes and
	// their clients share two cores, and the checks need a history, not a
	// benchmark.
	opPause = 2 * time.Millisecond
	// failPause is the pause after an operation without an answer, so a
	// session on a dead node retries at a bounded rate.
	failPause = 50 * time.Millisecond
	// MaxOpsPerSession bounds one session's history.
	MaxOpsPerSession = 50_000
	// bcKey is the bounded counter every session increments and
	// decrements by 1 (floor 0, created by the first session to find it
	// missing with bcInitial); no node may ever read it below 0.
	bcKey     = "bc:stock"
	bcInitial = 1000
)

// txnKeys are the keys every transaction of group g writes (the unique
// key of each transaction comes after them).
func txnKeys(g int) []string {
	return []string{fmt.Sprintf("txn:%d:a", g), fmt.Sprintf("txn:%d:b", g), fmt.Sprintf("txn:%d:c", g)}
}

// allTxnKeys maps every group to its keys, for the final check.
func allTxnKeys() map[string][]string {
	m := map[string][]string{}
	for g := 0; g < txnGroups; g++ {
		m[fmt.Sprintf("txn:%d", g)] = txnKeys(g)
	}
	return m
}

// collapsedWrite is a write confirmed collapsed: every member had it.
type collapsedWrite struct {
	key, value string
	at         time.Duration
}

// env is what sessions share with the run: its clock, the member count,
// host generations, and the registry of collapsed writes.
type env struct {
	began   time.Time
	members int

	mu        sync.Mutex
	collapsed []collapsedWrite
	gens      map[int]int // host → process generation (restarts)
}

func (e *env) since() time.Duration { return time.Since(e.began) }

func (e *env) gen(host int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.gens[host]
}

func (e *env) bumpGen(host int) {
	e.mu.Lock()
	e.gens[host]++
	e.mu.Unlock()
}

func (e *env) addCollapsed(w collapsedWrite) {
	e.mu.Lock()
	e.collapsed = append(e.collapsed, w)
	e.mu.Unlock()
}

// collapsedBefore returns the writes confirmed collapsed before t.
func (e *env) collapsedBefore(t time.Duration) []collapsedWrite {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []collapsedWrite
	for _, w := range e.collapsed {
		if w.at < t {
			out = append(out, w)
		}
	}
	return out
}

// session is one client that sticks to one node, issues writes and reads
// and checks its own guarantees (read-your-writes, monotonic reads,
// atomic transactions) as it goes. It runs in one goroutine.
type session struct {
	id   int
	host int
	node string
	rdb  *redis.Client
	dial func() *redis.Client // opens a new client to the session's node
	rng  *rand.Rand
	env  *env

	ops      []op
	seq      int
	ownKey   string
	ownAcked int      // highest own-register sequence acknowledged
	ownMax   int      // highest invoked
	members  []member // members this session added (acknowledged) and not removed
	seen     map[string]seenValue
	problems []string
	session  int // read-your-writes and monotonic-read violations
	atomic   int // transaction groups seen disagreeing
	bcounter int // bounded counter read or decremented below its floor
}

type member struct{ key, value string }

// seenValue is the last value a session read for a key, and the host's
// process generation then (a restart in between is reported as such).
type seenValue struct {
	value int64
	gen   int
}

func newSession(id, host int, node string, dial func() *redis.Client, seed uint64, e *env) *session {
	return &session{id: id, host: host, node: node, rdb: dial(), dial: dial, env: e,
		rng: rand.New(rand.NewPCG(seed, uint64(id))), ownKey: fmt.Sprintf("own:s%d", id),
		seen: map[string]seenValue{}}
}

// classify turns a client error into an outcome: an error reply means the
// server refused (nothing happened); anything else (timeout, closed
// connection) leaves the write unknown.
func classify(err error) (outcome, string) {
	if err == nil {
		return outcomeOK, ""
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, redis.Nil) {
		return outcomeFail, err.Error()
	}
	return outcomeTimeout, err.Error()
}

// violation records a broken guarantee in counter.
func (s *session) violation(counter *int, format string, args ...any) {
	*counter++
	if len(s.problems) < maxProblems {
		s.problems = append(s.problems, fmt.Sprintf("s%d@%s: ", s.id, s.node)+fmt.Sprintf(format, args...))
	}
}

// run issues operations until stop is closed or MaxOpsPerSession.
func (s *session) run(stop <-chan struct{}) {
	defer func() { s.rdb.Close() }()
	for len(s.ops) < MaxOpsPerSession {
		select {
		case <-stop:
			return
		default:
		}
		s.step()
		time.Sleep(opPause)
	}
}

// record runs one write and appends it to the history.
func (s *session) record(o op, do func(ctx context.Context) error) op {
	ctx := context.Background()
	o.Session, o.Host, o.Node = s.id, s.host, s.node
	o.Start = s.env.since()
	err := do(ctx)
	o.End = s.env.since()
	o.Outcome, o.Err = classify(err)
	s.ops = append(s.ops, o)
	if o.Outcome == outcomeTimeout {
		// The connection is gone or stuck. A new client dials afresh on
		// its next call (go-redis's pool would otherwise keep answering a
		// remembered dial error for a while after the node is back).
		s.rdb.Close()
		s.rdb = s.dial()
		time.Sleep(failPause)
	}
	return o
}

// step issues one operation drawn from the mix.
func (s *session) step() {
	ctx := context.Background()
	s.seq++
	token := fmt.Sprintf("s%d.%d", s.id, s.seq)
	switch p := s.rng.IntN(100); {
	case p < 25:
		key := fmt.Sprintf("ctr:%d", s.rng.IntN(counterKeys))
		s.record(op{Kind: opIncr, Key: key}, func(ctx context.Context) error { return s.rdb.Incr(ctx, key).Err() })
	case p < 45:
		key := fmt.Sprintf("set:%d", s.rng.IntN(setKeys))
		o := s.record(op{Kind: opSAdd, Key: key, Value: token}, func(ctx context.Context) error {
			return s.rdb.SAdd(ctx, key, token).Err()
		})
		if o.Outcome == outcomeOK {
			s.members = append(s.members, member{key, token})
		}
	case p < 53 && len(s.members) > 0:
		i := s.rng.IntN(len(s.members))
		m := s.members[i]
		s.members[i] = s.members[len(s.members)-1]
		s.members = s.members[:len(s.members)-1]
		s.record(op{Kind: opSRem, Key: m.key, Value: m.value}, func(ctx context.Context) error {
			return s.rdb.SRem(ctx, m.key, m.value).Err()
		})
	case p < 65:
		key := fmt.Sprintf("reg:s%d:%d", s.id, s.seq)
		s.record(op{Kind: opSet, Key: key, Value: token}, func(ctx context.Context) error {
			return s.rdb.Set(ctx, key, token, 0).Err()
		})
	case p < 77:
		s.ownMax++
		seq := s.ownMax
		o := s.record(op{Kind: opSetOwn, Key: s.ownKey, Value: strconv.Itoa(seq)}, func(ctx context.Context) error {
			return s.rdb.Set(ctx, s.ownKey, seq, 0).Err()
		})
		if o.Outcome == outcomeOK {
			s.ownAcked = seq
			s.checkOwn(ctx)
		}
	case p < 89:
		g := s.rng.IntN(txnGroups)
		keys := append(txnKeys(g), fmt.Sprintf("txnu:s%d:%d", s.id, s.seq))
		s.record(op{Kind: opTxn, Key: fmt.Sprintf("txn:%d", g), Keys: keys, Value: token}, func(ctx context.Context) error {
			cmds, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, k := range keys {
					pipe.Set(ctx, k, token, 0)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, c := range cmds {
				if c.Err() != nil {
					return c.Err()
				}
			}
			return nil
		})
	case p < 93 && p >= 89 && s.seq%2 == 0:
		s.bcounterStep(ctx)
	case p < 93:
		key := fmt.Sprintf("col:s%d:%d", s.id, s.seq)
		var acks int64
		o := s.record(op{Kind: opCollapse, Key: key, Value: token}, func(ctx context.Context) error {
			// One pipeline on the session's one connection: the WAIT is
			// for this SET, never for an earlier write on another link.
			pipe := s.rdb.Pipeline()
			set := pipe.Set(ctx, key, token, 0)
			wait := pipe.Do(ctx, "wait", s.env.members-1, waitTimeout.Milliseconds())
			if _, err := pipe.Exec(ctx); err != nil {
				if set.Err() == nil && wait.Err() != nil {
					return nil // the SET is acknowledged; the WAIT's answer was lost
				}
				return err
			}
			acks, _ = wait.Int64()
			return nil
		})
		if o.Outcome == outcomeOK && acks >= int64(s.env.members-1) {
			s.ops[len(s.ops)-1].Collapsed = true
			s.env.addCollapsed(collapsedWrite{key: key, value: token, at: o.End})
		}
	default:
		s.checkReads(ctx)
	}
}

// checkOwn reads the session's own register on its node: it must show the
// last acknowledged write or a later one (read-your-writes).
func (s *session) checkOwn(ctx context.Context) {
	v, err := s.rdb.Get(ctx, s.ownKey).Int()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			s.violation(&s.session, "read-your-writes: %s missing after acknowledged %d", s.ownKey, s.ownAcked)
		}
		return
	}
	if v < s.ownAcked || v > s.ownMax {
		s.violation(&s.session, "read-your-writes: %s = %d, acknowledged %d, highest written %d", s.ownKey, v, s.ownAcked, s.ownMax)
	}
}

// checkReads reads shared keys: a counter and another session's register
// must never go back (monotonic reads), a transaction group's keys must
// agree (atomicity), and a member this session added must be there.
func (s *session) checkReads(ctx context.Context) {
	gen := s.env.gen(s.host)
	monotonic := func(key string, v int64) {
		last, ok := s.seen[key]
		if ok && v < last.value {
			where := ""
			if last.gen != gen {
				where = " (across a restart of the node)"
			}
			s.violation(&s.session, "monotonic reads: %s went from %d to %d%s", key, last.value, v, where)
		}
		s.seen[key] = seenValue{value: v, gen: gen}
	}
	key := fmt.Sprintf("ctr:%d", s.rng.IntN(counterKeys))
	if v, err := s.rdb.Get(ctx, key).Int64(); err == nil {
		monotonic(key, v)
	} else if errors.Is(err, redis.Nil) {
		monotonic(key, 0)
	}
	other := fmt.Sprintf("own:s%d", s.rng.IntN(s.id+1))
	if v, err := s.rdb.Get(ctx, other).Int64(); err == nil {
		monotonic(other, v)
	}
	g := s.rng.IntN(txnGroups)
	keys := txnKeys(g)
	if vals, err := s.rdb.MGet(ctx, keys...).Result(); err == nil {
		for _, v := range vals[1:] {
			if v != vals[0] {
				s.violation(&s.atomic, "atomicity: transaction group %d reads %v", g, vals)
				break
			}
		}
	}
	if len(s.members) > 0 {
		m := s.members[s.rng.IntN(len(s.members))]
		if ok, err := s.rdb.SIsMember(ctx, m.key, m.value).Result(); err == nil && !ok {
			s.violation(&s.session, "read-your-writes: %s lacks acknowledged member %s", m.key, m.value)
		}
	}
}

// bcounterStep increments or decrements the shared bounded counter by 1
// (creating it when missing) and reads it back: the value a DECRBY
// answers and the value a read sees must never be below the floor 0.
// These operations are not in the history: their check is this one (and
// the final read of every node, finalBCounter).
func (s *session) bcounterStep(ctx context.Context) {
	var v int64
	var err error
	if s.rng.IntN(2) == 0 {
		v, err = s.rdb.Do(ctx, "BCOUNTER.DECRBY", bcKey, 1).Int64()
	} else {
		v, err = s.rdb.Do(ctx, "BCOUNTER.INCRBY", bcKey, 1).Int64()
	}
	if err != nil && strings.Contains(err.Error(), "no such bounded counter") {
		s.rdb.Do(ctx, "BCOUNTER.CREATE", bcKey, 0, bcInitial) // "exists" if another session won
		return
	}
	if err == nil && v < 0 {
		s.violation(&s.bcounter, "bounded counter: %s answered %d, below the floor 0", bcKey, v)
	}
	if r, err := s.rdb.Do(ctx, "BCOUNTER.GET", bcKey).Int64(); err == nil && r < 0 {
		s.violation(&s.bcounter, "bounded counter: %s read %d, below the floor 0", bcKey, r)
	}
}
