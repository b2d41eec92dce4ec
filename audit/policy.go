package audit

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Write rights: a policy document, signed by an operator key, says which
// nodes (by name, as in the audit keys directory) may write which key
// prefixes, and optionally which client users (ACL user names) may. The
// replica core checks every transaction against the policy in its causal
// past (replica's policy.go); the node that accepts a client write checks
// the user rules.
//
// The document is text, one item a line, in a canonical form (Canonical):
//
//	spook-policy v2
//	version 7
//	cluster "prod"
//	node n1 "app/"
//	node * "shared/"
//	user alice "app/alice/"
//	signature <128 hex digits>
//
// The cluster line names the cluster (replica.Config.Cluster, spookd
// --cluster) the policy is for, Go-quoted; a replica refuses a policy of
// another cluster (VerifyPolicyFor), so one signed for one cluster cannot
// be replayed into another that trusts the same operator key. A prefix is
// a Go-quoted string (any bytes); "" is every key. "*" as a node or user
// name matches every node or user. Rules are sorted (kind, name, prefix)
// and unique; the signature line is the last, and signs PolicyDomain
// followed by every line before it (newlines included).
//
// Legacy: a "spook-policy v1" document has no cluster line and its
// signature signs PolicyDomainV1 instead; it names no cluster, so every
// cluster accepts it (policies applied before v2 must keep loading). A
// Policy with an empty Cluster is a v1 document.
const (
	// MaxPolicyRules bounds the rules of a policy; a longer document is
	// refused by ParsePolicy (so never signed, applied or accepted).
	MaxPolicyRules = 1024
	// MaxPolicyPrefixBytes bounds a rule's prefix, in bytes; a longer one
	// is refused by ParsePolicy.
	MaxPolicyPrefixBytes = 256
	// MaxPolicyNameBytes bounds a node or user name in a rule, in bytes;
	// a longer one is refused by ParsePolicy.
	MaxPolicyNameBytes = 128
	// MaxPolicyClusterBytes bounds the cluster name of a v2 policy, in
	// bytes: the longest cluster name a node can have (wire's
	// MaxClusterIDBytes, the handshake's limit). A longer one is refused
	// by ParsePolicy.
	MaxPolicyClusterBytes = 64
	// MaxPolicyBytes bounds a signed policy document, in bytes (rules at
	// their largest fit); a longer one is refused by ParsePolicy.
	MaxPolicyBytes = 1 << 20

	// PolicyDomain separates policy signatures from every other use of
	// an operator key (and v2 signatures from legacy v1 ones).
	PolicyDomain = "spook/audit/policy/v2\x00"
	// PolicyDomainV1 is the domain of legacy v1 documents.
	PolicyDomainV1 = "spook/audit/policy/v1\x00"

	policyHeader   = "spook-policy v2"
	policyHeaderV1 = "spook-policy v1"
	// Wildcard, as a rule's name, matches every node or user.
	Wildcard = "*"
)

// Sentinel errors of policies.
var (
	// ErrBadPolicy: a document that does not parse, breaks a limit or is
	// not canonical.
	ErrBadPolicy = errors.New("audit: bad policy")
	// ErrPolicySignature: a policy whose signature does not verify
	// against the operator key (or that carries none).
	ErrPolicySignature = errors.New("audit: bad policy signature")
	// ErrPolicyCluster: a policy signed for another cluster.
	ErrPolicyCluster = errors.New("audit: policy for another cluster")
	// ErrNoRights: a write outside the rights the policy grants.
	ErrNoRights = errors.New("audit: no write rights")
)

// RuleKind says whom a rule grants rights to.
type RuleKind string

// Rule kinds.
const (
	RuleNode RuleKind = "node"
	RuleUser RuleKind = "user"
)

// Rule grants Name (a node or user name, or Wildcard) the right to write
// keys starting with Prefix.
type Rule struct {
	Kind   RuleKind
	Name   string
	Prefix []byte
}

// Policy is a parsed write-rights policy.
type Policy struct {
	// Version orders policies: a higher version replaces a lower one.
	// Versions start at 1.
	Version uint64
	// Cluster is the cluster the policy is for (1 to
	// MaxPolicyClusterBytes bytes); empty in a legacy v1 document, which
	// names none.
	Cluster string
	Rules   []Rule
	// Signature is the operator's ed25519 signature (nil before Sign).
	Signature []byte
}

