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
// Neither is applied at the forger. The checker: no correct replica ever
// holds ForbiddenKey or SigKey (checked every step), and no transaction
// the forger did not forge is ever refused.
const (
	// ForgeEverySteps is the interval between two forgeries.
	ForgeEverySteps = 97
	// ForbiddenKey and SigKey are the keys forgeries write.
	ForbiddenKey = "forbidden/x"
	SigKey       = "sig/x"
)

// simOperatorKey signs the run's policy.
func simOperatorKey() ed25519.PrivateKey { return simAuditKey("operator") }

// simPolicy is the policy of a forging run.
func simPolicy() []byte {
	p := &audit.Policy{Version: 1}
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
	f := s.nodes[s.p.Replicas-1]
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

// checkForged fails the run if a correct replica holds a forged write.
func (s *simulator) checkForged() {
	for _, n := range s.nodes {
		if !n.up() {
			continue
		}
		for _, k := range []string{ForbiddenKey, SigKey} {
			if n.r.Keyspace().Get([]byte(k)) != nil {
				s.res.Report.Addf(check.CheckReplica, "step %d: %s applied a forged write of %s", s.step, n.name, k)
			}
		}
	}
}
