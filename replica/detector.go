package replica

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// maxRelays bounds the indirect probes this node runs on behalf of others
// at once; a request beyond it is ignored (the requester then relies on
// its other helpers). Each lives at most one probe period.
const maxRelays = 64

// probeState is the failure detector's current probe round.
type probeState struct {
	target    causal.NodeID // zero: no probe in flight
	seq       uint64
	startTick uint64
	acked     bool
	indirect  bool // ping-reqs sent
}

// relay is an indirect probe run for another node: when target acks seq,
// forward an ack of requesterSeq to requester.
type relay struct {
	requester    causal.NodeID
	requesterSeq uint64
	target       causal.NodeID
	seq          uint64
	tick         uint64
}

// probeable lists the members the detector probes: every current member.
func (r *Replica) probeable() []causal.NodeID {
	var ids []causal.NodeID
	for _, id := range r.order {
		if r.peers[id].status == StateAlive {
			ids = append(ids, id)
		}
	}
	return ids
}

// tickProbe runs the SWIM probe schedule for one tick.
func (r *Replica) tickProbe() {
	pr := &r.probe
	if pr.target != 0 {
		elapsed := r.tick - pr.startTick
		if !pr.acked && !pr.indirect && elapsed >= uint64(r.cfg.ProbeTimeoutTicks) {
			pr.indirect = true
			r.sendPingReqs(pr.target, pr.seq)
		}
		if elapsed < uint64(r.cfg.ProbeTicks) {
			r.tickSuspects()
			return
		}
		// End of the round: an unanswered target becomes suspect.
		if p := r.peers[pr.target]; p != nil && !pr.acked && p.status == StateAlive &&
			p.live == StateAlive && p.heardTick < pr.startTick {
			p.live = StateSuspect
			p.suspectSince = r.tick
			r.suspects++
			r.event(EventPeerSuspect, p.ID, causal.Dot{},
				fmt.Sprintf("no answer to probe %d within %d ticks", pr.seq, r.cfg.ProbeTicks))
		}
		pr.target = 0
	}
	r.tickSuspects()
	r.expireRelays()
	// Start the next round: next member of a shuffled round-robin.
	if len(r.probeOrder) == 0 {
		r.probeOrder = r.probeable()
		shuffle(&r.rng, r.probeOrder)
	}
	for len(r.probeOrder) > 0 {
		id := r.probeOrder[0]
		r.probeOrder = r.probeOrder[1:]
		if p := r.peers[id]; p != nil && p.status == StateAlive {
			r.seq++
			*pr = probeState{target: id, seq: r.seq, startTick: r.tick}
			r.send(id, Message{Type: MsgPing, Seq: r.seq})
			return
		}
	}
}

// tickSuspects turns suspects silent for SuspectTicks into unreachable.
// It visits the members only while some may be suspect (r.suspects, an
// upper bound recounted here), so a healthy cluster pays nothing per
// tick for it however many members it has.
func (r *Replica) tickSuspects() {
	if r.suspects == 0 {
		return
	}
	suspects := 0
	for _, id := range r.order {
		p := r.peers[id]
		if p.status != StateAlive || p.live != StateSuspect {
			continue
		}
		if r.tick-p.suspectSince >= uint64(r.cfg.SuspectTicks) {
			p.live = StateUnreachable
			r.event(EventPeerUnreachable, id, causal.Dot{},
				fmt.Sprintf("suspect for %d ticks", r.cfg.SuspectTicks))
			continue
		}
		suspects++
	}
	r.suspects = suspects
}

func (r *Replica) expireRelays() {
	kept := r.relays[:0]
	for _, rl := range r.relays {
		if r.tick-rl.tick < uint64(r.cfg.ProbeTicks) {
			kept = append(kept, rl)
		}
	}
	r.relays = kept
}

// sendPingReqs asks up to IndirectProbes other reachable members to probe
// target.
func (r *Replica) sendPingReqs(target causal.NodeID, seq uint64) {
	var helpers []causal.NodeID
	for _, id := range r.order {
		if p := r.peers[id]; id != target && p.status == StateAlive && p.live == StateAlive {
			helpers = append(helpers, id)
		}
	}
	shuffle(&r.rng, helpers)
	for _, id := range helpers[:min(len(helpers), r.cfg.IndirectProbes)] {
		r.send(id, Message{Type: MsgPingReq, Seq: seq, Target: target})
	}
}

