package sim

import (
	"crypto/ed25519"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/causal"
	"github.com/spooksystems/spook/check"
	"github.com/spooksystems/spook/crdt"
	"github.com/spooksystems/spook/replica"
)

// A forging member (Options.Forge): the replicas run in audit mode with
// write rights; at the start node n1 applies an operator-signed policy
// that lets every node write the workload's prefixes and "sig/", and
// nobody "forbidden/". One member, the forger (the last initial member),
// then sends its peers, every ForgeEverySteps steps of the fault phase,
// alternately:
//
//   - a transaction under its own next dot, correctly sealed, writing
//     ForbiddenKey: outside its rights (refused by the rights check);
//   - a transaction under another member's next dot, sealed with the
//     forger's key, writing SigKey, which the policy allows: only the
//     signature check refuses it;
//   - two transactions under another member's next dots writing SigKey:
//     the first unsigned, linked (audit.Link), the second its signed
//     head, sealed with the forger's key. Receivers hold the first until
//     a signed head chains back to it: the forged head is refused, and
//     the first never applies (a genuine head refuses it too, later).
//
// Neither is applied at the forger. The forger also holds forged state
// and serves it to repairs: at each of its client writes in the fault
// phase it puts in its own keyspace an entry of ForbiddenKey stamped
// with that write's dot (replacing the previous one), as a member that
// does not check its own writes, or a compromised one, could. A peer
// that lacks that transaction and repairs from the forger
// (reconciliation once the forger's log no longer reaches back to it,
// or a joiner pulling its snapshot) is offered the entry as a new write,
// which the write-rights check of state transfers
// (replica/repairrights.go) must refuse; a peer that has the
// transaction drops the entry by the join itself (it saw the dot and
// does not hold it). The entry is taken out of the forger's
// state at heal, so the run can converge; in Forge runs the joiner asks
// the forger first.
//
// The checker: no correct replica ever holds ForbiddenKey or SigKey, and
// the forger holds SigKey never and ForbiddenKey only before heal
// (checked every step); no correct replica refuses a transaction the
// forger did not forge, nor a repair for another writer than a planted
// dot. (The forger's own refusals of repairs are not judged: its state
// is the forged one.)
const (
	// ForgeEverySteps is the interval between two forgeries.
	ForgeEverySteps = 97
	// ForbiddenKey and SigKey are the keys forgeries write.
	ForbiddenKey = "forbidden/x"
	SigKey       = "sig/x"
)

// forger is the forging member.
func (s *simulator) forger() *node { return s.nodes[s.p.Replicas-1] }

// plantNext puts a forged entry in the forger's state, replacing the
// previous one, stamped with dot, the dot of the transaction the forger
// is about to make (so that, once made, the entry's dot is in its
// context, as every dot of a valid state is). It reports whether it did.
func (s *simulator) plantNext(f *node) (causal.Dot, bool) {
	if !s.o.Forge || f != s.forger() || s.healed || f.r.Policy() == nil {
		return causal.Dot{}, false
	}
	ks := f.r.Keyspace()
	dot := causal.Dot{Node: f.id, Counter: ks.Context().Vector.Get(f.id) + 1}
	s.unplant()
	src := crdt.NewKeyspace()
	b := src.Begin(dot, causal.Timestamp{WallMs: s.nowMs(f)})
	if err := b.Set([]byte(ForbiddenKey), []byte("planted")); err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: planting: %v", s.step, err)
		return causal.Dot{}, false
	}
	if err := src.Apply(b.Finish()); err != nil {
		s.res.Report.Addf(check.CheckReplica, "step %d: planting: %v", s.step, err)
		return causal.Dot{}, false
	}
	ks.JoinKey([]byte(ForbiddenKey), src.Get([]byte(ForbiddenKey)), &causal.Context{})
	s.planted.Add(dot)
	return dot, true
}

// plantSettle keeps the entry planted for dot if the forger made the
// transaction dot, and takes it out otherwise (the write was refused or
// changed nothing: a state with a dot outside its context is invalid).
func (s *simulator) plantSettle(f *node, dot causal.Dot) {
	if f.r == nil {
		return // crashed meanwhile: the entry went with its memory
	}
	if !f.r.Keyspace().Context().Contains(dot) {
		s.unplant()
		return
	}
	s.res.Planted++
	s.logf("%s holds forged %s under %s", f.name, ForbiddenKey, dot)
}

