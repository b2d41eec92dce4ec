package replica

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Write rights of state transfers (rule R). Transactions are checked
// against the policy in their causal past (policy.go), but a repair
// brings state, not transactions: reconciliation joins a peer's keys with
// its context (sync.go), a repair snapshot transfer or a state bundle
// joins its whole state (join.go, statebundle.go), and a joining node
// installs a peer's snapshot. State carries the dots that stamp its
// entries (crdt.Value.Writers) and nothing about who removed what it no
// longer holds. So, with write rights on, a replica checks the state it
// is about to join, before anything changes:
//
//   - Policy keys: every sibling must be a policy signed by the operator
//     for the key's version, and the join must not remove one this
//     replica holds. No correct replica holds anything else there (the
//     transaction check sees to it), so anything else proves the sender
//     faulty and refuses the whole repair (dropping the bad siblings
//     instead would leave a difference that brings the same repair back
//     at every digest). The verified versions count as held below.
//   - Writes: for every other non-internal key, every writer dot of the
//     incoming value that is new here (not in this replica's context; for
//     an account, which names no transaction, one this value does not
//     already have) must belong to a node that some policy version held
//     here (before the join, or verified in the incoming state) allows
//     to write the key. With no policy held at all, everything passes,
//     as for transactions with no policy in their past.
//   - Removals: if the join would drop or hide anything this replica
//     holds at the key (crdt.Hides), some node with a transaction new
//     here (a dot in the sender's context and not in ours, or a new
//     writer dot of this key) must be allowed to write the key. This is
//     attribution, not proof: state does not name the remover, so the
//     removal is allowed as soon as one node that made transactions this
//     replica has not seen could have made it. With no such node at all,
//     the remover can only be a transaction this replica applied (and
//     checked) already, and the join corrects a state that disagrees
//     with its own context (a divergence repair): it passes.
//
// A violation refuses the whole repair: nothing is joined, the context is
// not merged, no record or snapshot is written, EventRightsRefused names
// the peer (with the offending writer dot, zero for a removal), and the
// peer is not repaired from again for repairRefusedDigests digest
// periods, so another member's digest leads the repair instead. A joining
// node moves on to its next join peer. ImportState returns ErrNoRights.
// The decision reads only this replica's state and the incoming state,
// so every correct replica decides alike on the same inputs.
//
// What it does not catch: entries stamped with another member's dots
// that the sender forged within that member's rights (state is not
// signed), and removals by a member without rights attributed to a
// member with rights that also wrote something new, or to transactions
// already applied here (a sender may claim any context). And it refuses
// entries written before the first policy by a node that no policy
// version grants the key (they pass as transactions, with no policy in
// their past, but state does not say when they were written).
const (
	// repairRefusedDigests is how many digest periods (Config.DigestTicks)
	// a peer whose repair was refused is not repaired from.
	repairRefusedDigests = 16
	// maxRefusedKeyBytes bounds the key bytes a refusal's reason quotes.
	maxRefusedKeyBytes = 64
)

// repairKey is one key of an incoming state: its value there, nil if the
// sender has none.
type repairKey struct {
	key []byte
	v   *crdt.Value
}

// checkRepairKeys checks keys shipped by reconciliation, with the
// sender's context ctx (see checkRepair).
func (r *Replica) checkRepairKeys(ctx *causal.Context, kvs []KeyValue) (causal.Dot, error) {
	if !r.cfg.Audit.rightsOn() {
		return causal.Dot{}, nil
	}
	keys := make([]repairKey, len(kvs))
	for i, kv := range kvs {
		keys[i].key = kv.Key
		if kv.Value == nil {
			continue
		}
		v, err := decodeValue(kv.Value)
		if err != nil {
			return causal.Dot{}, fmt.Errorf("%w: value of %s does not decode: %v", ErrNoRights, quoteKey(kv.Key), err)
		}
		keys[i].v = v
	}
	return r.checkRepair(ctx, keys, r.checkpointer())
}

// checkRepairState checks a whole state about to be joined (a snapshot
// transfer, a state bundle) or installed (a joining node's snapshot):
// the keys whose value differs from ours (see checkRepair).
// The cluster's initial member list is bootstrap (which names the
// checkpointer): this replica's, or for a joining node the one its
// snapshot carries.
func (r *Replica) checkRepairState(other *crdt.Keyspace, bootstrap []Peer) (causal.Dot, error) {
	if !r.cfg.Audit.rightsOn() {
		return causal.Dot{}, nil
	}
	var keys []repairKey
	other.RangeState(nil, func(k []byte, v *crdt.Value) bool {
		if other.KeyHash(k) != r.ks.KeyHash(k) {
			keys = append(keys, repairKey{key: k, v: v})
		}
		return true
	})
	r.ks.RangeState(nil, func(k []byte, _ *crdt.Value) bool {
		if other.State(k) == nil {
			keys = append(keys, repairKey{key: k})
		}
		return true
	})
	return r.checkRepair(other.Context(), keys, checkpointerOf(bootstrap))
}

