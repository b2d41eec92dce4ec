package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spooksystems/spook/node"
)

func init() {
	register("audit", "audit mode: make keys, verify a node's signed history and checkpoints", runAudit)
}

const auditHelp = `usage: spook audit keygen NAME --data DIR --keys KEYS
       spook audit verify --data DIR --keys KEYS [--archive ARCHIVE]
       spook audit verify [--addr HOST:PORT] [--token T]
       spook audit proof KEY [--json] [--addr HOST:PORT]
       spook audit proof --from A --to B [--json] [--addr HOST:PORT]
       spook audit replay --to N [--json] [--addr HOST:PORT]
       spook audit policy keygen|sign|apply|show ...   (spook audit policy --help)

Audit mode (spookd --audit-keys KEYS, docs/audit.md): every transaction
is chained to its origin's previous one, and the origin signs its chain
head with its key (a signature covers every transaction before it),
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
               and exits 1 on failure, then the records it read,
                 range records=1..L
               Under retention (spookd --audit-retention) it reads the
               records after the retention base and says so:
                 range records=F..L base=1..R checkpoints-from-base=1..K
               --archive ARCHIVE (with --data) reads the archived
               segments too and checks the history from record 1.
  proof KEY    the transaction that wrote KEY's current string value,
               the first checkpoint covering it (its signed note) and an
               RFC 6962 inclusion proof: golang.org/x/mod/sumdb's note.Open
               and tlog.CheckRecord verify them (docs/audit.md). For any
               other type (counter, set, hash...) every transaction whose
               operations on KEY made the value, each with its inclusion
               proof in the newest checkpoint, and what that proves.
  proof --from A --to B
               a consistency proof between checkpoints A and B
               (tlog.CheckTree).
  policy       write rights: an operator-signed policy of which nodes may
               write which key prefixes (spook audit policy --help).
  replay --to N
               rebuilds the state at checkpoint N from the node's
               history and prints its state hash: equal on every member.
               GET /v1/kv/KEY?at=N reads a key in that state.

Example:
  spook audit keygen n1 --data /var/lib/spook --keys /etc/spook/audit
  spook audit verify --data /var/lib/spook --keys /etc/spook/audit
  verified transactions=10234 checkpoints=57 ok=true
`

// errVerifyFailed is what verify returns after printing a failure.
var errVerifyFailed = errors.New("verification failed")

func runAudit(args []string) error {
	if len(args) == 0 {
		return usageErrorf("give keygen NAME, verify, proof, replay or policy")
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, auditHelp)
		return flag.ErrHelp
	}
	if args[0] == "policy" {
		return runPolicy(args[1:])
	}
	fs := newFlagSet("audit "+args[0], auditHelp)
	data := fs.String("data", "", "a node's data directory (keygen; verify offline)")
	keys := fs.String("keys", "", "the directory of every member's NAME.pub")
	archive := fs.String("archive", "", "verify --data: the node's retention archive (spookd --audit-retention archive=DIR): check from record 1")
	from := fs.Uint64("from", 0, "proof: the older checkpoint of a consistency proof")
	to := fs.Uint64("to", 0, "proof: the newer checkpoint; replay: the checkpoint to rebuild")
	asJSON := fs.Bool("json", false, "proof, replay: print the node's JSON document as is")
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
		if *archive != "" && *data == "" {
			return usageErrorf("verify --archive needs --data DIR (the node's data directory)")
		}
		if *data != "" {
			if *keys == "" {
				return usageErrorf("verify --data needs --keys KEYS")
			}
			r, err := node.VerifyDataDirArchive(*data, *keys, *archive)
			rep = node.NewAuditReportRange(r, err)
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
		switch {
		case rep.BaseRecord > 0:
			fmt.Fprintf(stdout, "range records=%d..%d base=1..%d checkpoints-from-base=1..%d\n",
				rep.FromRecord, rep.LastRecord, rep.BaseRecord, rep.BaseCheckpoint)
		case rep.LastRecord > 0:
			fmt.Fprintf(stdout, "range records=%d..%d\n", rep.FromRecord, rep.LastRecord)
		}
		if !rep.OK {
			return errVerifyFailed
		}
		return nil
	case "proof", "replay":
		path, err := auditPath(args[0], rest, *from, *to)
		if err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		defer c.close()
		ctx, cancel := requestContext()
		defer cancel()
		if *asJSON {
			return copyJSON(ctx, c, path)
		}
		var doc auditDoc
		if err := c.getJSON(ctx, path, &doc); err != nil {
			return err
		}
		doc.print()
		return nil
	}
	return usageErrorf("unknown audit command %q: give keygen, verify, proof or replay", args[0])
}

