package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spooksystems/spook/audit"
	"github.com/spooksystems/spook/node"
)

const policyHelp = `usage: spook audit policy keygen --out OP.key --keys KEYS
       spook audit policy sign --key OP.key [--cluster NAME] POLICY.txt
       spook audit policy apply SIGNED.txt [--addr HOST:PORT] [--token T]
       spook audit policy show [--addr HOST:PORT]

Write rights (docs/audit.md, "Write rights"): a policy signed by the
operator key says which nodes may write which key prefixes, and which
client users (spookd --users) may, checked by the node that accepts
their writes.

  keygen  creates the operator's signing key OP.key (64 hex digits, mode
          0600; keep it off the cluster) and its public key
          KEYS/operator.pubkey. Give every member the same KEYS directory:
          a member that has operator.pubkey enforces policies.
  sign    reads a draft (rules in any order, '#' comments) and prints the
          signed canonical document for the cluster named by --cluster
          (spookd --cluster, default "spook") or by the draft's cluster
          line; a member of another cluster refuses it:
            spook-policy v2
            version 2
            cluster "prod"
            node n1 "orders/"
            node * "shared/"
            user alice "orders/alice/"
          A draft may start "spook-policy v1" (no cluster line) if
          --cluster is given; the signed document is always v2.
  apply   hands a signed document to a node (POST /v1/audit/policy) after
          checking that the node's cluster is the policy's; it takes
          effect on every member for the writes made after it. Its
          version must be above the newest applied.
  show    prints the newest policy a node holds (GET /v1/audit/policy).
`

func runPolicy(args []string) error {
	if len(args) == 0 {
		return usageErrorf("give keygen, sign, apply or show")
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, policyHelp)
		return flag.ErrHelp
	}
	fs := newFlagSet("audit policy "+args[0], policyHelp)
	out := fs.String("out", "", "keygen: the operator key file to create")
	keys := fs.String("keys", "", "keygen: the audit keys directory")
	key := fs.String("key", "", "sign: the operator key file")
	cluster := fs.String("cluster", "", "sign: the cluster the policy is for (spookd --cluster)")
	cf := addClientFlags(fs)
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "keygen":
		if len(rest) != 0 || *out == "" || *keys == "" {
			return usageErrorf("keygen takes --out OP.key and --keys KEYS")
		}
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, werr := fmt.Fprintf(f, "%x\n", seed)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return err
		}
		pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		if err := os.MkdirAll(*keys, 0o755); err != nil {
			return err
		}
		path := filepath.Join(*keys, node.OperatorKeyFile)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator key %s; public key %s\n", *out, path)
		return nil
	case "sign":
		if len(rest) != 1 || *key == "" {
			return usageErrorf("sign takes POLICY.txt and --key OP.key")
		}
		text, err := os.ReadFile(*key)
		if err != nil {
			return err
		}
		seed, err := hex.DecodeString(strings.TrimSpace(string(text)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return fmt.Errorf("%s: want %d hex-encoded bytes", *key, ed25519.SeedSize)
		}
		draft, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		p, err := audit.ParsePolicy(draft, false)
		if err != nil {
			return err
		}
		switch {
		case *cluster != "" && p.Cluster != "" && *cluster != p.Cluster:
			return fmt.Errorf("%s is for cluster %q, not --cluster %q", rest[0], p.Cluster, *cluster)
		case len(*cluster) > audit.MaxPolicyClusterBytes:
			return usageErrorf("--cluster of %d bytes > %d (audit.MaxPolicyClusterBytes)", len(*cluster), audit.MaxPolicyClusterBytes)
		case *cluster != "":
			p.Cluster = *cluster
		case p.Cluster == "":
			return usageErrorf("sign needs the cluster the policy is for: --cluster NAME (spookd --cluster, default \"spook\") or a cluster line in a spook-policy v2 draft")
		}
		p.Sign(ed25519.NewKeyFromSeed(seed))
		_, err = stdout.Write(p.Canonical())
		return err
	case "apply", "show":
		c, err := cf.client()
		if err != nil {
			return err
		}
		defer c.close()
		ctx, cancel := requestContext()
		defer cancel()
		if args[0] == "show" {
			if len(rest) != 0 {
				return usageErrorf("show takes no arguments")
			}
			resp, err := c.do(ctx, http.MethodGet, "/v1/audit/policy", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(stdout, io.LimitReader(resp.Body, audit.MaxPolicyBytes))
			return err
		}
		if len(rest) != 1 {
			return usageErrorf("apply takes SIGNED.txt")
		}
		doc, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		p, err := audit.ParsePolicy(doc, true)
		if err != nil {
			return err
		}
		if p.Cluster == "" {
			fmt.Fprintf(stderr, "warning: %s is a spook-policy v1 document, which names no cluster: sign it again with --cluster\n", rest[0])
		} else {
			var st struct {
				Cluster string `json:"cluster"`
			}
			if err := c.getJSON(ctx, "/v1/status", &st); err != nil {
				return err
			}
			if st.Cluster != p.Cluster {
				return fmt.Errorf("%s is for cluster %q, the node is of cluster %q: not applied", rest[0], p.Cluster, st.Cluster)
			}
		}
		resp, err := c.do(ctx, http.MethodPost, "/v1/audit/policy", strings.NewReader(string(doc)), "Content-Type", "text/plain")
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Fprintf(stdout, "applied policy version %d\n", p.Version)
		return nil
	}
	return usageErrorf("unknown audit policy command %q: give keygen, sign, apply or show", args[0])
}
