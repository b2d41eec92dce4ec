package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spooksystems/spook/node"
)

func init() {
	register("audit", "audit mode: make keys, verify a node's signed history and checkpoints", runAudit)
}

const auditHelp = `usage: spook audit keygen NAME --data DIR --keys KEYS
       spook audit verify --data DIR --keys KEYS
       spook audit verify [--addr HOST:PORT] [--token T]

Audit mode (spookd --audit-keys KEYS, docs/audit.md): every transaction
is signed by its origin's key and chained to the origin's previous one,
and the members sign RFC 6962 tree heads (checkpoints) over the
collapsed transactions.

  keygen NAME  creates node NAME's signing key DIR/audit.key (if absent)
               and publishes its public key as KEYS/NAME.pub. Run it for
               every member and give every member the same KEYS
               directory before starting them.
  verify       checks a node's history: every transaction's signature
               and its origin's hash chain, every checkpoint's signature,
               its tree size and root recomputed from the transactions,
               and its consistency with the previous checkpoint.
               --data reads a stopped node's data directory (offline);
               without --data it asks a running node (GET
               /v1/audit/verify). It prints
                 verified transactions=N checkpoints=C ok=true
               or the first failure and its position (log record index),
               and exits 1 on failure.

Example:
  spook audit keygen n1 --data /var/lib/spook --keys /etc/spook/audit
  spook audit verify --data /var/lib/spook --keys /etc/spook/audit
  verified transactions=10234 checkpoints=57 ok=true
`

// errVerifyFailed is what verify returns after printing a failure.
var errVerifyFailed = errors.New("verification failed")

func runAudit(args []string) error {
	if len(args) == 0 {
		return usageErrorf("give keygen NAME or verify")
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, auditHelp)
		return flag.ErrHelp
	}
	fs := newFlagSet("audit "+args[0], auditHelp)
	data := fs.String("data", "", "a node's data directory (keygen; verify offline)")
	keys := fs.String("keys", "", "the directory of every member's NAME.pub")
	cf := addClientFlags(fs)
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "keygen":
		if len(rest) != 1 || *data == "" || *keys == "" {
			return usageErrorf("keygen takes NAME, --data DIR and --keys KEYS")
		}
		k, err := node.AuditKey(*data)
		if err != nil {
			return err
		}
		if err := node.PublishAuditKey(*keys, rest[0], k.Public().(ed25519.PublicKey)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %s; public key %s\n", filepath.Join(*data, node.AuditKeyFile),
			filepath.Join(*keys, rest[0]+node.AuditPublicSuffix))
		return nil
	case "verify":
		if len(rest) != 0 {
			return usageErrorf("verify takes no arguments, got %q", rest)
		}
		var rep node.AuditReport
		if *data != "" {
			if *keys == "" {
				return usageErrorf("verify --data needs --keys KEYS")
			}
			r, err := node.VerifyDataDir(*data, *keys)
			rep = node.NewAuditReport(r, err)
			if err != nil && rep.Position == 0 {
				return err // not a failure of the history: the directory could not be read
			}
		} else {
			c, err := cf.client()
			if err != nil {
				return err
			}
			defer c.close()
			ctx, cancel := requestContext()
			defer cancel()
			if err := c.getJSON(ctx, "/v1/audit/verify", &rep); err != nil {
				return err
			}
		}
		if !rep.OK {
			fmt.Fprintf(stdout, "verify failed at record %d%s\n", rep.Position, sepReason(rep.Error))
		}
		fmt.Fprintf(stdout, "verified transactions=%d checkpoints=%d ok=%t\n", rep.Transactions, rep.Checkpoints, rep.OK)
		if !rep.OK {
			return errVerifyFailed
		}
		return nil
	}
	return usageErrorf("unknown audit command %q: give keygen NAME or verify", args[0])
}

// sepReason joins a failure's reason to "at record N": " (what): why"
// follows directly, a bare reason after a colon.
func sepReason(reason string) string {
	if strings.HasPrefix(reason, " (") {
		return reason
	}
	return ": " + reason
}