// auditPath is the node's endpoint for spook audit proof or replay.
func auditPath(cmd string, rest []string, from, to uint64) (string, error) {
	switch {
	case cmd == "replay" && len(rest) == 0 && to > 0:
		return fmt.Sprintf("/v1/audit/replay?to=%d", to), nil
	case cmd == "replay":
		return "", usageErrorf("replay takes --to N (a checkpoint index)")
	case len(rest) == 1 && from == 0 && to == 0:
		return "/v1/audit/proof?key=" + url.QueryEscape(rest[0]), nil
	case len(rest) == 0 && from > 0 && to >= from:
		return fmt.Sprintf("/v1/audit/proof?from=%d&to=%d", from, to), nil
	}
	return "", usageErrorf("proof takes KEY, or --from A --to B with 1 ≤ A ≤ B")
}

// auditDoc is the union of the proof and replay documents
// (node.InclusionProof, node.ConsistencyProof, node.ReplayReport).
type auditDoc struct {
	Key        string   `json:"key"`
	Txn        string   `json:"txn"`
	LeafIndex  int64    `json:"leaf_index"`
	Leaf       []byte   `json:"leaf"`
	Checkpoint uint64   `json:"checkpoint"`
	Note       string   `json:"note"`
	Proof      []string `json:"proof"`
	From       uint64   `json:"from"`
	To         uint64   `json:"to"`
	FromNote   string   `json:"from_note"`
	ToNote     string   `json:"to_note"`
	Cut        string   `json:"cut"`
	Keys       int      `json:"keys"`
	StateHash  string   `json:"state_hash"`
	// A key-history proof (node.KeyHistoryProof): non-string values.
	Type      string   `json:"type"`
	Statement string   `json:"statement"`
	Complete  bool     `json:"complete"`
	Pending   []string `json:"pending"`
	Txns      []struct {
		Txn       string   `json:"txn"`
		LeafIndex int64    `json:"leaf_index"`
		Leaf      []byte   `json:"leaf"`
		Proof     []string `json:"proof"`
	} `json:"txns"`
}

func (d *auditDoc) print() {
	switch {
	case d.Statement != "":
		fmt.Fprintf(stdout, "key %s type %s checkpoint %d complete=%t\n%s\n%s", d.Key, d.Type, d.Checkpoint, d.Complete, d.Statement, d.Note)
		for _, t := range d.Txns {
			fmt.Fprintf(stdout, "txn %s leaf %d %s proof %d hashes\n", t.Txn, t.LeafIndex, base64.StdEncoding.EncodeToString(t.Leaf), len(t.Proof))
			for _, h := range t.Proof {
				fmt.Fprintln(stdout, h)
			}
		}
		for _, p := range d.Pending {
			fmt.Fprintf(stdout, "pending %s (no checkpoint yet)\n", p)
		}
		return
	case d.StateHash != "":
		fmt.Fprintf(stdout, "checkpoint=%d keys=%d state_hash=%s\ncut %s\n", d.Checkpoint, d.Keys, d.StateHash, d.Cut)
		return
	case d.Key != "":
		fmt.Fprintf(stdout, "key %s\ntxn %s\nleaf %d %s\ncheckpoint %d\n%s", d.Key, d.Txn, d.LeafIndex,
			base64.StdEncoding.EncodeToString(d.Leaf), d.Checkpoint, d.Note)
	default:
		fmt.Fprintf(stdout, "from %d\n%sto %d\n%s", d.From, d.FromNote, d.To, d.ToNote)
	}
	fmt.Fprintf(stdout, "proof %d hashes\n", len(d.Proof))
	for _, h := range d.Proof {
		fmt.Fprintln(stdout, h)
	}
}

// sepReason joins a failure's reason to "at record N": " (what): why"
// follows directly, a bare reason after a colon.
func sepReason(reason string) string {
	if strings.HasPrefix(reason, " (") {
		return reason
	}
	return ": " + reason
}