func compareRules(a, b Rule) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), bytes.Compare(a.Prefix, b.Prefix))
}

// Normalize sorts and deduplicates p's rules, giving its canonical form.
func (p *Policy) Normalize() {
	slices.SortFunc(p.Rules, compareRules)
	p.Rules = slices.CompactFunc(p.Rules, func(a, b Rule) bool { return compareRules(a, b) == 0 })
}

// Body is the canonical text the signature signs (every line but the
// signature line).
func (p *Policy) Body() []byte {
	var b strings.Builder
	if p.Cluster == "" {
		fmt.Fprintf(&b, "%s\nversion %d\n", policyHeaderV1, p.Version)
	} else {
		fmt.Fprintf(&b, "%s\nversion %d\ncluster %s\n", policyHeader, p.Version, strconv.Quote(p.Cluster))
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "%s %s %s\n", r.Kind, r.Name, strconv.Quote(string(r.Prefix)))
	}
	return []byte(b.String())
}

// Canonical is the signed document: Body and the signature line (no
// signature line if p is unsigned).
func (p *Policy) Canonical() []byte {
	b := p.Body()
	if p.Signature != nil {
		b = fmt.Appendf(b, "signature %s\n", hex.EncodeToString(p.Signature))
	}
	return b
}

// signed is what p's signature signs: its format's domain, then Body.
func (p *Policy) signed() []byte {
	domain := PolicyDomain
	if p.Cluster == "" {
		domain = PolicyDomainV1
	}
	return append([]byte(domain), p.Body()...)
}

// Sign normalizes p and signs it with the operator key: a v2 document
// for p.Cluster, or a legacy v1 one if p.Cluster is empty.
func (p *Policy) Sign(key ed25519.PrivateKey) {
	p.Normalize()
	p.Signature = ed25519.Sign(key, p.signed())
}

// Verify checks p's signature against the operator's public key.
func (p *Policy) Verify(operator ed25519.PublicKey) error {
	if len(p.Signature) != ed25519.SignatureSize || len(operator) != ed25519.PublicKeySize ||
		!ed25519.Verify(operator, p.signed(), p.Signature) {
		return fmt.Errorf("%w: version %d", ErrPolicySignature, p.Version)
	}
	return nil
}

