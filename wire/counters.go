package wire

import "sync/atomic"

// Counters counts what went wrong on links, by Reason. One Counters is
// shared by all of a node's links (pass it in Config); it is safe for
// concurrent use. A nil *Counters counts nothing. The node exports the
// values as Prometheus counters labelled by Reason.String.
type Counters struct {
	refusedLocal  [reasonCount]atomic.Uint64 // we refused the peer's handshake
	refusedRemote [reasonCount]atomic.Uint64 // the peer refused ours
	frameErrors   [reasonCount]atomic.Uint64 // received frames that failed a check
}

// RefusedLocal is the number of handshakes this side refused for reason r.
func (c *Counters) RefusedLocal(r Reason) uint64 { return c.refusedLocal[clampReason(r)].Load() }

// RefusedRemote is the number of handshakes peers refused for reason r.
func (c *Counters) RefusedRemote(r Reason) uint64 { return c.refusedRemote[clampReason(r)].Load() }

// FrameErrors is the number of received frames (handshake or session)
// that failed a check for reason r; each kills its link.
func (c *Counters) FrameErrors(r Reason) uint64 { return c.frameErrors[clampReason(r)].Load() }

func clampReason(r Reason) Reason {
	if r >= reasonCount {
		return ReasonUnknown
	}
	return r
}

func (c *Counters) refuseLocal(r Reason) {
	if c != nil {
		c.refusedLocal[clampReason(r)].Add(1)
	}
}

func (c *Counters) refuseRemote(r Reason) {
	if c != nil {
		c.refusedRemote[clampReason(r)].Add(1)
	}
}

func (c *Counters) frameError(r Reason) {
	if c != nil && r != ReasonNone {
		c.frameErrors[clampReason(r)].Add(1)
	}
}
