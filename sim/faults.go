package sim

import (
	"errors"

	"github.com/spooksystems/spook/check"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// ClockOffsetMsMax bounds a node's clock offset after jumps. Two nodes
// are then at most 2×ClockOffsetMsMax = 50 s apart, below the replica's
// default bound on remote clocks (causal.DefaultMaxAheadMs, 60 s), so no
// write is refused for good; a hybrid logical clock never runs ahead of
// the fastest physical clock, so relayed timestamps stay within it too.
const ClockOffsetMsMax = 25_000

// injectFaults draws this step's faults. It runs only in the fault phase.
func (s *simulator) injectFaults() {
	g := s.faults
	n := len(s.nodes)

	if s.victim >= 0 && s.step == s.killAt {
		v := s.nodes[s.victim]
		s.trace.event(evKill, uint64(v.idx))
		if v.up() {
			s.crash(v, true)
		} else {
			v.dead = true
			s.resetSessions(v)
		}
		v.dead = true
		v.removed = true
		if s.hist.Exempt == nil {
			s.hist.Exempt = map[causal.NodeID]bool{}
		}
		s.hist.Exempt[v.id] = true
		s.logf("%s killed for good", v.name)
	}
	if s.victim >= 0 && s.step >= s.removeAt {
		s.tryRemove()
	}
	if s.leaver >= 0 && s.step >= s.leaveAt {
		s.tryLeave()
	}
	if s.joiner >= 0 && s.step == s.joinAt {
		j := s.nodes[s.joiner]
		s.trace.event(evJoin, uint64(j.idx))
		s.logf("%s starts and joins", j.name)
		s.start(j)
	}

	for _, nd := range s.nodes {
		switch {
		case nd.dead || nd.unstarted:
		case !nd.up():
			if s.step >= nd.downUntil {
				s.restart(nd)
			}
		case nd.failedUntil > 0:
			s.checkFailStopped(nd)
			if s.step >= nd.failedUntil {
				s.crash(nd, false) // the operator restarts the failed process
			}
		case g.chance(s.p.CrashRate):
			nd.downUntil = s.step + 1 + g.exp(s.p.DownTicksAvg, DownTicksMax)
			if s.res.Crashes%3 == 1 {
				// Every third crash is first a disk failure: the node
				// fail-stops and stays up, failed, for half its down time.
				s.failDisk(nd)
				break
			}
			s.crash(nd, false)
		case s.step >= nd.pausedUntil && g.chance(s.p.PauseRate):
			nd.pausedUntil = s.step + 1 + g.exp(s.p.PauseTicksAvg, PauseTicksMax)
			s.trace.event(evPause, uint64(nd.idx), uint64(nd.pausedUntil))
			s.logf("%s paused until %d", nd.name, nd.pausedUntil)
		}
		if g.chance(s.p.ClockJumpRate) {
			d := int64(g.between(-ClockJumpMsMax, ClockJumpMsMax))
			nd.clockOffsetMs = max(-ClockOffsetMsMax, min(ClockOffsetMsMax, nd.clockOffsetMs+d))
			s.trace.event(evClockJump, uint64(nd.idx), uint64(nd.clockOffsetMs))
			s.logf("%s clock jumps %+d ms to offset %+d ms", nd.name, d, nd.clockOffsetMs)
		}
	}

	if s.partitionUntil > 0 && s.step >= s.partitionUntil {
		s.healPartition()
	}
	if s.partitionUntil == 0 && g.chance(s.p.PartitionRate) {
		sh := s.p.Shapes[g.intn(len(s.p.Shapes))]
		cut := partitionMatrix(g, sh, n, s.p.Regions)
		s.partitionUntil = s.step + 1 + g.exp(s.p.PartitionTicksAvg, PartitionTicksMax)
		s.res.Partitions++
		s.trace.event(evPartition, uint64(sh), uint64(s.partitionUntil))
		s.links.partition(cut, func(l *link) { s.breakLink(l) })
		if s.o.Log != nil {
			s.logf("partition %s until %d: %s", sh, s.partitionUntil, s.describeCut(cut))
		}
	}

	s.links.breaks(g, s.p.LinkBreakRate, func(i int, l *link) {
		s.trace.event(evLinkBreak, uint64(i))
		s.breakLink(l)
	})
}

func (s *simulator) healPartition() {
	s.links.heal()
	s.partitionUntil = 0
	s.trace.event(evHeal, 0)
	s.logf("partition healed")
}

func (s *simulator) describeCut(cut []bool) string {
	n := len(s.nodes)
	out := ""
	for i, c := range cut {
		if c {
			if out != "" {
				out += " "
			}
			out += s.nodes[i/n].name + "↛" + s.nodes[i%n].name
		}
	}
	return out
}

// errDiskFailed is the cause of an injected disk failure.
var errDiskFailed = errors.New("sim: injected disk failure")

// failDisk puts n in fail-stop, as its driver does when an append or an
// fsync fails: from now on its core must refuse input and emit nothing,
// and writes waiting for durability are answered as unknown (never
// acknowledged). The node stays up, failed, until it is restarted.
func (s *simulator) failDisk(n *node) {
	n.core.Fail(errDiskFailed)
	n.failedUntil = s.step + 1 + (n.downUntil-s.step)/2
	n.failedApplied = n.r.Applied()
	s.trace.event(evFail, uint64(n.idx))
	s.logf("%s disk fails: fail-stop until %d", n.name, n.failedUntil)
	s.drain(n)
}

// checkFailStopped holds a failed node to fail-stop: its applied state
// never moves and its core hands out nothing.
func (s *simulator) checkFailStopped(n *node) {
	if a := n.r.Applied(); !a.Equal(&n.failedApplied) {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s applied %v after it fail-stopped at %v",
			s.step, n.name, &a, &n.failedApplied)
	}
	if n.core.HasReady() {
		s.res.Report.Addf(check.CheckReplica, "step %d: %s has output after fail-stop", s.step, n.name)
	}
}

