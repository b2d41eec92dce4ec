package driver

import (
	"fmt"

	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// window counts one peer's pushed-transaction bytes in flight: sent and
// not yet covered by an applied vector the peer reported.
type window struct {
	bytes        int // sum of inflight[i].bytes
	inflight     []flight
	progressTick uint64 // last tick the window was empty or shrank
	reportedTick uint64 // tick+1 of the last ReportDropped for this peer
	// blocked is set when a push is not admitted and cleared when the
	// window empties: pushes after a dropped one would only wait in the
	// peer's causal buffer for it, so they are dropped too until the peer
	// has caught up by fetching.
	blocked bool
}

// flight is one transaction batch in flight: released once the peer's
// applied vector holds the highest dot of each origin in the batch: the
// first origin's in first (inline: a batch usually has one origin, so no
// allocation), any other origins' in more.
type flight struct {
	bytes int
	first causal.Dot // zero for a batch without transactions
	more  []causal.Dot
}

// admit records env as in flight if it fits under maxBytes. A batch larger
// than the whole window is admitted into an empty window, so a
// transaction at the size limit can always travel.
func (w *window) admit(env replica.Envelope, maxBytes int, tick uint64) bool {
	size := max(env.Bytes, 1)
	if w.bytes == 0 {
		w.blocked = false
	}
	if w.blocked || (w.bytes > 0 && w.bytes+size > maxBytes) {
		w.blocked = true
		return false
	}
	if w.bytes == 0 {
		w.progressTick = tick
	}
	w.bytes += size
	first, more := lastDots(env.Message.Txns)
	w.inflight = append(w.inflight, flight{bytes: size, first: first, more: more})
	return true
}

// lastDots returns the highest dot of each origin among txns, which are in
// causal order: the first origin's, then the others'.
func lastDots(txns []*crdt.Txn) (first causal.Dot, more []causal.Dot) {
	for _, t := range txns {
		switch {
		case first.Counter == 0:
			first = t.Dot
			continue
		case first.Node == t.Dot.Node:
			first.Counter = max(first.Counter, t.Dot.Counter)
			continue
		}
		found := false
		for i := range more {
			if more[i].Node == t.Dot.Node {
				more[i].Counter = max(more[i].Counter, t.Dot.Counter)
				found = true
				break
			}
		}
		if !found {
			more = append(more, t.Dot)
		}
	}
	return first, more
}

// ack releases every batch whose dots applied holds. Batches are released
// in any order: a peer may get a later batch through another path first.
func (w *window) ack(applied *causal.VersionVector, tick uint64) {
	if w.bytes == 0 {
		return
	}
	kept := w.inflight[:0]
	for _, f := range w.inflight {
		if covered(applied, f) {
			w.bytes -= f.bytes
			continue
		}
		kept = append(kept, f)
	}
	if len(kept) < len(w.inflight) {
		w.progressTick = tick
	}
	clear(w.inflight[len(kept):])
	w.inflight = kept
}

// covered reports whether v holds every dot f waits for.
func covered(v *causal.VersionVector, f flight) bool {
	if v.Get(f.first.Node) < f.first.Counter {
		return false
	}
	for _, d := range f.more {
		if v.Get(d.Node) < d.Counter {
			return false
		}
	}
	return true
}

// release gives back the bytes of the most recent batch of that size (a
// batch the driver could not queue after all).
func (w *window) release(size int) {
	size = max(size, 1)
	for i := len(w.inflight) - 1; i >= 0; i-- {
		if w.inflight[i].bytes == size {
			w.bytes -= size
			w.inflight = append(w.inflight[:i], w.inflight[i+1:]...)
			return
		}
	}
}

// reset forgets everything in flight (lost with its link).
func (w *window) reset(tick uint64) {
	w.bytes, w.inflight, w.progressTick, w.blocked = 0, nil, tick, false
}

// check asserts the window's accounting.
func (w *window) check(id causal.NodeID, maxBytes int) {
	sum, largest := 0, 0
	for _, f := range w.inflight {
		sum += f.bytes
		largest = max(largest, f.bytes)
	}
	if sum != w.bytes {
		panic(fmt.Sprintf("driver: window of %s counts %d bytes, holds %d", id, w.bytes, sum))
	}
	if w.bytes > max(maxBytes, largest) {
		panic(fmt.Sprintf("driver: window of %s at %d bytes, limit %d", id, w.bytes, maxBytes))
	}
}
