package chaos

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// opKind is what one recorded client operation did.
type opKind uint8

const (
	opIncr     opKind = iota + 1 // INCR Key
	opSAdd                       // SADD Key Value (Value unique in the run)
	opSRem                       // SREM Key Value (a member this session added, acknowledged)
	opSet                        // SET Key Value (Key unique in the run)
	opSetOwn                     // SET Key Value on the session's own register; Value is its sequence
	opTxn                        // MULTI; SET each of Keys to Value; EXEC (Value unique in the run)
	opCollapse                   // SET Key Value, then WAIT members-1; Collapsed if every member had it
)

var opNames = [...]string{"", "incr", "sadd", "srem", "set", "set-own", "txn", "set+wait"}

func (k opKind) String() string { return opNames[k] }

// outcome is how an operation ended.
type outcome uint8

const (
	outcomeOK      outcome = iota + 1 // acknowledged: it happened
	outcomeFail                       // refused with an error reply: it did not happen
	outcomeTimeout                    // no answer (timeout, broken connection): it may have happened
)

var outcomeNames = [...]string{"", "ok", "fail", "timeout"}

func (o outcome) String() string { return outcomeNames[o] }

// op is one client operation, from invoke (Start) to completion (End).
type op struct {
	Session   int
	Host      int
	Node      string // the node name the session talked to
	Kind      opKind
	Key       string
	Keys      []string // opTxn: every key written
	Value     string
	Outcome   outcome
	Collapsed bool // opCollapse: WAIT answered members-1
	// Reached: written by a node that was then killed and removed, and
	// found on a surviving node after the kill: it reached the cluster,
	// so it must survive the removal.
	Reached bool
	Start   time.Duration
	End     time.Duration // both since the run began
	Err     string
}

func (o op) String() string {
	s := fmt.Sprintf("s%d@%s %s %s=%s %s [%v,%v]", o.Session, o.Node, o.Kind, o.Key, o.Value, o.Outcome,
		o.Start.Round(time.Millisecond), o.End.Round(time.Millisecond))
	if o.Err != "" {
		s += " " + o.Err
	}
	return s
}

// window is a span of the run during which something held: a host down
// (paused, killed, restarting, removed) or a network fault.
type window struct {
	Host     int // 0 for a network fault
	From, To time.Duration
	What     string
}

func (w window) overlaps(from, to time.Duration) bool { return from < w.To && to > w.From }

// nodeState is what the checker reads from one node at the end.
type nodeState struct {
	Node     string
	Hash     string
	Values   map[string]string          // register keys that exist → value
	Counters map[string]int64           // counter keys → value (missing: 0)
	Sets     map[string]map[string]bool // set keys → members
	BCounter int64                      // bcKey's value (0 when missing)
}

// report is the outcome of checking one run. Every field but the figures
// must be zero for a run to pass.
type report struct {
	Ops, Acked, Maybe, Failed int // figures
	Orphaned                  int // acknowledged only by a node later removed, and missing (allowed)
	Collapsed                 int // writes confirmed collapsed

	Lost        int // acknowledged writes missing (counters: below the acknowledged sum)
	Phantom     int // values nobody wrote, counters above acknowledged+maybe, removed members back
	Atomicity   int // transaction keys disagreeing
	Session     int // read-your-writes or monotonic-read violations seen during the run
	Unavailable int // writes refused or timed out on a node that was up
	Divergent   int // nodes whose state hash differs from the first node's
	BCounter    int // bounded counter below its floor: during the run or on a node at the end
	Problems    []string
	Notes       []string // what is allowed but worth a look (orphaned writes)
}

// maxProblems bounds the detail lines a report keeps.
const maxProblems = 20

