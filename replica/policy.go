package replica

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/crdt"
)

// Write rights (audit mode with AuditConfig.Operator set). A policy
// (audit.Policy), signed by the operator key, is replicated state: each
// version is a register at PolicyPrefix + its version in 20 decimal
// digits, written once by whichever member the operator handed it to
// (ProposePolicy). Every replica checks every transaction, local or
// remote, against the policy in the transaction's causal past: the
// highest version whose writing transaction is in txn.Deps. Under causal
// delivery a replica has applied all of txn.Deps before it applies txn,
// so it holds every such policy, and all correct replicas decide alike.
//
// The rules, checked in order:
//
//   - A transaction that writes a policy key must write, as a plain
//     register value, a canonical policy signed by the operator whose
//     version is the key's, and must not overwrite an earlier write of
//     that key (none of the key's entries is in its Deps). So a policy
//     key only ever holds correctly signed policies, no member can erase
//     one, and the set of policy writes a replica knows is exactly the set
//     it applied (restores and repairs rebuild it from the state).
//   - Other internal keys (membership records, checkpoints) are the
//     replica's own machinery: the policy does not restrict them, but
//     the kind of record says who writes it (internalrights.go).
//   - Every other key must match a node rule of the policy for the
//     transaction's origin (by node name: causal.NodeIDFromName). With
//     no policy in the causal past, every member may write everything.
//   - A client write proposed for a user (ProposeAs) must also match the
//     policy's user rules; only the accepting node checks them, as no
//     other replica knows the user (userrights.go).
//
// A refused remote transaction is never applied and raises
// EventRightsRefused; a refused local write returns ErrNoRights and
// changes nothing.
//
// State that arrives by repair (reconciliation, snapshot transfers, a
// joiner's snapshot, state bundles) carries no transactions to check; it
// is checked by writer dots and attributed removals instead
// (repairrights.go), and a violation refuses the whole repair.
const (
	// PolicyPrefix starts the internal keys that hold policy versions.
	PolicyPrefix = InternalPrefix + "audit/policy/"
	// MaxPolicyVersions bounds the policy versions a replica keeps in
	// memory (all of them are replicated state). ProposePolicy refuses a
	// policy past it (ErrPolicy); policies beyond it that arrive from a
	// peer are refused (EventRightsRefused).
	MaxPolicyVersions = 1024
)

// Errors of write rights.
var (
	// ErrNoRights: a write outside the rights the policy in force grants
	// this node (or, for a write proposed with ProposeAs, the client
	// user: a *UserRightsError, userrights.go). Nothing changed.
	// It wraps audit.ErrNoRights.
	ErrNoRights = fmt.Errorf("replica: %w", audit.ErrNoRights)
	// ErrPolicy: ProposePolicy refused a policy (rights not configured,
	// bad document or signature, version not above the newest).
	ErrPolicy = errors.New("replica: policy refused")
)

// PolicyKey is the internal key of policy version v.
func PolicyKey(v uint64) []byte {
	return fmt.Appendf([]byte(PolicyPrefix), "%020d", v)
}

// policyVersion reads the version of a policy key.
func policyVersion(key []byte) (uint64, bool) {
	digits, ok := bytes.CutPrefix(key, []byte(PolicyPrefix))
	if !ok || len(digits) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	return v, err == nil && v > 0
}

// policyEntry is one policy version and the transactions that wrote it
// (several only if members wrote the same version concurrently).
type policyEntry struct {
	policy *audit.Policy
	dots   []causal.Dot
	// nodes maps node ids to the prefixes node rules grant them; any
	// holds the wildcard rules' prefixes.
	nodes map[causal.NodeID][][]byte
	any   [][]byte
}

func newPolicyEntry(p *audit.Policy) *policyEntry {
	e := &policyEntry{policy: p, nodes: map[causal.NodeID][][]byte{}}
	for _, rule := range p.Rules {
		switch {
		case rule.Kind != audit.RuleNode:
		case rule.Name == audit.Wildcard:
			e.any = append(e.any, rule.Prefix)
		default:
			id := causal.NodeIDFromName(rule.Name)
			e.nodes[id] = append(e.nodes[id], rule.Prefix)
		}
	}
	return e
}