// unplant takes every forged entry out of the forger's state.
func (s *simulator) unplant() {
	f := s.forger()
	if !f.up() || f.r.Keyspace().Get([]byte(ForbiddenKey)) == nil {
		return
	}
	f.r.Keyspace().JoinKey([]byte(ForbiddenKey), nil, &s.planted)
}

// simOperatorKey signs the run's policy.
func simOperatorKey() ed25519.PrivateKey { return simAuditKey("operator") }

// simCluster is the cluster name of the simulated nodes.
const simCluster = "sim"

// simPolicy is the policy of a forging run, for simCluster.
func simPolicy() []byte {
	p := &audit.Policy{Version: 1, Cluster: simCluster}
	for _, prefix := range []string{prefixCounter, prefixRegister, prefixSet, prefixMap, prefixPair, prefixOwn,
		prefixMark, prefixExpiring, prefixZSet, prefixStream, prefixList, prefixBCounter, "sig/"} {
		p.Rules = append(p.Rules, audit.Rule{Kind: audit.RuleNode, Name: audit.Wildcard, Prefix: []byte(prefix)})
	}
	p.Sign(simOperatorKey())
	return p.Canonical()
}

// applyPolicy has node n1 apply the run's policy (at the start).
func (s *simulator) applyPolicy() {
	n := s.nodes[0]
	tok, err := n.core.ProposePolicy(0, simPolicy())
	if err != nil {
		s.res.Report.Addf(check.CheckReplica, "%s: ProposePolicy: %v", n.name, err)
		return
	}
	s.internal(tok)
	s.drain(n)
}

// forge sends the step's forgery, if one is due and the forger can.
func (s *simulator) forge() {
	f := s.forger()
	if s.step == 0 || s.step%ForgeEverySteps != 0 || !f.up() || f.dead || f.removed || s.step < f.pausedUntil ||
		f.r.Policy() == nil || f.r.Status().State != replica.NodeMember {
		return
	}
	ks := f.r.Keyspace()
	origin, key := f, ForbiddenKey
	if s.res.Forged%3 != 0 {
		origin, key = s.nodes[(f.idx+1)%s.p.Replicas], SigKey
	}
	next := ks.Context().Vector.Get(origin.id) + 1
	var txns []*crdt.Txn
	var prev audit.Hash
	for i := uint64(0); i < 1+uint64(s.res.Forged%3/2); i++ {
		dot := causal.Dot{Node: origin.id, Counter: next + i}
		b := ks.Begin(dot, causal.Timestamp{WallMs: s.nowMs(f)})
		if err := b.Set([]byte(key), []byte("forged")); err != nil {
			s.res.Report.Addf(check.CheckReplica, "step %d: forging: %v", s.step, err)
			return
		}
		txn := b.Finish()
		// A zero previous hash: the chain resuming, which every replica
		// accepts, so only the rights or the signature can refuse it.
		h := audit.TxnHash("sim", uint64(dot.Node), dot.Counter, prev, txn.AppendBinary(nil))
		txn.Seal = audit.Sign(simAuditKey(f.name), prev, h)
		if s.res.Forged%3 == 2 && i == 0 {
			// The third kind: an unsigned run (one linked transaction)
			// under another member's dots, whose signed head is forged.
			txn.Seal = audit.Link(prev)
		}
		prev = h
		s.forged[dot] = true
		txns = append(txns, txn)
	}
	s.res.Forged++
	s.logf("%s forges %d transactions from %s writing %s", f.name, len(txns), txns[0].Dot, key)
	var envs []replica.Envelope
	for _, n := range s.nodes {
		if n != f && !n.unstarted {
			envs = append(envs, replica.Envelope{To: n.id, Message: replica.Message{Type: replica.MsgTxns, Txns: txns}})
		}
	}
	s.send(f, envs)
}

// checkForged fails the run if a correct replica holds a forged write
// (or the forger its planted state after heal).
func (s *simulator) checkForged() {
	f := s.forger()
	for _, n := range s.nodes {
		if !n.up() {
			continue
		}
		for _, k := range []string{ForbiddenKey, SigKey} {
			if n == f && k == ForbiddenKey && !s.healed {
				continue // planted
			}
			if n.r.Keyspace().Get([]byte(k)) != nil {
				s.res.Report.Addf(check.CheckReplica, "step %d: %s applied a forged write of %s", s.step, n.name, k)
			}
		}
	}
}