func (r *report) problem(counter *int, format string, args ...any) {
	*counter++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// failed reports whether any check failed.
func (r *report) failed() bool {
	return r.Lost+r.Phantom+r.Atomicity+r.Session+r.Unavailable+r.Divergent+r.BCounter > 0
}

// checkInput is everything checkHistory needs.
type checkInput struct {
	History []op
	Final   []nodeState
	Down    []window            // hosts down: writes there may fail
	Removed map[string]bool     // nodes removed by the operator (their unreplicated writes may be gone)
	Faults  []window            // network faults: every up host must have written during each
	Hosts   []int               // every host
	TxnKeys map[string][]string // transaction group → its keys, read at the end
}

// checkHistory checks a run's history against the final state of every
// node. It is pure: the same input gives the same report.
func checkHistory(in checkInput) report {
	r := checkHistoryOps(in)
	for _, st := range in.Final {
		if st.BCounter < 0 {
			r.problem(&r.BCounter, "bounded counter: %s reads %d on %s at the end, below the floor 0", bcKey, st.BCounter, st.Node)
		}
	}
	return r
}

// checkHistoryOps checks the recorded operations against the final
// states (everything but the bounded counter).
func checkHistoryOps(in checkInput) report {
	var r report
	r.Ops = len(in.History)
	// A write is required on every node if it was acknowledged, unless its
	// node was removed and it was neither confirmed collapsed nor seen on a
	// survivor after the kill.
	required := func(o op) bool {
		if o.Outcome != outcomeOK {
			return false
		}
		return o.Collapsed || o.Reached || !in.Removed[o.Node]
	}
	for _, o := range in.History {
		switch o.Outcome {
		case outcomeOK:
			r.Acked++
			if o.Collapsed {
				r.Collapsed++
			}
		case outcomeTimeout:
			r.Maybe++
		case outcomeFail:
			r.Failed++
		}
	}

	checkAvailability(in, &r)

	// Hashes: every node equal to the first.
	for _, n := range in.Final[1:] {
		if n.Hash != in.Final[0].Hash {
			r.problem(&r.Divergent, "state hash %s on %s, %s on %s", n.Hash, n.Node, in.Final[0].Hash, in.Final[0].Node)
		}
	}

	// What may exist: every value invoked.
	invoked := map[string]bool{} // key + "\x00" + value, for unique-key writes
	added := map[string]bool{}   // set key + member
	removed := map[string]bool{} // set key + member removed (ok or maybe)
	ownMax := map[string]int{}   // own register → highest sequence invoked
	ownAcked := map[string]int{} // own register → highest sequence acknowledged and required
	txnTokens := map[string]bool{}
	incr := map[string][2]int{} // counter → {required, maybe}
	for _, o := range in.History {
		switch o.Kind {
		case opSet, opCollapse:
			invoked[o.Key+"\x00"+o.Value] = true
		case opTxn:
			txnTokens[o.Value] = true
			for _, k := range o.Keys {
				invoked[k+"\x00"+o.Value] = true
			}
		case opSAdd:
			added[o.Key+"\x00"+o.Value] = true
		case opSRem:
			if o.Outcome != outcomeFail {
				removed[o.Key+"\x00"+o.Value] = true
			}
		case opSetOwn:
			seq, _ := strconv.Atoi(o.Value)
			ownMax[o.Key] = max(ownMax[o.Key], seq)
			if required(o) {
				ownAcked[o.Key] = max(ownAcked[o.Key], seq)
			}
		case opIncr:
			c := incr[o.Key]
			switch {
			case required(o):
				c[0]++
			case o.Outcome != outcomeFail:
				c[1]++
			}
			incr[o.Key] = c
		}
	}

	orphanedKinds := map[opKind]int{}
	var orphanedFrom, orphanedTo time.Duration
	for i, n := range in.Final {
		for _, o := range in.History {
			gone := o.Kind == opSAdd && removed[o.Key+"\x00"+o.Value] // removed later: absent by right
			if o.Outcome == outcomeOK && !required(o) && i == 0 && !gone && !has(n, o) {
				r.Orphaned++ // acknowledged by a removed node only, and gone with it
				orphanedKinds[o.Kind]++
				if orphanedFrom == 0 || o.Start < orphanedFrom {
					orphanedFrom = o.Start
				}
				orphanedTo = max(orphanedTo, o.End)
				if len(r.Notes) < maxProblems {
					r.Notes = append(r.Notes, fmt.Sprintf("orphaned: %v", o))
				}
			}
			if !required(o) {
				continue
			}
			switch o.Kind {
			case opSet, opCollapse:
				if got, ok := n.Values[o.Key]; !ok || got != o.Value {
					r.problem(&r.Lost, "%s: lost %v (have %q, present %v)", n.Node, o, got, ok)
				}
			case opTxn:
				// The transaction's own key (the last) is unique to it.
				k := o.Keys[len(o.Keys)-1]
				if got, ok := n.Values[k]; !ok || got != o.Value {
					r.problem(&r.Lost, "%s: lost %v (key %s has %q)", n.Node, o, k, got)
				}
			case opSAdd:
				if !removed[o.Key+"\x00"+o.Value] && !n.Sets[o.Key][o.Value] {
					r.problem(&r.Lost, "%s: lost %v", n.Node, o)
				}
			case opSRem:
				if n.Sets[o.Key][o.Value] {
					r.problem(&r.Phantom, "%s: removed member back: %v", n.Node, o)
				}
			}
		}
		for key, members := range n.Sets {
			for m := range members {
				if !added[key+"\x00"+m] {
					r.problem(&r.Phantom, "%s: set %s has %q, never added", n.Node, key, m)
				}
			}
		}
		for key, c := range incr {
			if got := n.Counters[key]; got < int64(c[0]) {
				r.problem(&r.Lost, "%s: counter %s = %d below %d acknowledged", n.Node, key, got, c[0])
			} else if got > int64(c[0]+c[1]) {
				r.problem(&r.Phantom, "%s: counter %s = %d above %d acknowledged + %d maybe", n.Node, key, got, c[0], c[1])
			}
		}
		for key, hi := range ownMax {
			v, ok := n.Values[key]
			seq, err := strconv.Atoi(v)
			switch {
			case !ok && ownAcked[key] == 0:
			case !ok || err != nil || seq < ownAcked[key]:
				r.problem(&r.Lost, "%s: register %s = %q, acknowledged %d", n.Node, key, v, ownAcked[key])
			case seq > hi:
				r.problem(&r.Phantom, "%s: register %s = %d, highest written %d", n.Node, key, seq, hi)
			}
		}
		groups := make([]string, 0, len(in.TxnKeys))
		for g := range in.TxnKeys {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		for _, g := range groups {
			checkTxnGroup(&r, n.Node, g, in.TxnKeys[g], n.Values, txnTokens)
		}
	}
	if len(orphanedKinds) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("orphaned by kind: %v, written in [%v, %v]", orphanedKinds,
			orphanedFrom.Round(time.Millisecond), orphanedTo.Round(time.Millisecond)))
	}
	return r
}