func (e *policyEntry) nodeMay(id causal.NodeID, key []byte) bool {
	for _, p := range e.nodes[id] {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	for _, p := range e.any {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// policies is a replica's table of policy versions, newest first. It is
// derived from the keyspace: loaded is cleared whenever a policy key may
// have changed (an applied write, a join or repair) and the table is
// rebuilt at the next use.
type policies struct {
	loaded  bool
	entries []*policyEntry
}

func (c *AuditConfig) rightsOn() bool { return c.enabled() && c.Operator != nil }

// policyTable returns the policy versions, newest first, rebuilding the
// table if needed.
func (r *Replica) policyTable() []*policyEntry {
	if !r.pol.loaded {
		r.pol = policies{loaded: true, entries: r.loadPolicies()}
	}
	return r.pol.entries
}

// loadPolicies reads the policy versions from the keyspace, newest
// first. It changes nothing.
func (r *Replica) loadPolicies() []*policyEntry {
	if !r.cfg.Audit.rightsOn() {
		return nil
	}
	var entries []*policyEntry
	prefix := []byte(PolicyPrefix)
	r.ks.Range(prefix, func(key []byte, v *crdt.Value) bool {
		if !bytes.HasPrefix(key, prefix) {
			return false
		}
		ver, ok := policyVersion(key)
		if !ok {
			return true
		}
		var e *policyEntry
		for _, s := range v.Siblings() {
			p, err := audit.VerifyPolicyFor(s.Value, r.cfg.Audit.Operator, r.cfg.Cluster)
			if err != nil || p.Version != ver {
				continue // never accepted by this version; from a repair
			}
			if e == nil {
				e = newPolicyEntry(p)
			}
			e.dots = append(e.dots, s.Dot)
		}
		if e != nil {
			entries = append(entries, e)
		}
		return len(entries) < MaxPolicyVersions
	})
	slices.Reverse(entries)
	return entries
}

// policyFor returns the policy in force for a transaction made in deps:
// the highest version written by a transaction in deps (nil: none).
func (r *Replica) policyFor(deps *causal.Context) *policyEntry {
	for _, e := range r.policyTable() {
		for _, d := range e.dots {
			if deps.Contains(d) {
				return e
			}
		}
	}
	return nil
}

// Policy returns the newest policy this replica holds (nil if none, or
// if write rights are off). It changes nothing, so readers may call it
// concurrently.
func (r *Replica) Policy() *audit.Policy {
	t := r.pol.entries
	if !r.pol.loaded {
		t = r.loadPolicies()
	}
	if len(t) > 0 {
		return t[0].policy
	}
	return nil
}

// checkRights checks a causally ready transaction against the policy in
// its causal past (the rules above). Deterministic: it reads only txn
// and the policy writes in txn.Deps, which every replica applying txn
// holds.
func (r *Replica) checkRights(txn *crdt.Txn) error {
	if !r.cfg.Audit.rightsOn() {
		return nil
	}
	var pol *policyEntry
	looked := false
	var err error
	txn.Keys(func(k []byte) bool {
		if bytes.HasPrefix(k, []byte(PolicyPrefix)) {
			err = r.checkPolicyWrite(txn, k)
			return err == nil
		}
		if IsInternalKey(k) {
			err = r.checkInternalWrite(txn, k) // internalrights.go
			return err == nil
		}
		if !looked {
			pol, looked = r.policyFor(&txn.Deps), true
		}
		if pol != nil && !pol.nodeMay(txn.Dot.Node, k) {
			err = fmt.Errorf("%w: %s may not write %q (policy version %d)", ErrNoRights, txn.Dot.Node, k, pol.policy.Version)
			return false
		}
		return true
	})
	return err
}

// checkPolicyWrite checks txn's write of the policy key k.
func (r *Replica) checkPolicyWrite(txn *crdt.Txn, k []byte) error {
	ver, ok := policyVersion(k)
	if !ok {
		return fmt.Errorf("%w: %q is not a policy key", ErrNoRights, k)
	}
	doc, ok := txn.RegisterSet(k)
	if !ok {
		return fmt.Errorf("%w: policy key %q written without a policy", ErrNoRights, k)
	}
	p, err := audit.VerifyPolicyFor(doc, r.cfg.Audit.Operator, r.cfg.Cluster)
	if err != nil {
		return fmt.Errorf("%w: policy key %q: %w", ErrNoRights, k, err)
	}
	if p.Version != ver {
		return fmt.Errorf("%w: policy version %d at the key of version %d", ErrNoRights, p.Version, ver)
	}
	for _, s := range r.ks.Get(k).Siblings() {
		if txn.Deps.Contains(s.Dot) {
			return fmt.Errorf("%w: policy version %d rewritten", ErrNoRights, ver)
		}
	}
	if t := r.policyTable(); len(t) >= MaxPolicyVersions && ver > t[0].policy.Version {
		return fmt.Errorf("%w: more than MaxPolicyVersions %d policies", ErrNoRights, MaxPolicyVersions)
	}
	return nil
}

// refuseRights raises EventRightsRefused for a remote transaction that
// is not applied.
func (r *Replica) refuseRights(from causal.NodeID, dot causal.Dot, err error) {
	r.rightsRefused++
	r.event(EventRightsRefused, from, dot, err.Error())
}

// RightsRefused is the number of remote transactions and repairs
// refused by the write-rights check since start.
func (r *Replica) RightsRefused() uint64 { return r.rightsRefused }

// ProposePolicy writes a signed policy document (audit.Policy.Canonical)
// as replicated state, so that it takes effect on every replica for the
// transactions made after it. ErrPolicy if write rights are off, the
// document does not verify against the operator key or names another
// cluster than Config.Cluster (audit.VerifyPolicyFor), or its version is
// not above every version this replica holds.
func (r *Replica) ProposePolicy(doc []byte) (Token, error) {
	if !r.cfg.Audit.rightsOn() {
		return Token{}, fmt.Errorf("%w: write rights are off (no operator key)", ErrPolicy)
	}
	p, err := audit.VerifyPolicyFor(doc, r.cfg.Audit.Operator, r.cfg.Cluster)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	if cur := r.Policy(); cur != nil && p.Version <= cur.Version {
		return Token{}, fmt.Errorf("%w: version %d is not above the newest, %d", ErrPolicy, p.Version, cur.Version)
	}
	if len(r.policyTable()) >= MaxPolicyVersions {
		return Token{}, fmt.Errorf("%w: MaxPolicyVersions %d reached", ErrPolicy, MaxPolicyVersions)
	}
	if r.state != NodeMember {
		return Token{}, r.notWritable()
	}
	return r.propose(func(b *crdt.Builder) error { return b.Set(PolicyKey(p.Version), doc) }, true)
}

// operatorKeyValid checks the operator key's size (validate).
func operatorKeyValid(k ed25519.PublicKey) bool {
	return k == nil || len(k) == ed25519.PublicKeySize
}