// checkRepair applies rule R to the incoming keys, which a join with the
// sender's context ctx would join into this replica's state. It returns
// nil, or an error wrapping ErrNoRights and the offending writer dot
// (zero for a removal). Of several violations it reports the one of the
// least key, so the answer does not depend on the keys' order. It changes
// nothing.
func (r *Replica) checkRepair(ctx *causal.Context, keys []repairKey, checkpointer causal.NodeID) (causal.Dot, error) {
	if !r.cfg.Audit.rightsOn() {
		return causal.Dot{}, nil
	}
	ours := r.ks.Context()
	held := slices.Clone(r.policyTable())
	var worst *repairViolation
	note := func(v repairViolation) {
		if worst == nil || bytes.Compare(v.key, worst.key) < 0 {
			worst = &v
		}
	}
	// Policy keys first: their verified versions count as held below.
	for _, k := range keys {
		if !bytes.HasPrefix(k.key, []byte(PolicyPrefix)) {
			continue
		}
		p, err := r.repairPolicy(k)
		switch {
		case err != nil:
			note(repairViolation{key: k.key, err: err})
		case p != nil && !slices.ContainsFunc(held, func(e *policyEntry) bool { return e.policy.Version == p.Version }):
			held = append(held, newPolicyEntry(p))
		}
	}
	// After must be computed before anything is judged: one scratch
	// keyspace holds a copy of each of our values the incoming state
	// touches, joined as the repair would.
	var after *crdt.Keyspace
	for _, k := range keys {
		if v := r.ks.State(k.key); v != nil && (!IsInternalKey(k.key) || bytes.HasPrefix(k.key, []byte(PolicyPrefix))) {
			if after == nil {
				after = crdt.NewKeyspace()
			}
			after.JoinKey(k.key, v, &causal.Context{})
		}
	}
	if after != nil {
		after.MergeContext(ours)
		for _, k := range keys {
			if after.State(k.key) != nil {
				after.JoinKey(k.key, k.v, ctx)
			}
		}
	}
	hides := func(k repairKey) bool {
		before := r.ks.State(k.key)
		return before != nil && crdt.Hides(before, after.State(k.key))
	}
	var movers []causal.NodeID // nodes with transactions new here; computed once, if needed
	moversDone := false
	for _, k := range keys {
		if bytes.HasPrefix(k.key, []byte(PolicyPrefix)) {
			if hides(k) {
				note(repairViolation{key: k.key, err: fmt.Errorf("%w: the repair removes policy %s", ErrNoRights, quoteKey(k.key))})
			}
			continue
		}
		if IsInternalKey(k.key) {
			if bad := r.checkRepairInternal(k.key, k.v, ours, checkpointer); bad != (causal.Dot{}) { // internalrights.go
				note(repairViolation{key: k.key, dot: bad,
					err: fmt.Errorf("%w: %s may not write the internal key %s", ErrNoRights, bad.Node, quoteKey(k.key))})
			}
			continue
		}
		if len(held) == 0 {
			continue
		}
		may := func(n causal.NodeID) bool {
			return slices.ContainsFunc(held, func(e *policyEntry) bool { return e.nodeMay(n, k.key) })
		}
		before := r.ks.State(k.key)
		var bad causal.Dot
		var writers []causal.NodeID // nodes with a new writer dot of k, all allowed
		k.v.Writers(func(d causal.Dot) bool {
			if ours.Contains(d) || (d.Counter == 0 && hasWriter(before, d)) {
				return true
			}
			if !may(d.Node) {
				if bad == (causal.Dot{}) || d.Less(bad) {
					bad = d
				}
			} else if !slices.Contains(writers, d.Node) {
				writers = append(writers, d.Node)
			}
			return true
		})
		if bad != (causal.Dot{}) {
			note(repairViolation{key: k.key, dot: bad,
				err: fmt.Errorf("%w: %s may not write %s under any policy version held", ErrNoRights, bad.Node, quoteKey(k.key))})
			continue
		}
		if len(writers) > 0 || !hides(k) {
			continue // an allowed node made something new here: it may have removed the rest
		}
		if !moversDone {
			movers, moversDone = newNodes(ctx, ours), true
		}
		// No mover: whatever removed the entries is a transaction this
		// replica applied (and checked) already; the join corrects a
		// state that disagreed with its own context.
		if len(movers) > 0 && !slices.ContainsFunc(movers, may) {
			note(repairViolation{key: k.key, err: fmt.Errorf("%w: the repair removes from %s, and no node with transactions new here (%v) may write it",
				ErrNoRights, quoteKey(k.key), movers)})
		}
	}
	if worst != nil {
		return worst.dot, worst.err
	}
	return causal.Dot{}, nil
}

