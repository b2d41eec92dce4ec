package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// faultKind names one kind of fault.
type faultKind uint8

const (
	faultIsolate faultKind = iota + 1 // one host cut from every other
	faultSplit                        // a minority and a majority cut from each other
	faultBridge                       // two sides cut from each other, one host reaching both
	faultRing                         // each host reaches only its two ring neighbours
	faultOneWay                       // one host's outbound traffic to every other host dropped
	faultPause                        // SIGSTOP, then SIGCONT
	faultKill                         // SIGKILL; restart on the same data directory
	faultClock                        // SIGKILL; restart with a clock offset
	faultRemove                       // SIGKILL; operator removal; a fresh node joins under a new name
)

var faultNames = [...]string{"", "isolate", "split", "bridge", "ring", "oneway", "pause", "kill", "clock", "remove"}

func (k faultKind) String() string { return faultNames[k] }

// allFaults is every kind, for schedules drawn from a seed.
var allFaults = []faultKind{faultIsolate, faultSplit, faultBridge, faultRing, faultOneWay, faultPause, faultKill, faultClock, faultRemove}

// parseFaults reads a comma-separated list of fault names.
func parseFaults(s string) ([]faultKind, error) {
	var kinds []faultKind
	for _, name := range strings.Split(s, ",") {
		found := false
		for k, n := range faultNames {
			if n != "" && n == strings.TrimSpace(name) {
				kinds = append(kinds, faultKind(k))
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("chaos: unknown fault %q (know %s)", name, strings.Join(faultNames[1:], ", "))
		}
	}
	return kinds, nil
}

// MaxClockOffset bounds the offsets nodes restart with: two nodes offset
// in opposite directions stay within the replica's default
// MaxClockAheadMs (60 s) of each other, so no transaction is refused.
// MinClockOffset keeps offsets large enough to matter.
const (
	MinClockOffset = 5 * time.Second
	MaxClockOffset = 25 * time.Second
)

// groups formats host groups as "1,2|3,4,5".
func groups(gs ...[]int) string {
	var parts []string
	for _, g := range gs {
		s := make([]string, len(g))
		for i, h := range g {
			s[i] = fmt.Sprint(h)
		}
		parts = append(parts, strings.Join(s, ","))
	}
	return strings.Join(parts, "|")
}

// shuffled returns the hosts 1..n in an order drawn from rng.
func shuffled(rng *rand.Rand, n int) []int {
	hs := make([]int, n)
	for i := range hs {
		hs[i] = i + 1
	}
	rng.Shuffle(n, func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
	return hs
}

// inject applies one fault and returns its description and the function
// that heals it. Faults are sequential: the runner holds each for a while,
// heals it, and only then starts the next.
func (r *runner) inject(kind faultKind) (desc string, heal func() error, err error) {
	n := r.cfg.Hosts
	order := shuffled(r.rng, n)
	nw := r.c.nw
	netFault := func(desc string, cut func() error) (string, func() error, error) {
		from := r.env.since()
		heal := func() error {
			err := nw.heal()
			r.faults = append(r.faults, window{From: from, To: r.env.since(), What: desc})
			return err
		}
		return desc, heal, cut()
	}
	crossCut := func(a, b []int) error {
		for _, x := range a {
			for _, y := range b {
				if err := nw.cut(x, y); err != nil {
					return err
				}
			}
		}
		return nil
	}
	switch kind {
	case faultIsolate:
		h := order[0]
		return netFault(fmt.Sprintf("isolate(%d)", h), func() error { return nw.isolate(h) })
	case faultSplit:
		minority, majority := order[:n/2], order[n/2:]
		sort.Ints(minority)
		sort.Ints(majority)
		return netFault(fmt.Sprintf("split(%s)", groups(minority, majority)), func() error { return crossCut(minority, majority) })
	case faultBridge:
		bridge, rest := order[0], order[1:]
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		sort.Ints(a)
		sort.Ints(b)
		return netFault(fmt.Sprintf("bridge(%s via %d)", groups(a, b), bridge), func() error { return crossCut(a, b) })
	case faultRing:
		return netFault(fmt.Sprintf("ring(%s)", groups(order)), func() error {
			for i := 0; i < n; i++ {
				for j := i + 1; j < n; j++ {
					if d := j - i; d != 1 && d != n-1 {
						if err := nw.cut(order[i], order[j]); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
	case faultOneWay:
		h := order[0]
		return netFault(fmt.Sprintf("oneway(%d->*)", h), func() error {
			for _, o := range order[1:] {
				if err := nw.cutOneWay(h, o); err != nil {
					return err
				}
			}
			return nil
		})
	case faultPause:
		h := order[0]
		hold := r.cfg.PauseMin + time.Duration(r.rng.Int64N(int64(r.cfg.PauseMax-r.cfg.PauseMin)+1))
		desc := fmt.Sprintf("pause(%d,%v)", h, hold.Round(100*time.Millisecond))
		from := r.env.since()
		if err := r.c.signal(h, syscall.SIGSTOP); err != nil {
			return desc, nil, err
		}
		time.Sleep(max(hold-r.cfg.Hold, 0)) // the runner holds the rest
		return desc, func() error {
			err := r.c.signal(h, syscall.SIGCONT)
			r.down = append(r.down, window{Host: h, From: from, To: r.env.since(), What: desc})
			return err
		}, nil
	case faultKill:
		return r.killRestart(order[0], 0)
	case faultClock:
		offset := MinClockOffset + time.Duration(r.rng.Int64N(int64(MaxClockOffset-MinClockOffset)))
		if r.rng.IntN(2) == 0 {
			offset = -offset
		}
		return r.killRestart(order[0], offset.Round(time.Second))
	case faultRemove:
		return r.removeRejoin(order[0])
	}
	return "", nil, fmt.Errorf("chaos: unknown fault %d", kind)
}

// killRestart kills host h's node with SIGKILL, restarts it on its data
// directory while it is cut off from every other host (so what it holds
// comes from its own disk), and checks that every write confirmed collapsed
// before the kill is there. Healing reconnects it.
func (r *runner) killRestart(h int, offset time.Duration) (string, func() error, error) {
	p := r.c.proc(h)
	desc := fmt.Sprintf("kill(%d)", h)
	if offset != 0 {
		desc = fmt.Sprintf("clock(%d,%+v)", h, offset)
	}
	from := r.env.since()
	if err := r.c.kill(h); err != nil {
		return desc, nil, err
	}
	killedAt := r.env.since()
	if err := r.c.nw.isolate(h); err != nil {
		return desc, nil, err
	}
	time.Sleep(r.cfg.Hold / 4) // dead for a while: peers notice
	_, err := r.c.start(h, startOpts{name: p.name, dataDir: p.dataDir, rejoined: p.joined, offset: offset})
	r.env.bumpGen(h)
	r.down = append(r.down, window{Host: h, From: from, To: r.env.since(), What: desc})
	if err != nil {
		return desc, nil, err
	}
	r.checkCollapsedOn(h, r.env.collapsedBefore(killedAt), desc)
	// Until healed it serves cut off from its peers: local writes only.
	return desc, func() error { return r.c.nw.healHost(h) }, nil
}

// checkCollapsedOn reads every write in ws on host h; each must be there
// with its value.
func (r *runner) checkCollapsedOn(h int, ws []collapsedWrite, desc string) {
	rdb := r.c.redis(h)
	defer rdb.Close()
	ctx := context.Background()
	for _, w := range ws {
		got, err := rdb.Get(ctx, w.key).Result()
		if err != nil || got != w.value {
			r.rep.problem(&r.rep.Lost, "after %s: collapsed %s=%s missing on its own disk: %q, %v", desc, w.key, w.value, got, err)
		}
	}
	r.killChecked += len(ws)
}

// removeRejoin kills host h's node, has the operator remove it on another
// host, and starts a fresh node with an empty data directory under a new
// name that joins through the other hosts. The host's sessions stop before
// the kill and new ones start on the new node. There is nothing to heal.
func (r *runner) removeRejoin(h int) (string, func() error, error) {
	old := r.c.proc(h)
	r.stopSessions(h)
	from := r.env.since()
	if err := r.c.kill(h); err != nil {
		return "remove", nil, err
	}
	r.removed[old.name] = true
	name := fmt.Sprintf("%sr%d", old.name, len(r.removed))
	desc := fmt.Sprintf("remove(%d:%s->%s)", h, old.name, name)
	var others []int
	var join []string
	for i := 1; i <= r.cfg.Hosts; i++ {
		if i != h {
			others = append(others, i)
			join = append(join, r.c.addr(i))
		}
	}
	if err := r.markReached(old.name, others); err != nil {
		return desc, nil, err
	}
	// Any live member accepts the removal; retry briefly, host by host.
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		err = r.c.removeMember(ctx, others[i%len(others)], old.name)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return desc, nil, err
	}
	dataDir := filepath.Join(r.dir, name)
	_, err = r.c.start(h, startOpts{name: name, dataDir: dataDir, join: join})
	r.env.bumpGen(h)
	r.down = append(r.down, window{Host: h, From: from, To: r.env.since(), What: desc})
	if err != nil {
		return desc, nil, err
	}
	r.startSessions(h, name)
	return desc, func() error { return nil }, nil
}

// reachedSettle bounds the wait for the survivors of a kill to agree
// before reading what reached them.
const reachedSettle = 10 * time.Second

// markReached marks the acknowledged writes of the killed node name that
// reached the cluster: once the survivors agree (equal state hashes), every
// write of name found on one of them is marked Reached, and must outlive
// the node's removal ("its writes that reach the cluster are applied").
func (r *runner) markReached(name string, survivors []int) error {
	deadline := time.Now().Add(reachedSettle)
	for !r.equalStatusOf(survivors) {
		if time.Now().After(deadline) {
			return fmt.Errorf("survivors of %s did not agree within %v", name, reachedSettle)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var ops []*op
	var keys []string
	for _, s := range r.finished {
		removed := map[string]bool{} // members this session removed (ok or maybe)
		for _, o := range s.ops {
			if o.Kind == opSRem && o.Outcome != outcomeFail {
				removed[o.Key+"\x00"+o.Value] = true
			}
		}
		for i := range s.ops {
			o := &s.ops[i]
			if o.Node != name || o.Outcome != outcomeOK {
				continue
			}
			switch o.Kind {
			case opSet, opCollapse:
				keys = append(keys, o.Key)
			case opTxn:
				keys = append(keys, o.Keys[len(o.Keys)-1])
			case opSAdd:
				if removed[o.Key+"\x00"+o.Value] {
					continue // absent by right
				}
			default:
				continue
			}
			ops = append(ops, o)
		}
	}
	st, err := r.readState(survivors[0], keys)
	if err != nil {
		return err
	}
	reached := map[opKind][2]int{}
	for _, o := range ops {
		o.Reached = has(st, *o)
		c := reached[o.Kind]
		c[1]++
		if o.Reached {
			c[0]++
		}
		reached[o.Kind] = c
	}
	r.t.Logf("writes of %s found on %s after the kill (found, acknowledged): %v", name, st.Node, reached)
	return nil
}
