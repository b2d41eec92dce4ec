package main

import (
	"fmt"
	"io"

	"github.com/spooksystems/spook/crdt"
)

func init() { register("set", "write a string value", runSet) }

const setHelp = `usage: spook set KEY VALUE [--addr HOST:PORT] [--token T]

Writes VALUE to KEY as a string (a register; like Redis SET). A VALUE of
"-" reads the value from stdin, bytes as they are. The write is applied on
this node at once and replicated; the command prints its token, which
'spook wait' takes to wait until other members have it. Flags may come
before or after the arguments; put "--" before a KEY or VALUE that starts
with a dash.

Example:
  spook set greeting hello
  5c1e9f0a2b3d4e6f:17
  spook set photo - < photo.jpg
  tok=$(spook set config/mode on) && spook wait "$tok" --members 3
  spook set -- offset -12h
`

// runSet writes one register through POST /v1/txn, which carries any key
// and (base64) any value bytes.
func runSet(args []string) error {
	fs := newFlagSet("set", setHelp)
	cf := addClientFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usageErrorf("want KEY and VALUE, got %d arguments", len(rest))
	}
	key, value := rest[0], rest[1]
	if key == "" {
		return fmt.Errorf("empty key")
	}
	if value == "-" {
		// One byte over the limit tells a too-large value from one at it.
		b, err := io.ReadAll(io.LimitReader(stdin, crdt.MaxValueBytes+1))
		if err != nil {
			return fmt.Errorf("reading the value from stdin: %w", err)
		}
		if len(b) > crdt.MaxValueBytes {
			return fmt.Errorf("value on stdin is larger than %d bytes", crdt.MaxValueBytes)
		}
		value = string(b)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	defer c.close()
	reply, err := c.txn([]txnOp{newTxnOp("set", key, &value)})
	if err != nil {
		return err
	}
	printToken(reply.Token)
	return nil
}