// repairViolation is one reason to refuse a repair.
type repairViolation struct {
	key []byte
	dot causal.Dot
	err error
}

// repairPolicy checks an incoming policy key: nil if the sender has no
// value there, else the policy its siblings (all verified, all of the
// key's version, nothing else in the value) carry.
func (r *Replica) repairPolicy(k repairKey) (*audit.Policy, error) {
	ver, ok := policyVersion(k.key)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a policy key", ErrNoRights, quoteKey(k.key))
	}
	if k.v == nil {
		return nil, nil
	}
	sibs := k.v.Siblings()
	entries := 0
	k.v.Writers(func(causal.Dot) bool { entries++; return true })
	if len(sibs) == 0 || entries != len(sibs) {
		return nil, fmt.Errorf("%w: policy key %s holds something else than policies", ErrNoRights, quoteKey(k.key))
	}
	var out *audit.Policy
	for _, s := range sibs {
		p, err := audit.VerifyPolicyFor(s.Value, r.cfg.Audit.Operator, r.cfg.Cluster)
		if err != nil {
			return nil, fmt.Errorf("%w: policy key %s: %w", ErrNoRights, quoteKey(k.key), err)
		}
		if p.Version != ver {
			return nil, fmt.Errorf("%w: policy version %d at the key of version %d", ErrNoRights, p.Version, ver)
		}
		out = p
	}
	return out, nil
}

// hasWriter reports whether d is a writer of v.
func hasWriter(v *crdt.Value, d causal.Dot) bool {
	found := false
	v.Writers(func(w causal.Dot) bool { found = w == d; return !found })
	return found
}

// newNodes lists, in ascending order, the nodes with a dot in theirs and
// not in ours.
func newNodes(theirs, ours *causal.Context) []causal.NodeID {
	var out []causal.NodeID
	for _, e := range theirs.Vector.Entries() {
		for c := ours.Vector.Get(e.Node) + 1; c <= e.Counter; c++ {
			if !ours.Contains(causal.Dot{Node: e.Node, Counter: c}) {
				out = append(out, e.Node)
				break
			}
		}
	}
	for _, d := range theirs.Outliers() {
		if !ours.Contains(d) && !slices.Contains(out, d.Node) {
			out = append(out, d.Node)
		}
	}
	slices.Sort(out)
	return out
}

// quoteKey quotes a key for a refusal's reason, at most
// maxRefusedKeyBytes of it.
func quoteKey(k []byte) string {
	if len(k) > maxRefusedKeyBytes {
		return fmt.Sprintf("%q...", k[:maxRefusedKeyBytes])
	}
	return fmt.Sprintf("%q", k)
}

// refuseRepair reports a repair from peer refused by the write-rights
// check (EventRightsRefused) and remembers peer, so that it is not
// repaired from for a while.
func (r *Replica) refuseRepair(peer causal.NodeID, what string, dot causal.Dot, err error) {
	r.reportRefusedState(peer, what, dot, err)
	if r.refusedPeers == nil {
		r.refusedPeers = map[causal.NodeID]uint64{}
	}
	r.refusedPeers[peer] = r.tick
}

// reportRefusedState raises EventRightsRefused for state from node
// (a repair's peer, a state bundle's exporter) that is not joined.
func (r *Replica) reportRefusedState(node causal.NodeID, what string, dot causal.Dot, err error) {
	r.rightsRefused++
	r.event(EventRightsRefused, node, dot, fmt.Sprintf("%s repair from %s refused: %v", what, node, err))
}

// repairRefusedRecently reports whether a repair from peer was refused
// less than repairRefusedDigests digest periods ago, forgetting older
// refusals.
func (r *Replica) repairRefusedRecently(peer causal.NodeID) bool {
	at, ok := r.refusedPeers[peer]
	if !ok {
		return false
	}
	if r.tick-at < uint64(repairRefusedDigests*r.cfg.DigestTicks) {
		return true
	}
	delete(r.refusedPeers, peer)
	return false
}