// ParsePolicy reads a policy document. Rules may come in any order and
// blank lines and lines starting with '#' are skipped when signed is
// false (a draft an operator writes); with signed true the document must
// be exactly canonical and carry a signature line, so that the bytes
// signed are the bytes stored. It does not check the signature (Verify).
func ParsePolicy(doc []byte, signed bool) (*Policy, error) {
	if len(doc) > MaxPolicyBytes {
		return nil, fmt.Errorf("%w: %d bytes > MaxPolicyBytes %d", ErrBadPolicy, len(doc), MaxPolicyBytes)
	}
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrBadPolicy, line, fmt.Sprintf(format, args...))
	}
	p := &Policy{}
	seenHeader, seenVersion, seenCluster, v2 := false, false, false, false
	lines := strings.Split(string(doc), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		n := i + 1
		if !signed && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#")) {
			continue
		}
		if !signed {
			line = strings.TrimSpace(line)
		}
		if p.Signature != nil {
			return nil, bad(n, "text after the signature")
		}
		if !seenHeader {
			if line != policyHeader && line != policyHeaderV1 {
				return nil, bad(n, "want %q (or the legacy %q)", policyHeader, policyHeaderV1)
			}
			seenHeader, v2 = true, line == policyHeader
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch {
		case word == "version":
			v, err := strconv.ParseUint(rest, 10, 64)
			if err != nil || v == 0 || seenVersion || strconv.FormatUint(v, 10) != rest {
				return nil, bad(n, "want one version, a positive decimal")
			}
			p.Version, seenVersion = v, true
		case word == "cluster":
			if !v2 {
				return nil, bad(n, "a cluster line needs %q", policyHeader)
			}
			name, err := strconv.Unquote(rest)
			if err != nil || seenCluster || (signed && strconv.Quote(name) != rest) {
				return nil, bad(n, "want one Go-quoted cluster name")
			}
			if name == "" || len(name) > MaxPolicyClusterBytes {
				return nil, bad(n, "want a cluster name of 1 to %d bytes (MaxPolicyClusterBytes)", MaxPolicyClusterBytes)
			}
			p.Cluster, seenCluster = name, true
		case word == string(RuleNode) || word == string(RuleUser):
			name, quoted, _ := strings.Cut(rest, " ")
			if name == "" || len(name) > MaxPolicyNameBytes || strings.ContainsAny(name, " \t\"") {
				return nil, bad(n, "want a name of 1 to %d bytes (MaxPolicyNameBytes), no blanks or quotes", MaxPolicyNameBytes)
			}
			prefix, err := strconv.Unquote(quoted)
			if err != nil || (signed && strconv.Quote(prefix) != quoted) {
				return nil, bad(n, "want a Go-quoted prefix")
			}
			if len(prefix) > MaxPolicyPrefixBytes {
				return nil, bad(n, "prefix of %d bytes > MaxPolicyPrefixBytes %d", len(prefix), MaxPolicyPrefixBytes)
			}
			if len(p.Rules) == MaxPolicyRules {
				return nil, bad(n, "more than MaxPolicyRules %d rules", MaxPolicyRules)
			}
			p.Rules = append(p.Rules, Rule{Kind: RuleKind(word), Name: name, Prefix: []byte(prefix)})
		case word == "signature" && signed:
			sig, err := hex.DecodeString(rest)
			if err != nil || len(sig) != ed25519.SignatureSize {
				return nil, bad(n, "want %d hex-encoded bytes", ed25519.SignatureSize)
			}
			p.Signature = sig
		default:
			return nil, bad(n, "unknown line %.40q", line)
		}
	}
	if !seenVersion {
		return nil, fmt.Errorf("%w: no version line", ErrBadPolicy)
	}
	if v2 && !seenCluster {
		return nil, fmt.Errorf("%w: no cluster line (%q needs one)", ErrBadPolicy, policyHeader)
	}
	if signed {
		if p.Signature == nil {
			return nil, fmt.Errorf("%w: no signature line", ErrPolicySignature)
		}
		if !bytes.Equal(p.Canonical(), doc) {
			return nil, fmt.Errorf("%w: not in canonical form (rules sorted and unique, one space, a final newline)", ErrBadPolicy)
		}
	} else {
		p.Normalize()
	}
	return p, nil
}

// VerifyPolicyFor parses a signed document, checks its signature and
// that it is for cluster: the check every replica of cluster runs on a
// policy before it takes effect. ErrPolicyCluster if the document names
// another cluster; a legacy v1 document names none and passes.
func VerifyPolicyFor(doc []byte, operator ed25519.PublicKey, cluster string) (*Policy, error) {
	p, err := ParsePolicy(doc, true)
	if err != nil {
		return nil, err
	}
	if err := p.Verify(operator); err != nil {
		return nil, err
	}
	if p.Cluster != "" && p.Cluster != cluster {
		return nil, fmt.Errorf("%w: version %d is for cluster %q, not %q", ErrPolicyCluster, p.Version, p.Cluster, cluster)
	}
	return p, nil
}

// NodeMay reports whether the node named name may write key.
func (p *Policy) NodeMay(name string, key []byte) bool { return p.may(RuleNode, name, key) }

// UserMay reports whether the client user named user may write key.
// A policy without user rules leaves users unrestricted (the node rules
// still apply to the node that accepts them).
func (p *Policy) UserMay(user string, key []byte) bool {
	if !slices.ContainsFunc(p.Rules, func(r Rule) bool { return r.Kind == RuleUser }) {
		return true
	}
	return p.may(RuleUser, user, key)
}

func (p *Policy) may(kind RuleKind, name string, key []byte) bool {
	for _, r := range p.Rules {
		if r.Kind == kind && (r.Name == name || r.Name == Wildcard) && bytes.HasPrefix(key, r.Prefix) {
			return true
		}
	}
	return false
}
