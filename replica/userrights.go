package replica

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/crdt"
)

// User rules (audit.RuleUser) say which client users may write which
// key prefixes. A user is a name the accepting node gave the client
// connection (RESP AUTH, HTTP Basic auth; api.WithUser); it is not part
// of the transaction, so no other replica can check it. The accepting
// node checks it once, here, before the write is applied or
// acknowledged, against the same policy the node rules use: the one in
// the transaction's causal past, which for a local write is the newest
// policy this replica holds at propose time. Peers then judge the
// transaction by its origin's node rules only: the accepting node is
// trusted to have applied its users' rules (docs/audit.md, "Write
// rights").
//
// A policy with no user rules leaves every user unrestricted (the node
// rules still apply); one with any user rule restricts every user to the
// prefixes its own rules and the wildcard ("*") rules grant. A write with
// no user (Propose: the Go API, the node's own writes) is not checked
// against user rules.

// UserRightsError is a client write refused by the user rules of the
// policy in force: User may not write Key. Nothing was written. It
// matches ErrNoRights and audit.ErrNoRights. Its text is what the client
// sees (RESP "-NOPERM <text>", HTTP 403 no_rights), so it names neither
// package nor user.
type UserRightsError struct {
	User    string
	Key     []byte
	Version uint64 // of the policy that refused the write
}

func (e *UserRightsError) Error() string {
	quoted := strconv.Quote(string(e.Key))
	return fmt.Sprintf("this user has no rights to write key '%s' (policy version %d)", quoted[1:len(quoted)-1], e.Version)
}

// Unwrap makes the error match ErrNoRights (and so audit.ErrNoRights).
func (e *UserRightsError) Unwrap() error { return ErrNoRights }

// ProposeAs is Propose for a client write the node accepted from the
// client user user: besides everything Propose checks, every key the
// transaction writes must be one the user rules of the policy in force
// grant user, or the write is refused with a *UserRightsError and
// nothing changes. An empty user is Propose. The user is not recorded
// in the transaction.
func (r *Replica) ProposeAs(user string, fn func(b *crdt.Builder) error) (Token, error) {
	r.proposeUser = user
	defer func() { r.proposeUser = "" }()
	return r.Propose(fn)
}

// checkUserRights checks a local transaction's keys against the user
// rules for r.proposeUser (the rules above). Called by propose after the
// node rules passed, before anything changes.
func (r *Replica) checkUserRights(txn *crdt.Txn) error {
	user := r.proposeUser
	if user == "" || !r.cfg.Audit.rightsOn() {
		return nil
	}
	pol := r.policyFor(&txn.Deps)
	if pol == nil {
		return nil
	}
	prefixes, restricted := userPrefixes(pol.policy, user)
	if !restricted {
		return nil
	}
	var err error
	txn.Keys(func(k []byte) bool {
		if IsInternalKey(k) {
			return true // the core's own machinery, as for node rules
		}
		for _, p := range prefixes {
			if bytes.HasPrefix(k, p) {
				return true
			}
		}
		err = &UserRightsError{User: user, Key: bytes.Clone(k), Version: pol.policy.Version}
		return false
	})
	return err
}

// userPrefixes returns the prefixes p's user rules grant user (its own
// and the wildcard's), and whether p has user rules at all (if not, users
// are unrestricted and the prefixes mean nothing).
func userPrefixes(p *audit.Policy, user string) (prefixes [][]byte, restricted bool) {
	for _, rule := range p.Rules {
		if rule.Kind != audit.RuleUser {
			continue
		}
		restricted = true
		if rule.Name == user || rule.Name == audit.Wildcard {
			prefixes = append(prefixes, rule.Prefix)
		}
	}
	return prefixes, restricted
}
