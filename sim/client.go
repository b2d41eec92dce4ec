package sim

import (
	"errors"
	"slices"
	"strconv"

	"github.com/spooksystems/spook/check"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
)

// workload issues this step's client operations.
func (s *simulator) workload() {
	k := int(s.p.OpsPerStep)
	if s.work.chance(s.p.OpsPerStep - float64(k)) {
		k++
	}
	for range min(k, OpsPerStepMax) {
		s.clientOp(s.sessions[s.work.intn(len(s.sessions))])
	}
}

// usable reports whether a client can talk to n now.
func (s *simulator) usable(n *node) bool { return n.up() && !n.dead && s.step >= n.pausedUntil }

// clientOp runs one operation of session ss, if its node can serve it.
func (s *simulator) clientOp(ss *session) {
	if ss.waitFor >= 0 {
		t := s.nodes[ss.waitFor]
		switch {
		case t.dead:
			ss.waitFor = -1
		case s.usable(t):
			applied := t.r.Applied()
			if applied.Dominates(&ss.lastSeen) {
				s.logf("session %d moves %s → %s", ss.id, s.nodes[ss.node].name, t.name)
				ss.node, ss.waitFor = t.idx, -1
			}
		}
	}
	n := s.nodes[ss.node]
	if !s.usable(n) {
		return // the client times out; it tries again later
	}
	if ss.waitFor < 0 && s.work.chance(s.p.MigrateRate) {
		if t := s.work.intn(len(s.nodes)); t != n.idx && !s.nodes[t].dead {
			ss.waitFor = t
		}
	}
	if s.work.chance(s.p.ReadRate) {
		s.read(n, ss)
	} else {
		s.write(n, ss)
	}
	ss.lastSeen = n.r.Applied()
}

func (s *simulator) read(n *node, ss *session) {
	s.res.Reads++
	ks := n.r.Keyspace()
	if s.work.chance(0.5) {
		k := s.work.intn(s.p.KeysPerKind)
		a, b := pairKeys(k)
		r := check.PairRead{Step: s.step, Node: n.id, Pair: string(a[:len(a)-2]),
			A: check.RegisterValues(ks, a), B: check.RegisterValues(ks, b)}
		s.hist.PairReads = append(s.hist.PairReads, r)
		if s.o.Log != nil && !slices.Equal(r.A, r.B) {
			s.logf("%s pair read %s differs: a=%s b=%s applied=%v", n.name, r.Pair,
				check.Render(ks.Get(a)), check.Render(ks.Get(b)), n.r.Applied())
		}
		s.trace.event(evRead, uint64(n.idx), uint64(len(r.A)), uint64(len(r.B)))
		for _, v := range r.A {
			s.trace.bytes([]byte(v))
		}
		return
	}
	if s.work.chance(0.2) {
		// An expiring key, read as a client of n reads it: hidden once
		// its deadline is at or before n's clock.
		key := keyOf(prefixExpiring, s.work.intn(s.p.KeysPerKind))
		now := s.nowMs(n)
		r := check.ExpiryRead{Step: s.step, Node: n.id, Key: string(key), TrueMs: s.trueMs(), ReaderMs: now, Deadline: -1}
		for _, o := range s.nodes {
			r.BoundMs = max(r.BoundMs, o.clockOffsetMs, -o.clockOffsetMs)
		}
		if v := ks.Get(key); v != nil && !v.Expired(now) {
			r.Visible = true
			if d, ok := v.Deadline(); ok {
				r.Deadline = int64(d)
			}
		} else if v != nil {
			r.Expired = true
		}
		s.hist.Expiry = append(s.hist.Expiry, r)
		s.trace.event(evRead, uint64(n.idx), uint64(r.Deadline))
		return
	}
	if s.work.chance(0.5) {
		// Another session's causal mark and own counter, read together.
		o := s.sessions[s.work.intn(len(s.sessions))]
		r := check.CausalRead{Step: s.step, Node: n.id, Session: o.id, Mark: -1, Count: counterOf(ks.Get(o.ownKey))}
		if val := ks.Get(o.markKey); val != nil {
			if reg, ok := val.Register(); ok {
				if m, err := strconv.ParseInt(string(reg), 10, 64); err == nil {
					r.Mark = m
				}
			}
		}
		s.hist.Causal = append(s.hist.Causal, r)
		if s.o.Log != nil && r.Count < r.Mark {
			s.logf("%s causal read of session %d: mark=%s own=%s applied=%v", n.name, o.id,
				check.Render(ks.Get(o.markKey)), check.Render(ks.Get(o.ownKey)), n.r.Applied())
		}
		s.trace.event(evRead, uint64(n.idx), uint64(r.Mark), uint64(r.Count))
		return
	}
	v := counterOf(ks.Get(ss.ownKey))
	s.hist.Sessions = append(s.hist.Sessions, check.SessionRead{Step: s.step, Session: ss.id, Node: n.id,
		Key: string(ss.ownKey), Value: v, AckedSum: ss.acked})
	s.trace.event(evRead, uint64(n.idx), uint64(v))
}

func (s *simulator) write(n *node, ss *session) {
	o := drawOp(s.work, &s.p, ss, s.step, &s.largeWrites)
	var incs []check.Increment
	n.nextTicket++
	ticket := n.nextTicket
	planted, planting := s.plantNext(n) // Options.Forge (forge.go)
	tok, err := n.core.Propose(ticket, func(b *crdt.Builder) error {
		var err error
		incs, err = o.build(b, ss)
		return err
	})
	if planting {
		s.plantSettle(n, planted)
	}
	s.trace.event(evPropose, uint64(n.idx), uint64(o.kind), tok.Counter)
	switch {
	case errors.Is(err, replica.ErrReadOnly), errors.Is(err, driver.ErrFailed):
		s.logf("%s session %d: write refused: %v", n.name, ss.id, err)
		return
	case errors.Is(err, replica.ErrTxnTooLarge):
		// Refused before anything happened: the client gets an error,
		// and nothing is acknowledged or applied.
		s.logf("%s session %d: write refused: %v", n.name, ss.id, err)
		return
	case err != nil:
		s.res.Report.Addf(check.CheckReplica, "step %d: %s Propose(%d) returned %v", s.step, n.name, o.kind, err)
		return
	case tok.IsZero():
		return // changed nothing (removing an absent member)
	}
	s.res.Proposed++
	s.meter.proposed(tok, s.step)
	if old := s.hist.Write(tok); old != nil && old.Txn == nil && !old.Internal {
		s.uncaptured-- // replaced below
	}
	s.hist.AddWrite(&check.Write{Dot: tok, Session: ss.id, Step: s.step, Increments: incs})
	s.uncaptured++
	a := pendingAck{dot: tok, session: ss.id}
	if o.kind == opOwnIncrement {
		a.own = o.by
		ss.proposed += o.by
	}
	if n.acks == nil {
		n.acks = map[driver.Ticket]pendingAck{}
	}
	n.acks[ticket] = a
	s.drain(n)
	if s.o.Log != nil {
		s.logf("%s session %d proposes %v kind=%d key=%d value=%s", n.name, ss.id, tok, o.kind, o.key, o.value)
	}
}

// counterOf reads a counter value, zero for nothing.
func counterOf(v *crdt.Value) int64 {
	if v == nil {
		return 0
	}
	c, _ := v.Counter()
	return c
}
