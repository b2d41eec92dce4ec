package main

import (
	"encoding/json"
	"fmt"

	"github.com/spooksystems/spook/crdt"
)

func init() { register("del", "delete keys", runDel) }

const delHelp = `usage: spook del KEY... [--addr HOST:PORT] [--token T]

Deletes the keys, all in one atomic transaction (like Redis DEL). A delete
removes what this node has seen; a write made concurrently on another
replica survives it. Prints the write's token; when none of the keys
exists nothing is written, stdout stays empty and stderr says so.

Example:
  spook del session:1 session:2
  5c1e9f0a2b3d4e6f:19
`

// runDel deletes keys through one POST /v1/txn.
func runDel(args []string) error {
	fs := newFlagSet("del", delHelp)
	cf := addClientFlags(fs)
	keys, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return usageErrorf("want at least one KEY")
	}
	if len(keys) > crdt.MaxTxnKeys {
		return fmt.Errorf("%d keys: one transaction holds at most %d", len(keys), crdt.MaxTxnKeys)
	}
	ops := make([]txnOp, len(keys))
	for i, k := range keys {
		if k == "" {
			return fmt.Errorf("empty key")
		}
		ops[i] = newTxnOp("del", k, nil)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	reply, err := c.txn(ops)
	if err != nil {
		return err
	}
	if reply.Token == "" {
		fmt.Fprintln(stderr, "(no such key; nothing deleted)")
		return nil
	}
	deleted := 0
	for _, r := range reply.Results {
		var existed bool
		if json.Unmarshal(r, &existed) == nil && existed {
			deleted++
		}
	}
	if deleted < len(keys) {
		fmt.Fprintf(stderr, "(%d of %d keys existed)\n", deleted, len(keys))
	}
	printToken(reply.Token)
	return nil
}
