package check

import (
	"fmt"
	"slices"
	"strings"
)

// MaxFailures bounds the failures a Report keeps; further ones are only
// counted (Dropped), so a badly broken run cannot use unbounded memory.
const MaxFailures = 32

// Failure is one violated invariant: which checker found it and what.
type Failure struct {
	Check  string // the checker's name: "converged", "lost-write", ...
	Detail string
}

func (f Failure) String() string { return f.Check + ": " + f.Detail }

// Report collects failures. The zero value is an empty report.
type Report struct {
	Failures []Failure
	Dropped  int // failures beyond MaxFailures, counted but not kept
}

// Addf records a failure of the named check.
func (r *Report) Addf(check, format string, args ...any) {
	if len(r.Failures) >= MaxFailures {
		r.Dropped++
		return
	}
	r.Failures = append(r.Failures, Failure{Check: check, Detail: fmt.Sprintf(format, args...)})
}

// OK reports whether no failure was recorded.
func (r *Report) OK() bool { return len(r.Failures) == 0 && r.Dropped == 0 }

// Has reports whether a failure of the named check was recorded.
func (r *Report) Has(check string) bool {
	for _, f := range r.Failures {
		if f.Check == check {
			return true
		}
	}
	return false
}

// String lists the failures, one per line.
func (r *Report) String() string {
	var b strings.Builder
	for _, f := range r.Failures {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	if r.Dropped > 0 {
		fmt.Fprintf(&b, "(%d more failures not kept)\n", r.Dropped)
	}
	return b.String()
}

// Checks lists the names of the checks that failed, in order of first
// failure, each once.
func (r *Report) Checks() []string {
	var out []string
	for _, f := range r.Failures {
		if !slices.Contains(out, f.Check) {
			out = append(out, f.Check)
		}
	}
	return out
}

// First returns the first failure's text, or "" for an OK report.
func (r *Report) First() string {
	if len(r.Failures) == 0 {
		return ""
	}
	return r.Failures[0].String()
}

// Names of the checks, as they appear in Failure.Check.
const (
	CheckConverged = "converged"
	CheckOracle    = "oracle"
	CheckCommute   = "commute" // the crdt gives different states for two causal orders
	CheckLostWrite = "lost-write"
	CheckCounter   = "counter"
	CheckAtomic    = "atomic"
	CheckSession   = "session"
	CheckCausal    = "causal"
	CheckExpiry    = "expiry" // a read returned a key past its deadline beyond the clock bound
	CheckCollapse  = "collapse"
	CheckLiveness  = "liveness"
	CheckReplica   = "replica"  // the replica returned an error it must not
	CheckBCounter  = "bcounter" // a bounded counter below its floor, or a node's rights below zero
)