// stepProbe handles MsgPing, MsgPingAck and MsgPingReq.
func (r *Replica) stepProbe(from causal.NodeID, m *Message) {
	switch m.Type {
	case MsgPing:
		r.send(from, Message{Type: MsgPingAck, Seq: m.Seq})
	case MsgPingReq:
		if m.Target == r.id || m.Target == 0 || len(r.relays) >= maxRelays {
			return
		}
		r.seq++
		r.relays = append(r.relays, relay{requester: from, requesterSeq: m.Seq, target: m.Target,
			seq: r.seq, tick: r.tick})
		r.send(m.Target, Message{Type: MsgPing, Seq: r.seq})
	case MsgPingAck:
		subject := from
		if m.Target != 0 {
			subject = m.Target // an indirect ack: the helper heard subject
		} else {
			for i, rl := range r.relays {
				if rl.target == from && rl.seq == m.Seq {
					r.send(rl.requester, Message{Type: MsgPingAck, Seq: rl.requesterSeq, Target: from})
					r.relays = append(r.relays[:i], r.relays[i+1:]...)
					return
				}
			}
		}
		pr := &r.probe
		if pr.target == subject && pr.seq == m.Seq {
			pr.acked = true
			if p := r.peers[subject]; p != nil && m.Target != 0 {
				var none causal.VersionVector
				r.heard(subject, &none)
			}
		}
	}
}

// sendDigest sends a digest to the next reachable member, round-robin.
func (r *Replica) sendDigest() {
	var ids []causal.NodeID
	for _, id := range r.order {
		if p := r.peers[id]; p.status == StateAlive && p.live != StateUnreachable {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	r.digestNext = (r.digestNext + 1) % len(ids)
	r.send(ids[r.digestNext], Message{Type: MsgDigest, Hash: r.ks.Hash()})
}

// stepDigest compares a peer's digest with the local state. Seq 1 marks
// a digest sent in reply, which is never answered with another digest.
func (r *Replica) stepDigest(from causal.NodeID, m *Message) {
	ours := r.ks.Context().Vector
	switch ours.Compare(&m.Applied) {
	case causal.Equal:
		if m.Hash != r.ks.Hash() && r.sync == nil {
			r.event(EventDivergence, from, causal.Dot{},
				fmt.Sprintf("equal applied vectors, state hash %016x here, %016x there", r.ks.Hash(), m.Hash))
			r.startSync(from, "divergence")
		}
		return
	case causal.Before, causal.Concurrent:
		if r.deferFetch(from, &m.Applied, 2*uint64(r.cfg.DigestTicks)) {
			break
		}
		if t, ok := r.fetchSentAt[from]; !ok || r.tick-t >= uint64(r.cfg.DigestTicks) {
			r.fetchSentAt[from] = r.tick
			r.send(from, Message{Type: MsgFetch})
		}
	}
	if m.Seq == 0 && !m.Applied.Dominates(&ours) {
		// The sender lacks something of ours: answer so it can fetch.
		r.send(from, Message{Type: MsgDigest, Hash: r.ks.Hash(), Seq: 1})
	}
}

// stepFetch answers a catch-up request from the retained log.
func (r *Replica) stepFetch(from causal.NodeID, m *Message) {
	have := &m.Applied
	for _, e := range r.ks.Context().Vector.Entries() {
		if c := have.Get(e.Node); c < e.Counter && c < r.floor.Get(e.Node) {
			reason := fmt.Sprintf("needs %s:%d, retained log starts after %s:%d",
				e.Node, c+1, e.Node, r.floor.Get(e.Node))
			r.event(EventCatchUpTooFar, from, causal.Dot{}, reason)
			// The reason stays local (an event): on the wire the type says it.
			r.send(from, Message{Type: MsgTooFar})
			return
		}
	}
	r.sealTail()
	var batch []*crdt.Txn
	batchBytes, total := 0, 0
	var ends runEnds
	for _, e := range r.log {
		if have.Contains(e.dot) {
			continue
		}
		if total+len(e.record) > r.cfg.MaxFetchBytes && total > 0 && !ends.extend(e) {
			if ends.open == 0 {
				break
			}
			continue
		}
		txn := decodeRetained(e)
		ends.note(e)
		if batchBytes+len(e.record) > r.cfg.MaxBatchBytes && len(batch) > 0 {
			r.sendTxns(from, batch, batchBytes)
			batch, batchBytes = nil, 0
		}
		batch = append(batch, txn)
		batchBytes += len(e.record)
		total += len(e.record)
	}
	if len(batch) > 0 {
		r.sendTxns(from, batch, batchBytes)
	}
}