// has reports whether node state n holds what write o wrote (register
// writes and transactions; other kinds report true).
func has(n nodeState, o op) bool {
	switch o.Kind {
	case opSet, opCollapse:
		return n.Values[o.Key] == o.Value
	case opTxn:
		return n.Values[o.Keys[len(o.Keys)-1]] == o.Value
	case opSAdd:
		return n.Sets[o.Key][o.Value]
	}
	return true
}

// checkTxnGroup checks that the keys every transaction of a group writes
// hold one token, or are all missing, and that the token was written.
func checkTxnGroup(r *report, node, group string, keys []string, values map[string]string, tokens map[string]bool) {
	var vals []string
	present := 0
	for _, k := range keys {
		v, ok := values[k]
		if ok {
			present++
		}
		vals = append(vals, v)
	}
	if present == 0 {
		return
	}
	for _, v := range vals[1:] {
		if present != len(keys) || v != vals[0] {
			r.problem(&r.Atomicity, "%s: transaction group %s reads %s", node, group, strings.Join(vals, ","))
			return
		}
	}
	if !tokens[vals[0]] {
		r.problem(&r.Phantom, "%s: transaction group %s holds %q, never written", node, group, vals[0])
	}
}

// checkAvailability counts writes that failed on a host that was up, and
// network faults during which an up host acknowledged no write.
func checkAvailability(in checkInput, r *report) {
	down := func(host int, from, to time.Duration) bool {
		for _, w := range in.Down {
			if w.Host == host && w.overlaps(from, to) {
				return true
			}
		}
		return false
	}
	for _, o := range in.History {
		if o.Outcome != outcomeOK && !down(o.Host, o.Start, o.End) {
			r.problem(&r.Unavailable, "write refused on an up host: %v", o)
		}
	}
	for _, f := range in.Faults {
		for _, h := range in.Hosts {
			if down(h, f.From, f.To) {
				continue
			}
			wrote := false
			for _, o := range in.History {
				if o.Host == h && o.Outcome == outcomeOK && f.overlaps(o.Start, o.End) {
					wrote = true
					break
				}
			}
			if !wrote {
				r.problem(&r.Unavailable, "host %d acknowledged no write during %s [%v,%v]", h, f.What, f.From, f.To)
			}
		}
	}
}
