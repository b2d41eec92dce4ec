package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

func init() {
	register("bundle", "carry writes between nodes as files (vector, export, import)", runBundle)
}

const bundleHelp = `usage: spook bundle vector|export|import [flags]

Moves writes between nodes that are not linked, as files: a laptop, a ship,
an edge site. On the isolated node, save what it has applied; on a node
that has the writes, export what that vector lacks; carry the file; import
it on the isolated node. Importing a bundle twice, or out of order with
others, is harmless: transactions already applied are skipped, and ones
whose causal past is missing wait for it.

A node keeps only a recent log of transactions. When it no longer holds
everything the vector lacks (a fresh node, one far behind, no --since on a
node that has restarted or compacted its log), export writes a state
bundle instead: the node's whole state, which import joins into the
receiver's (nothing the receiver holds is lost; importing twice changes
nothing). --state asks for one outright.

In audit mode (spookd --audit-keys) each transaction travels with its seal
or link, and import checks it as it would a peer's: a transaction whose
signature or chain does not verify, or that writes outside its origin's
rights, is refused, and import prints how many were.

  spook bundle vector [-o FILE]                 what this node has applied (JSON)
  spook bundle export [--since FILE] [-o FILE]  the writes the vector in FILE lacks
                                                (no --since: everything)
  spook bundle import FILE                      apply a bundle of either kind

Example:
  spook bundle vector --addr far:7001 -o far.vector
  spook bundle export --addr near:7001 --since far.vector -o today.spkb
  spook bundle import --addr far:7001 today.spkb
  imported 1204 transactions (1204 applied now)
`

func runBundle(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, bundleHelp)
		if len(args) == 0 {
			return usageErrorf("give vector, export or import")
		}
		return flag.ErrHelp
	}
	fs := newFlagSet("bundle "+args[0], bundleHelp)
	cf := addClientFlags(fs)
	out := fs.String("o", "", "write to this file instead of standard output")
	since := fs.String("since", "", "export: a vector file from 'spook bundle vector' (empty: everything)")
	state := fs.Bool("state", false, "export: the whole state, even when the transactions since the vector are retained")
	rest, err := parseArgs(fs, args[1:])
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
	switch args[0] {
	case "vector":
		var reply struct {
			Vector map[string]uint64 `json:"vector"`
		}
		if err := c.getJSON(ctx, "/v1/bundle/vector", &reply); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(map[string]any{"since": reply.Vector}, "", "  ")
		return writeOut(*out, append(b, '\n'))
	case "export":
		var req struct {
			Since map[string]uint64 `json:"since"`
			State bool              `json:"state"`
		}
		if *since != "" {
			raw, err := os.ReadFile(*since)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(raw, &req); err != nil {
				return fmt.Errorf("%s is not a vector file from 'spook bundle vector': %v", *since, err)
			}
		}
		req.State = *state
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		resp, err := c.do(ctx, http.MethodPost, "/v1/bundle/export", bytes.NewReader(body), "Content-Type", "application/json")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		file, err := io.ReadAll(resp.Body)
		if err != nil {
			return c.readError(ctx, err)
		}
		if resp.Header.Get("Spook-Bundle-Kind") == "state" {
			fmt.Fprintf(stderr, "exported a state bundle: the whole state, %s keys (%d bytes)\n", resp.Header.Get("Spook-Bundle-Keys"), len(file))
		} else {
			fmt.Fprintf(stderr, "exported %s transactions (%d bytes)\n", resp.Header.Get("Spook-Bundle-Txns"), len(file))
		}
		return writeOut(*out, file)
	case "import":
		if len(rest) != 1 {
			return fmt.Errorf("import takes one bundle FILE, got %d arguments", len(rest))
		}
		file, err := os.ReadFile(rest[0])
		if err != nil {
			return err
		}
		resp, err := c.do(ctx, http.MethodPost, "/v1/bundle/import", bytes.NewReader(file), "Content-Type", "application/octet-stream")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var reply struct {
			Kind                                  string
			Txns, Applied, Refused, Keys, Changed int
		}
		if err := decodeReply(resp.Body, &reply); err != nil {
			return err
		}
		if reply.Kind == "state" {
			fmt.Fprintf(stdout, "imported a state bundle of %d keys (%d changed here)\n", reply.Keys, reply.Changed)
		} else {
			fmt.Fprintf(stdout, "imported %d transactions (%d applied now)\n", reply.Txns, reply.Applied)
			if reply.Refused > 0 {
				fmt.Fprintf(stdout, "%d refused by the audit or write-rights checks (the node's log names each)\n", reply.Refused)
			}
		}
		return nil
	}
	return usageErrorf("unknown bundle command %q: give vector, export or import", args[0])
}

// writeOut writes b to the named file (0600), or to standard output.
func writeOut(name string, b []byte) error {
	if name == "" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(name, b, 0o600)
}
