package sim

import (
	"fmt"

	"github.com/spooksystems/spook/check"
)

// converged reports whether the healed cluster is done: nothing waits for
// a sync, every live replica has the same applied vector and state hash,
// and everything applied is collapsed on every live replica (which, with
// a member killed for good, needs its removal).
func (s *simulator) converged() bool {
	if s.victim >= 0 && !s.removeDone {
		s.tryRemove()
		return false
	}
	if s.leaver >= 0 && !s.leaveDone {
		s.tryLeave()
		return false
	}
	live := s.live()
	if len(live) == 0 {
		return true
	}
	for _, n := range live {
		if !n.core.Idle() || len(n.acks) > 0 {
			return false
		}
	}
	first := live[0].r
	hash := first.Keyspace().Hash()
	applied := first.Applied()
	for _, n := range live {
		if n.r.Keyspace().Hash() != hash {
			return false
		}
		a := n.r.Applied()
		if !a.Equal(&applied) {
			return false
		}
		cut := n.r.CollapsedVector()
		if !cut.Equal(&applied) {
			return false
		}
	}
	return true
}

// notConverged describes why the cluster has not converged.
func (s *simulator) notConverged() string {
	if s.victim >= 0 && !s.removeDone {
		return fmt.Sprintf("the removal of %s never became durable", s.nodes[s.victim].name)
	}
	if s.leaver >= 0 && !s.leaveDone {
		return fmt.Sprintf("%s never finished leaving", s.nodes[s.leaver].name)
	}
	// At most notConvergedNodesMax nodes are described: at 1,000
	// replicas the whole list is a megabyte of one line.
	const notConvergedNodesMax = 8
	out := ""
	live := s.live()
	if len(live) > notConvergedNodesMax {
		out = fmt.Sprintf("(%d of %d live nodes) ", notConvergedNodesMax, len(live))
		live = live[:notConvergedNodesMax]
	}
	for _, n := range live {
		st := n.r.Status()
		out += fmt.Sprintf("[%s hash=%016x applied=%v collapsed=%v pending=%d held=%t acks=%d repairing=%t]",
			n.name, st.Hash, st.Applied, st.Collapsed, st.Pending, !n.core.Idle(), len(n.acks), st.Repairing)
	}
	return out
}

// finalStates reads every live replica.
func (s *simulator) finalStates() []check.State {
	var states []check.State
	for _, n := range s.live() {
		states = append(states, s.state(n))
	}
	return states
}

// finish runs the checkers and fills the result.
func (s *simulator) finish() {
	s.res.StepsRun = s.step
	s.res.TraceHash = s.trace.sum()
	s.res.Events = s.trace.events
	s.res.Figures = s.figures()
	rep := &s.res.Report
	if s.res.ConvergenceTicks < 0 {
		rep.Addf(check.CheckLiveness, "not converged within %d ticks after heal: %s", ConvergenceTicksMax, s.notConverged())
	}
	states := s.finalStates()
	check.Converged(rep, states)
	check.LostWrites(rep, &s.hist, states)
	check.Counters(rep, &s.hist, states)
	check.Atomic(rep, &s.hist)
	check.Sessions(rep, &s.hist)
	check.Causal(rep, &s.hist)
	check.Expiry(rep, &s.hist)
	for _, r := range s.hist.Expiry {
		if r.Deadline >= 0 {
			s.res.DeadlineReads++
		}
		if r.Expired {
			s.res.ExpiredReads++
		}
	}
	for _, r := range s.hist.Causal {
		if r.Mark > 0 {
			s.res.MarkReads++
		}
	}
	check.CollapseFinal(rep, &s.hist, states)
	if s.res.ConvergenceTicks >= 0 {
		check.CollapsedEverywhere(rep, &s.hist, states)
	}
	if len(states) > 0 && s.res.ConvergenceTicks >= 0 {
		ctx := states[0].Keyspace.Context()
		for _, w := range s.hist.Writes {
			if w.Txn == nil && !w.Internal && ctx.Contains(w.Dot) {
				s.res.OracleSkipped = true
				break
			}
		}
		if !s.res.OracleSkipped {
			check.Oracle(rep, &s.hist, states, internalKey)
		}
	} else if len(states) > 0 {
		// No final state to compare with, but whether the data types
		// commute can still be judged on what the first replica applied.
		check.Commute(rep, &s.hist, states[0].Keyspace.Context(), internalKey)
	}
}
