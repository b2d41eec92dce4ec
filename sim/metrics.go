package sim

import (
	"fmt"
	"slices"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/replica"
)

// Figures are the per-update costs of a run (doc.go, "Scale figures",
// defines each). Counts cover every message the replicas sent in the
// whole run, fault phase and convergence, background traffic included.
type Figures struct {
	Updates          int   // client writes committed (given a dot)
	Messages         int64 // replica messages put on a link
	PayloadCopies    int64 // transactions carried by those messages
	OriginSends      int64 // of which sent by the transaction's origin
	Bytes            int64 // encoded payload bytes of those messages
	CrossRegionBytes int64 // of which between two regions
	// VectorBytes is the bytes of the applied-vector field (the only
	// per-message metadata that grows with the cluster), included in
	// Bytes.
	VectorBytes int64
	// ConvergenceTicksP99 and CollapseTicksP99 are the 99th percentiles,
	// over the updates applied everywhere at the end, of the ticks from
	// the proposal to the first step at which every live replica had
	// applied the update (had it below its collapsed cut); -1 for none.
	ConvergenceTicksP99, CollapseTicksP99 int
	// Measured is how many updates the percentiles are over.
	Measured int
}

// per returns x per update.
func (f *Figures) per(x int64) float64 {
	if f.Updates == 0 {
		return 0
	}
	return float64(x) / float64(f.Updates)
}

// String prints the figures as key=value, in the order doc.go defines
// them.
func (f *Figures) String() string {
	perMsg := 0.0
	if f.Messages > 0 {
		perMsg = float64(f.VectorBytes) / float64(f.Messages)
	}
	return fmt.Sprintf("msgs_per_update=%.1f payload_copies_per_update=%.1f origin_sends_per_update=%.1f "+
		"bytes_per_update=%.0f vector_bytes_per_msg=%.1f cross_region_bytes_per_update=%.0f "+
		"convergence_ticks_p99=%d collapse_ticks_p99=%d updates=%d measured=%d",
		f.per(f.Messages), f.per(f.PayloadCopies), f.per(f.OriginSends), f.per(f.Bytes), perMsg,
		f.per(f.CrossRegionBytes), f.ConvergenceTicksP99, f.CollapseTicksP99, f.Updates, f.Measured)
}

// meter counts what Figures report while a run goes on.
type meter struct {
	f Figures
	// proposedAt is the step each client write was proposed at.
	proposedAt map[causal.Dot]int
	// applied and collapsed record, per node index, when its applied
	// vector and its collapsed cut first reached each counter.
	applied, collapsed []progress
}

// progress is one node's first-reached steps: per origin, the highest
// counter seen so far and the steps at which it rose.
type progress struct {
	seen  map[causal.NodeID]uint64
	marks map[causal.NodeID][]mark
}

// mark says: at step, the counter of an origin reached counter.
type mark struct {
	counter uint64
	step    int
}

// observe records the entries of v that rose above what was seen.
func (p *progress) observe(v *causal.VersionVector, step int) {
	if p.seen == nil {
		p.seen, p.marks = map[causal.NodeID]uint64{}, map[causal.NodeID][]mark{}
	}
	for _, e := range v.Entries() {
		if e.Counter > p.seen[e.Node] {
			p.seen[e.Node] = e.Counter
			p.marks[e.Node] = append(p.marks[e.Node], mark{counter: e.Counter, step: step})
		}
	}
}

// reached returns the first step at which d's origin counter reached
// d's, or false if it never did.
func (p *progress) reached(d causal.Dot) (int, bool) {
	ms := p.marks[d.Node]
	i, _ := slices.BinarySearchFunc(ms, d.Counter, func(m mark, c uint64) int {
		switch {
		case m.counter < c:
			return -1
		case m.counter > c:
			return 1
		}
		return 0
	})
	if i == len(ms) {
		return 0, false
	}
	return ms[i].step, true
}

func (m *meter) init(nodes int) {
	m.proposedAt = map[causal.Dot]int{}
	m.applied = make([]progress, nodes)
	m.collapsed = make([]progress, nodes)
}

// proposed notes a client write committed at step.
func (m *meter) proposed(d causal.Dot, step int) {
	m.f.Updates++
	m.proposedAt[d] = step
}

// sent counts one message from n to node index to, bytes long, of which
// vectorBytes encode its applied vector.
func (s *simulator) meterSent(n *node, to int, msg *replica.Message, bytes, vectorBytes int) {
	f := &s.meter.f
	f.Messages++
	f.Bytes += int64(bytes)
	f.VectorBytes += int64(vectorBytes)
	if s.p.region(n.idx) != s.p.region(to) {
		f.CrossRegionBytes += int64(bytes)
	}
	if msg.Type == replica.MsgTxns {
		f.PayloadCopies += int64(len(msg.Txns))
		for _, t := range msg.Txns {
			if t.Dot.Node == n.id {
				f.OriginSends++
			}
		}
	}
}

// observeApplied records every up node's applied vector after a step.
func (s *simulator) observeApplied() {
	if s.o.Forge {
		s.checkForged()
	}
	for _, n := range s.nodes {
		if n.up() {
			s.meter.applied[n.idx].observe(&n.r.Keyspace().Context().Vector, s.step)
		}
	}
}

// figures computes the percentiles over the nodes live at the end.
func (s *simulator) figures() Figures {
	f := s.meter.f
	live := s.live()
	var conv, coll []int
	for d, at := range s.meter.proposedAt {
		last, lastCut, ok, okCut := at, at, true, true
		for _, n := range live {
			st, reached := s.meter.applied[n.idx].reached(d)
			ok = ok && reached
			last = max(last, st)
			ct, reachedCut := s.meter.collapsed[n.idx].reached(d)
			okCut = okCut && reachedCut
			lastCut = max(lastCut, ct)
		}
		if ok && len(live) > 0 {
			conv = append(conv, last-at)
		}
		if okCut && len(live) > 0 {
			coll = append(coll, lastCut-at)
		}
	}
	slices.Sort(conv)
	slices.Sort(coll)
	f.Measured = len(conv)
	f.ConvergenceTicksP99 = percentile99(conv)
	f.CollapseTicksP99 = percentile99(coll)
	return f
}

// percentile99 is the nearest-rank 99th percentile of sorted values, or
// -1 for none.
func percentile99(sorted []int) int {
	if len(sorted) == 0 {
		return -1
	}
	i := (len(sorted)*99 + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}
