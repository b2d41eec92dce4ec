package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spooksystems/spook/api"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
)

// DefaultLeaveTimeout bounds how long a graceful leave waits for the
// other members to apply the departure (spookd --leave-on-terminate and
// POST /v1/leave use it when the caller gives no deadline). A member that
// is down when the node leaves learns of it from the others.
const DefaultLeaveTimeout = 30 * time.Second

// ErrLeaveUnacknowledged is returned by Leave when the deadline passed
// before every reachable member had applied the departure. The node has
// left (it is read-only) and the departure is in its log; the members
// learn it when they next sync with it or with a member that has it.
var ErrLeaveUnacknowledged = errors.New("node: leave not yet applied by every reachable member")

// LeaveResult says how a graceful leave went.
type LeaveResult struct {
	// Token names the membership transaction that records the departure
	// (zero if the node had already left).
	Token api.Token
	// Acknowledged lists the members known to have applied it, by name.
	Acknowledged []string
	// Pending lists the alive or suspect members that had not when Leave
	// returned, by name; unreachable members are not waited for.
	Pending []string
}

// Leave makes this node leave the cluster gracefully (Consul's `leave`):
// it proposes its departure, after which it refuses writes (reads are
// still served) and collapse stops waiting for it, then waits until every
// other member that is alive or suspect has applied the departure — and
// with it, by causal order, every write this node made before it — or ctx
// ends. The caller stops the node afterwards (Close): stopping then loses
// nothing. Leaving twice returns the first departure's state with a zero
// Token.
func (n *Node) Leave(ctx context.Context) (LeaveResult, error) {
	n.mu.RLock()
	state := n.r.Status().State
	n.mu.RUnlock()
	var tok replica.Token
	if state != replica.NodeLeft {
		res, _ := n.submit(ctx, &request{action: func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
			return c.Leave(t)
		}})
		if res.err != nil {
			return LeaveResult{}, res.err
		}
		tok = res.tok
		n.log.Info("leaving the cluster", "token", fmt.Sprint(tok))
	}
	res, err := n.waitLeft(ctx)
	res.Token = api.Token{Dot: tok}
	return res, err
}

// waitLeft blocks until every alive or suspect member shows this node as
// left, or ctx ends.
func (n *Node) waitLeft(ctx context.Context) (LeaveResult, error) {
	for {
		n.mu.RLock()
		res := n.leaveProgress()
		n.mu.RUnlock()
		if len(res.Pending) == 0 {
			n.log.Info("left the cluster", "acknowledged_by", res.Acknowledged)
			return res, nil
		}
		n.waitMu.Lock()
		ch := n.changed
		n.waiting++
		n.waitMu.Unlock()
		// Re-check under the new channel: the loop may have moved between
		// the check above and taking ch.
		n.mu.RLock()
		moved := len(n.leaveProgress().Pending) != len(res.Pending)
		n.mu.RUnlock()
		var err error
		if !moved {
			select {
			case <-ch:
			case <-ctx.Done():
				err = fmt.Errorf("%w (pending: %v): %v", ErrLeaveUnacknowledged, res.Pending, ctx.Err())
			case <-n.stop:
				err = api.ErrStopped
			}
		}
		n.waitMu.Lock()
		n.waiting--
		n.waitMu.Unlock()
		if err != nil {
			return res, err
		}
	}
}

// leaveProgress sorts the other members by whether they are known to
// have applied this node's departure. A node that left writes nothing
// more, so its departure is its last own transaction; a member that
// applied it applied, by causal order, every write this node made.
// Called with n.mu held.
func (n *Node) leaveProgress() LeaveResult {
	var res LeaveResult
	applied := n.r.Applied()
	last := causal.Dot{Node: n.ID(), Counter: applied.Get(n.ID())}
	for _, m := range n.r.Members() {
		if m.Self || !m.State.Current() {
			continue
		}
		switch {
		case m.Applied.Contains(last):
			res.Acknowledged = append(res.Acknowledged, m.Name)
		case m.State != replica.StateUnreachable:
			res.Pending = append(res.Pending, m.Name)
		}
	}
	return res
}

// LeaveCluster implements httpapi.Leaver (POST /v1/leave) over Leave.
func (n *Node) LeaveCluster(ctx context.Context) (api.Token, []string, []string, error) {
	res, err := n.Leave(ctx)
	return res.Token, res.Acknowledged, res.Pending, err
}
