package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/driver"
	"github.com/spooksystems/spook/replica"
)

// OperatorKeyFile is the operator's public key in the audit keys
// directory (docs/audit.md, "Write rights"): 64 hex digits, one line. Its
// suffix is not AuditPublicSuffix, so it is never taken for a node's key.
// When the file is present every member enforces write-rights policies
// signed by it (replica.AuditConfig.Operator); it must be the same on
// every member.
const OperatorKeyFile = "operator.pubkey"

// LoadOperatorKey reads keysDir's OperatorKeyFile; nil, nil if absent.
func LoadOperatorKey(keysDir string) (ed25519.PublicKey, error) {
	pub, err := readPublicKey(filepath.Join(keysDir, OperatorKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return pub, err
}

// ApplyPolicy writes a signed write-rights policy document (audit.Policy
// in canonical form) as replicated state through this node, and waits
// until it is durable here. It fails (nothing written) if write rights
// are off on this node, the signature does not verify against the
// operator key, or the version is not above the newest this node holds.
func (n *Node) ApplyPolicy(ctx context.Context, doc []byte) (replica.Token, error) {
	res, _ := n.submit(ctx, &request{action: func(c *driver.Core, t driver.Ticket) (replica.Token, error) {
		return c.ProposePolicy(t, doc)
	}})
	return res.tok, res.err
}

// Policy returns the newest policy this node holds (nil if none).
func (n *Node) Policy() *audit.Policy {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.r.Policy()
}

// servePolicy serves GET (the newest policy, as signed) and POST (apply
// the signed policy in the body) /v1/audit/policy.
func (n *Node) servePolicy(w http.ResponseWriter, r *http.Request) {
	if n.cfg.AuditKeysDir == "" {
		writePolicyError(w, http.StatusNotFound, "audit_off", errAuditOff)
		return
	}
	if r.Method == http.MethodGet {
		p := n.Policy()
		if p == nil {
			writePolicyError(w, http.StatusNotFound, "no_policy", errors.New("no write-rights policy applied"))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(p.Canonical())
		return
	}
	doc, err := io.ReadAll(io.LimitReader(r.Body, audit.MaxPolicyBytes+1))
	if err != nil {
		writePolicyError(w, http.StatusBadRequest, "bad_request", err)
		return
	}
	tok, err := n.ApplyPolicy(r.Context(), doc)
	if err != nil {
		status, code := http.StatusServiceUnavailable, "not_applied"
		if errors.Is(err, replica.ErrPolicy) {
			status, code = http.StatusBadRequest, "policy_refused"
		}
		writePolicyError(w, status, code, err)
		return
	}
	writeAuditJSON(w, http.StatusOK, map[string]string{"token": fmt.Sprint(tok)})
}

// writePolicyError writes the API's JSON error shape (docs/api.md).
func writePolicyError(w http.ResponseWriter, status int, code string, err error) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, err.Error()
	writeAuditJSON(w, status, body)
}