// tryRemove has an operator remove the victim through a node that is up,
// unless a removal is already in flight or durable.
func (s *simulator) tryRemove() {
	if s.removeDone || s.removeNode >= 0 {
		return
	}
	start := s.faults.intn(len(s.nodes))
	for k := range s.nodes {
		nd := s.nodes[(start+k)%len(s.nodes)]
		if !nd.up() || nd.dead || s.step < nd.pausedUntil {
			continue
		}
		tok, err := nd.core.Remove(0, s.nodes[s.victim].id)
		s.trace.event(evRemove, uint64(nd.idx))
		switch {
		case err == nil:
			s.internal(tok)
			s.removeNode = nd.idx
			s.drain(nd)
			s.removeUpTo = nd.disk.total()
			s.logf("%s proposes the removal of %s", nd.name, s.nodes[s.victim].name)
		case errors.Is(err, replica.ErrUnknownMember):
			// Already removed (an earlier proposal survived after all).
			s.removeDone = true
		default:
			s.logf("%s Remove(%s): %v", nd.name, s.nodes[s.victim].name, err)
			continue
		}
		return
	}
}

// tryLeave drives the graceful departure of the leaver: it proposes
// Leave (again after a crash lost it), and once every other member that
// is not gone for good is up and shows it as left, stops it for good. Other members apply the
// leave only after everything the leaver wrote before it (its causal
// past), so stopping then loses nothing.
func (s *simulator) tryLeave() {
	if s.leaveDone {
		return
	}
	l := s.nodes[s.leaver]
	if !s.usable(l) {
		return
	}
	if st := l.r.Status().State; st == replica.NodeMember {
		tok, err := l.core.Leave(0)
		s.trace.event(evLeave, uint64(l.idx), tok.Counter)
		if err != nil {
			s.logf("%s Leave: %v", l.name, err)
			return
		}
		s.internal(tok)
		s.logf("%s proposes its departure %v", l.name, tok)
		s.drain(l)
		return
	}
	for _, o := range s.nodes {
		if o == l || o.dead || o.unstarted {
			continue
		}
		if !o.up() {
			return // a member that is down (it will restart) must see it too
		}
		left := false
		for _, m := range o.r.Members() {
			if m.ID == l.id {
				left = m.State == replica.StateLeft
			}
		}
		if !left {
			return
		}
	}
	s.logf("%s has left; every other member knows it; it stops", l.name)
	s.leaveDone = true
	s.crash(l, true)
}

// internal records that tok names one of the replica's own transactions,
// replacing a client write the history held under that dot (lost in a
// crash before it was durable, its counter then used again).
func (s *simulator) internal(tok replica.Token) {
	if tok.IsZero() {
		return
	}
	if w := s.hist.Write(tok); w != nil && w.Txn == nil && !w.Internal {
		s.uncaptured--
	}
	s.hist.AddInternal(tok)
}

// heal ends every fault: partitions healed, paused nodes resumed, crashed
// nodes restarted (except the one killed for good), and no more drops,
// breaks or clock jumps, and every clock is set right (its offset back
// to zero, as NTP would). Latencies stay.
func (s *simulator) heal() {
	s.healed = true
	s.trace.event(evPhase, uint64(s.step))
	s.logf("heal")
	s.healPartition()
	for _, nd := range s.nodes {
		nd.pausedUntil = 0
		nd.clockOffsetMs = 0
		switch {
		case nd.unstarted:
			s.start(nd)
		case nd.failedUntil > 0:
			s.crash(nd, false)
			s.restart(nd)
		case !nd.dead && !nd.up():
			s.restart(nd)
		}
	}
	if s.victim >= 0 {
		s.tryRemove()
	}
}
